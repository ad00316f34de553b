// A reader's tag page in real Chromium while a reporter posts through the API: the
// notice appears, an edit replaces it in place marked as edited, a deletion removes it.
// With WebSocket refused the page falls back to SSE and still gets every notice once.
// The embed shows a live notice inside an iframe of another origin. No JavaScript
// error and no CSP violation on any page; screenshots at phone and desktop width go to
// the directory named by SHOTS.
//
//   node live.mjs <base url> <reporter token>
import { apiOf, check, launch, problems, watch } from "./story.mjs";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";

const [base, token] = process.argv.slice(2);
const shots = process.env.SHOTS || "shots";
mkdirSync(shots, { recursive: true });

// A 1×1 PNG.
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";


const api = apiOf(base, token);


const browser = await launch();
try {
  // 1. Live over WebSocket: appear, edit in place, delete.
  const ctx = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await ctx.newPage();
  watch(page, "tag page");
  await page.goto(base + "/tags/election", { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelector(".live")?.dataset.state === "live");
  const s = await api("POST", "/api/v1/statuses", { status: "First results are in #election" });
  const notice = page.locator(`#n-${s.id}`);
  await notice.waitFor({ timeout: 5000 });
  check((await notice.textContent()).includes("First results are in"), "the notice appears");
  await api("PUT", `/api/v1/statuses/${s.id}`, { status: "First results are in: 12 of 40 districts #election" });
  await page.waitForFunction((id) => document.querySelector(`#n-${id}`)?.textContent.includes("12 of 40"), s.id);
  check(await page.locator(`#n-${s.id} .edit-mark`).count() === 1, "the edit is marked");
  check(await page.locator(`#n-${s.id}`).count() === 1, "an edit replaces, it does not add");
  await page.screenshot({ path: `${shots}/tag-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: `${shots}/tag-phone.png`, fullPage: true });
  await api("DELETE", `/api/v1/statuses/${s.id}`);
  await page.waitForFunction((id) => !document.querySelector(`#n-${id}`), s.id);
  // A reader who has scrolled down is not moved: a button counts what is new, and
  // brings it in when pressed.
  for (let i = 0; i < 12; i++) await api("POST", "/api/v1/statuses", { status: `Filler ${i} with enough words to take some room on a phone #election` });
  await page.waitForFunction(() => document.querySelectorAll("#feed article").length >= 12);
  await page.evaluate(() => window.scrollTo(0, 600));
  await page.waitForFunction(() => window.scrollY >= 100);
  const firstBefore = await page.$eval("#feed article", (a) => a.id);
  const late = await api("POST", "/api/v1/statuses", { status: "Late news while scrolled #election" });
  await page.waitForFunction(() => document.querySelector(".live button.new:not(.hidden)")?.textContent === "1 new notice");
  check(await page.$eval("#feed article", (a) => a.id) === firstBefore, "the feed did not shift under the reader");
  check(await page.locator(`#n-${late.id}`).count() === 0, "held back while scrolled");
  check((await page.textContent(".live .status")).includes("New notice"), "announced politely");
  await page.click(".live button.new");
  await page.locator(`#n-${late.id}`).waitFor({ timeout: 2000 });
  check(await page.$eval("#feed article", (a) => a.id) === `n-${late.id}`, "the new notice is on top");
  await ctx.close();

  // 2. WebSocket refused (a proxy that blocks it): SSE, every notice once, in order.
  const ctx2 = await browser.newContext();
  await ctx2.routeWebSocket(/\/api\/v1\/streaming/, (ws) => ws.close({ code: 1011, reason: "blocked by a proxy" }));
  const page2 = await ctx2.newPage();
  watch(page2, "tag page without WebSocket");
  await page2.goto(base + "/tags/election", { waitUntil: "load" });
  const posted = [];
  for (let i = 1; i <= 3; i++) {
    posted.push((await api("POST", "/api/v1/statuses", { status: `Update ${i} #election` })).id);
  }
  await page2.waitForFunction((ids) => ids.every((id) => document.querySelector(`#n-${id}`)), posted, { timeout: 30000 });
  const shown = await page2.$$eval("#feed article", (as) => as.map((a) => a.dataset.id));
  for (const id of posted) check(shown.filter((x) => x === id).length === 1, `notice ${id} shown once`);
  const order = shown.filter((x) => posted.includes(x));
  check(JSON.stringify(order) === JSON.stringify([...posted].reverse()), "newest first: " + order);
  check(await page2.evaluate(() => window.tidingsLive.transport) === "sse", "it fell back to SSE");
  await ctx2.close();

  // 2b. WebSocket and SSE both refused: the page polls the REST timeline.
  const ctx2b = await browser.newContext();
  await ctx2b.routeWebSocket(/\/api\/v1\/streaming/, (ws) => ws.close({ code: 1011, reason: "blocked by a proxy" }));
  await ctx2b.route(/\/api\/v1\/streaming\//, (route) => route.abort());
  const page2b = await ctx2b.newPage();
  watch(page2b, "tag page without streams", ["net::ERR_FAILED"]);
  await page2b.goto(base + "/tags/election", { waitUntil: "load" });
  await page2b.waitForFunction(() => window.tidingsLive.transport === "polling", null, { timeout: 40000 });
  const polled = [];
  for (let i = 1; i <= 2; i++) {
    polled.push((await api("POST", "/api/v1/statuses", { status: `Polled ${i} #election` })).id);
  }
  await page2b.waitForFunction((ids) => ids.every((id) => document.querySelector(`#n-${id}`)), polled, { timeout: 20000 });
  const shownB = await page2b.$$eval("#feed article", (as) => as.map((a) => a.dataset.id));
  for (const id of polled) check(shownB.filter((x) => x === id).length === 1, `polled notice ${id} shown once`);
  await ctx2b.close();

  // 3. The embed, put by its one-line script into a page of another origin (served from
  // here, on another port: a news site or a wiki page).
  const site = createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>A news site</title><h1>Our coverage</h1>
             <div style="width: 400px"><script src="${base}/embed.js" data-tag="election" async></script></div>`);
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  const otherBase = `http://127.0.0.1:${site.address().port}`;
  const ctx3 = await browser.newContext();
  const host = await ctx3.newPage();
  watch(host, "embedding page");
  await host.goto(otherBase + "/", { waitUntil: "load" });
  const frame = host.frameLocator("iframe");
  await frame.locator(".live[data-state=live]").waitFor({ state: "attached", timeout: 10000 });
  const e = await api("POST", "/api/v1/statuses", { status: "Seen on a wiki #election" });
  await frame.locator(`#n-${e.id}`).waitFor({ timeout: 5000 });
  await host.screenshot({ path: `${shots}/embed.png` });
  await ctx3.close();

  // 4. Sign in and post from the page: the counter counts as the server does (a link is
  // 23 characters), a refused post shows the server's reason by the text.
  const ctx5 = await browser.newContext();
  const p5 = await ctx5.newPage();
  watch(p5, "composer", ["status of 422"]);
  await p5.goto(base + "/auth/sign_in", { waitUntil: "load" });
  await p5.fill("#username", "reporter");
  await p5.fill("#password", "correct horse battery");
  await Promise.all([p5.waitForNavigation(), p5.click("form.signin button[type=submit]")]);
  const max = Number(await p5.getAttribute("form.composer", "data-max"));
  await p5.fill("#status", "Results: https://example.org/a/very/long/path/that/is/not/counted/in/full #election");
  const counted = "Results: ".length + 23 + 1 + "#election".length;
  check(await p5.textContent("form.composer .count") === String(max - counted), "the counter counts a link as 23");
  await Promise.all([p5.waitForNavigation(), p5.click("form.composer button[type=submit]")]);
  check((await p5.textContent("#feed")).includes("Results:"), "the post is on the page");
  await p5.fill("#status", "x".repeat(max + 1));
  check(await p5.isDisabled("form.composer button[type=submit]"), "too long: the button waits");
  // Past the counter (as a script or an old browser would), the server says why.
  await p5.$eval("form.composer button[type=submit]", (b) => { b.disabled = false; });
  await Promise.all([p5.waitForNavigation(), p5.click("form.composer button[type=submit]")]);
  check(await p5.locator("form.composer .error").count() === 1, "the server's error is shown");
  await p5.screenshot({ path: `${shots}/composer-error.png`, fullPage: true });
  // A photo from the composer, with its description.
  await p5.fill("#status", "The count goes on #election");
  await p5.click("details.attach summary");
  await p5.setInputFiles("#file", { name: "dot.png", mimeType: "image/png", buffer: Buffer.from(PNG, "base64") });
  await p5.fill("#description", "A dot of light");
  await Promise.all([p5.waitForNavigation(), p5.click("form.composer button[type=submit]")]);
  check(await p5.locator('#feed img[alt="A dot of light"]').count() === 1, "the photo is posted with its description");
  // The session cookie opens this site's own streams; another site's page, which the
  // browser also sends the cookie from, is refused (cross-site WebSocket hijacking).
  const opens = (page, url) => page.evaluate((u) => new Promise((done) => {
    const ws = new WebSocket(u);
    ws.onopen = () => { ws.close(); done("open"); };
    ws.onerror = () => done("refused");
  }), url);
  const wsUrl = base.replace(/^http/, "ws") + "/api/v1/streaming?stream=user";
  check(await opens(p5, wsUrl) === "open", "the page's own cookie WebSocket opens");
  const evil = await ctx5.newPage();
  watch(evil, "another site", ["403"]);
  await evil.goto(otherBase + "/", { waitUntil: "load" });
  check(await opens(evil, wsUrl) === "refused", "a cross-site cookie WebSocket is refused");
  await ctx5.close();
  site.close();

  // 4. The other pages, at both widths, for a human to look at.
  const ctx4 = await browser.newContext();
  const p4 = await ctx4.newPage();
  for (const [name, path] of [["home", "/"], ["profile", "/@reporter"], ["thread", `/@reporter/${e.id}`], ["search", "/search?q=update"]]) {
    watch(p4, name);
    for (const [w, h, label] of [[1200, 900, "desktop"], [360, 740, "phone"]]) {
      await p4.setViewportSize({ width: w, height: h });
      await p4.goto(base + path, { waitUntil: "load" });
      await p4.screenshot({ path: `${shots}/${name}-${label}.png`, fullPage: true });
    }
  }
  await ctx4.close();
} catch (e) {
  console.error(problems.join("\n"));
  throw e;
} finally {
  await browser.close();
}
if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("browser story: ok");
