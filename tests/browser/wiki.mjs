// Tidings inside a real MediaWiki, in real Chromium. A reader opens an article that
// embeds `<tidings tag="election" />`; an editor signs in to the wiki, opens
// Special:Tidings (which signs her in to Tidings without a password, inside the frame)
// and posts; the reader sees the notice appear live. A new wiki user (not
// auto-confirmed) gets no composer. Then the story asks its caller (on stdout) to have
// a wiki sysop suspend the editor, and waits for her notice to vanish from the reader's
// article, live. No JavaScript error in Tidings' frames; screenshots go to SHOTS.
//
//   node wiki.mjs <wiki url> <tidings url> <password of Editor Eve and Newbie Nia>
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { createServer } from "node:http";

const [wiki, tidings, password] = process.argv.slice(2);
const shots = process.env.SHOTS || "shots";
mkdirSync(shots, { recursive: true });
const problems = [];
const say = (line) => console.log(line);
function check(cond, what) {
  if (!cond) throw new Error("failed: " + what);
}
function watch(page, name) {
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("console", (m) => {
    // Only Tidings' frames are ours to answer for; the wiki's own scripts are not.
    if (m.type() === "error" && (m.location().url || "").startsWith(tidings)) {
      problems.push(`${name}: console error: ${m.text()}`);
    }
  });
}

async function signInToWiki(ctx, name) {
  const page = await ctx.newPage();
  watch(page, name);
  await page.goto(`${wiki}/index.php?title=Special:UserLogin`);
  await page.fill("#wpName1", name);
  await page.fill("#wpPassword1", password);
  await Promise.all([page.waitForNavigation(), page.click("#wpLoginAttempt")]);
  check((await page.content()).includes(name), `${name} is signed in to the wiki`);
  return page;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
try {
  // A reader of the article, anonymous, before anything is posted.
  const readerCtx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const reader = await readerCtx.newPage();
  watch(reader, "reader");
  await reader.goto(`${wiki}/index.php?title=Election_night`);
  const embed = reader.frameLocator("iframe.tidings-embed");
  await embed.locator(".live[data-state=live]").waitFor({ state: "attached", timeout: 15000 });
  say("reader-ready");

  // The editor: wiki sign-in, then Special:Tidings, signed in to Tidings in the frame.
  const eveCtx = await browser.newContext({ viewport: { width: 1200, height: 1000 } });
  const eve = await signInToWiki(eveCtx, "Editor Eve");
  await eve.goto(`${wiki}/index.php?title=Special:Tidings`);
  const feed = eve.frameLocator("#tidings-feed");
  await feed.locator("form.composer textarea").waitFor({ timeout: 15000 });
  check((await feed.locator(".who").textContent()).includes("@Editor_Eve"), "signed in as @Editor_Eve");
  await feed.locator("form.composer textarea").fill("Polls close at eight #election");
  await feed.locator("form.composer button[type=submit]").click();
  await feed.locator("article.notice", { hasText: "Polls close at eight" }).first().waitFor({ timeout: 15000 });
  await eve.screenshot({ path: `${shots}/wiki-special-tidings.png`, fullPage: true });

  // The reader sees it, live.
  const seen = embed.locator("article.notice", { hasText: "Polls close at eight" });
  await seen.waitFor({ timeout: 10000 });
  const id = await seen.getAttribute("data-id");
  await reader.screenshot({ path: `${shots}/wiki-article-embed.png`, fullPage: true });
  say(`seen ${id}`);

  // A new wiki user: the feed, no composer, and why.
  const niaCtx = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const nia = await signInToWiki(niaCtx, "Newbie Nia");
  await nia.goto(`${wiki}/index.php?title=Special:Tidings`);
  const niaFeed = nia.frameLocator("#tidings-feed");
  await niaFeed.locator(".barred").waitFor({ timeout: 15000 });
  check((await niaFeed.locator("form.composer").count()) === 0, "no composer for Newbie Nia");
  check((await niaFeed.locator(".barred").textContent()).includes("auto-confirmed"), "she is told why");
  check((await niaFeed.locator("article.notice", { hasText: "Polls close at eight" }).count()) === 1, "she reads the feed");
  await nia.screenshot({ path: `${shots}/wiki-special-tidings-new-user.png`, fullPage: true });
  say("nia-barred");

  // A moderation app (the Mastodon OAuth flow, with a real redirect URI): the wiki's
  // sysop, signed in nowhere yet, is sent to the wiki to sign in, comes back to the
  // app's consent page, authorizes, and the app receives its code.
  const codes = [];
  const app = createServer((req, res) => {
    // The browser asks for /favicon.ico too: only the callback counts.
    const u = new URL(req.url, "http://x");
    if (u.pathname === "/callback") codes.push(u.searchParams.get("code"));
    res.end("ok");
  });
  await new Promise((r) => app.listen(0, "127.0.0.1", r));
  const callback = `http://127.0.0.1:${app.address().port}/callback`;
  const reg = await (await fetch(`${tidings}/api/v1/apps`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ client_name: "Night shift", redirect_uris: callback, scopes: "read admin:read admin:write" }),
  })).json();
  const samCtx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const sam = await samCtx.newPage();
  watch(sam, "Sysop Sam");
  const q = new URLSearchParams({ response_type: "code", client_id: reg.client_id, redirect_uri: callback,
                                  scope: "read admin:read admin:write", state: "s1" });
  await sam.goto(`${tidings}/oauth/authorize?${q}`);
  await sam.click("#wiki-sign-in");
  await sam.waitForURL(/Special:UserLogin|title=Special%3AUserLogin/);
  await sam.fill("#wpName1", "Sysop Sam");
  await sam.fill("#wpPassword1", password);
  await Promise.all([sam.waitForURL(`${tidings}/oauth/authorize?**`), sam.click("#wpLoginAttempt")]);
  check((await sam.content()).includes("@Sysop_Sam"), "back on the consent page as @Sysop_Sam");
  await Promise.all([sam.waitForURL(`${callback}?**`), sam.click("#authorize")]);
  check(codes.length === 1 && codes[0], "the app received a code");
  const token = await (await fetch(`${tidings}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: codes[0], client_id: reg.client_id,
                                client_secret: reg.client_secret, redirect_uri: callback }),
  })).json();
  check(token.access_token, "the code buys a token");
  app.close();

  // With it the sysop suspends the editor (the caller sends the request); her notice
  // leaves the reader's article without a reload.
  say(`suspend-now ${token.access_token}`);
  check((await nextLine()) === "suspended", "the caller suspended her");
  await seen.waitFor({ state: "detached", timeout: 15000 });
  await reader.screenshot({ path: `${shots}/wiki-article-after-suspension.png`, fullPage: true });
  say("vanished");
  check(problems.length === 0, problems.join("\n"));
  say("wiki story: ok");
} finally {
  lines.close();
  await browser.close();
}
