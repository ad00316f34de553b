// A live event's page in real Chromium while its editor works through the API: a
// contributor's notice appears, a key event shows up beside the feed, a pin puts the
// notice on top, a correction reaches both copies, a deletion removes the notice and
// its key event, and ending the event turns the badge to "Ended". The embed and the
// list of events render; no JavaScript error and no CSP violation anywhere.
//
//   node event.mjs <base url> <editor token>
import { apiOf, check, launch, problems, watch } from "./story.mjs";
import { mkdirSync } from "node:fs";

const [base, token] = process.argv.slice(2);
const shots = process.env.SHOTS || "shots";
mkdirSync(shots, { recursive: true });


const api = apiOf(base, token);


const EV = "/api/v1/tidings/events/election-night";
const browser = await launch();
try {
  await api("POST", "/api/v1/tidings/events", {
    slug: "election-night", title: "Election night", description: "Results as they come in",
    tags: ["vote"], state: "live",
  });
  const early = await api("POST", "/api/v1/statuses", { status: "Polls opened at 8 #vote" });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  watch(page, "event page");
  await page.goto(base + "/events/election-night", { waitUntil: "load" });
  check(await page.locator(`#feed #n-${early.id}`).count() === 1, "the page opens with the feed");
  check((await page.textContent("#event-state")).trim() === "Live", "a live badge");
  check(await page.locator('link[rel=alternate][href="/events/election-night.atom"]').count() === 1, "the feed is announced");
  await page.waitForFunction(() => document.querySelector(".live")?.dataset.state === "live");

  const s = await api("POST", "/api/v1/statuses", { status: "Polls close in ten minutes #vote" });
  await page.locator(`#feed article[data-id="${s.id}"]`).waitFor({ timeout: 5000 });

  await api("POST", `${EV}/statuses/${s.id}/key`, { label: "Polls close" });
  await page.waitForFunction((id) => document.querySelector(`#keys li[data-id="${id}"] a`)?.textContent === "Polls close", s.id);
  check(await page.getAttribute(`#keys li[data-id="${s.id}"] a`, "href") === `#n-${s.id}`, "a key event jumps to its notice");

  await api("POST", `${EV}/statuses/${s.id}/pin`);
  await page.waitForFunction((id) => document.querySelector(`#pinned article[data-id="${id}"]`) && !document.querySelector("section.pinned").classList.contains("hidden"), s.id);

  await api("PUT", `/api/v1/statuses/${s.id}`, { status: "Polls close in five minutes #vote" });
  await page.waitForFunction((id) => [...document.querySelectorAll(`article[data-id="${id}"]`)].filter((a) => a.textContent.includes("five minutes")).length === 2, s.id);
  await page.screenshot({ path: `${shots}/event-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 360, height: 740 });
  await page.screenshot({ path: `${shots}/event-phone.png`, fullPage: true });

  await api("DELETE", `/api/v1/statuses/${s.id}`);
  await page.waitForFunction((id) => !document.querySelector(`article[data-id="${id}"]`) && !document.querySelector(`#keys li[data-id="${id}"]`), s.id);
  check(!(await page.locator("#keys-empty").getAttribute("class")).includes("hidden"), "no key events left");
  check(await page.locator("section.pinned.hidden").count() === 1, "nothing pinned left");

  await api("PATCH", EV, { state: "ended" });
  await page.waitForFunction(() => document.getElementById("event-state")?.textContent === "Ended");
  await ctx.close();

  // The archive, the embed (inside an iframe of another origin is the tag embed's
  // story; here the page itself) and the list of events.
  const ctx2 = await browser.newContext();
  const p2 = await ctx2.newPage();
  for (const [name, path] of [["event-ended", "/events/election-night"], ["event-embed", "/embed/events/election-night"], ["events", "/events"]]) {
    watch(p2, name);
    await p2.goto(base + path, { waitUntil: "load" });
    await p2.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  }
  await p2.goto(base + "/events/election-night", { waitUntil: "load" });
  check((await p2.textContent("#event-state")).trim() === "Ended", "the archive says so");
  check(await p2.locator(".live").count() === 0, "an archive is not live");
  check(await p2.locator(`#feed #n-${early.id}`).count() === 1, "the archive keeps its notices");
  await p2.goto(base + "/events", { waitUntil: "load" });
  check(await p2.locator('a[href="/events/election-night"]').count() === 1, "the event is listed");
  await ctx2.close();
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
console.log("event story: ok");
