// A reader keeps a tag page open while the server is stopped (SIGTERM: its WebSockets
// close with 1012) and started again. Notices posted before, while it is back, and after:
// each appears exactly once, newest first.
//
//   node restart.mjs <tidings binary> <database url> <port>
import { chromium } from "playwright-core";
import { spawn, execFileSync } from "node:child_process";

const [bin, databaseUrl, port] = process.argv.slice(2);
const base = `http://127.0.0.1:${port}`;
const env = { ...process.env, DATABASE_URL: databaseUrl, RUST_LOG: "warn" };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, what) {
  if (!cond) throw new Error("failed: " + what);
}

async function start() {
  const server = spawn(bin, ["--listen", `127.0.0.1:${port}`], { env, stdio: "inherit" });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(base + "/health")).ok) return server;
    } catch {}
    await sleep(100);
  }
  throw new Error("the server did not start");
}

async function stop(server) {
  const gone = new Promise((r) => server.on("exit", r));
  server.kill("SIGTERM");
  await gone;
}

execFileSync(bin, ["admin", "create-user", "reporter", "--password", "a long passphrase here"], { env });
let server = await start();
const app = await (await fetch(base + "/api/v1/apps", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ client_name: "restart story", redirect_uris: "urn:ietf:wg:oauth:2.0:oob", scopes: "write" }),
})).json();
const grant = await (await fetch(base + "/oauth/token", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ grant_type: "password", client_id: app.client_id, client_secret: app.client_secret,
                         username: "reporter", password: "a long passphrase here", scope: "write" }),
})).json();
const post = async (text) => {
  const res = await fetch(base + "/api/v1/statuses", {
    method: "POST",
    headers: { authorization: `Bearer ${grant.access_token}`, "content-type": "application/json" },
    body: JSON.stringify({ status: text }),
  });
  check(res.status === 200, `post ${text}: ${res.status}`);
  return (await res.json()).id;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  await page.goto(base + "/tags/election", { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelector(".live")?.dataset.state === "live");
  const ids = [await post("Before the restart #election")];
  await page.waitForFunction((id) => document.querySelector(`#n-${id}`), ids[0]);

  await stop(server);
  await page.waitForFunction(() => document.querySelector(".live")?.dataset.state === "reconnecting");
  await sleep(1500);
  server = await start();
  ids.push(await post("The server is back #election"));
  ids.push(await post("And goes on #election"));
  await page.waitForFunction((want) => want.every((id) => document.querySelector(`#n-${id}`)), ids, { timeout: 60000 });
  ids.push(await post("Later still #election"));
  await page.waitForFunction((id) => document.querySelector(`#n-${id}`), ids[3], { timeout: 30000 });
  const shown = await page.$$eval("#feed article", (as) => as.map((a) => a.dataset.id));
  for (const id of ids) check(shown.filter((x) => x === id).length === 1, `notice ${id} once in ${shown}`);
  check(JSON.stringify(shown.filter((x) => ids.includes(x))) === JSON.stringify([...ids].reverse()), "newest first: " + shown);
} finally {
  await browser.close();
  await stop(server).catch(() => {});
}
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("restart story: ok");
