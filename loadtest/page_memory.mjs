// The live page's memory in Chromium while notices keep arriving (issue 13's budget):
// opens /tags/election in Debian's Chromium, posts `count` notices with the tag through
// the API (8 at a time), waits until the page has shown every one, and reports the
// page's JavaScript heap (after a forced garbage collection), DOM nodes and event
// listeners (Chrome DevTools Protocol `Performance.getMetrics`) at the start, after 300
// and after all of them. Run by loadtest/page_bench.py; by hand:
//
//   node loadtest/page_memory.mjs <base url> <token> [count]
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/browser/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const [base, token, countArg] = process.argv.slice(2);
const count = Number(countArg || 5000);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(base + "/tags/election", { waitUntil: "load" });
  await page.waitForFunction(() => document.querySelector(".live")?.dataset.state === "live");
  // Count every notice the page put in (ids seen once).
  await page.evaluate(() => {
    window.shown = new Set();
    new MutationObserver((changes) => {
      for (const c of changes) for (const n of c.addedNodes) {
        const a = n.querySelector?.("article[data-id]");
        if (a) window.shown.add(a.dataset.id);
      }
    }).observe(document.getElementById("feed"), { childList: true });
  });
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Performance.enable");
  const measure = async (label) => {
    await cdp.send("HeapProfiler.collectGarbage");
    const { metrics } = await cdp.send("Performance.getMetrics");
    const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
    const articles = await page.$$eval("#feed article", (a) => a.length);
    console.log(JSON.stringify({ label, js_heap_used_mb: +(m.JSHeapUsedSize / 2 ** 20).toFixed(2),
      js_heap_total_mb: +(m.JSHeapTotalSize / 2 ** 20).toFixed(2), dom_nodes: m.Nodes,
      listeners: m.JSEventListeners, articles }));
  };
  const post = (i) => fetch(base + "/api/v1/statuses", {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ status: `Update ${i}: turnout in district ${i % 400} is at ${40 + i % 20}% https://example.org/results/district-${i} #election #turnout` }),
  }).then((r) => { if (!r.ok) throw new Error(`post ${i}: ${r.status}`); });
  const postMany = async (from, to) => {
    let next = from;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < to) await post(next++);
    }));
  };
  const seen = (n) => page.waitForFunction((n) => window.shown.size >= n, n, { timeout: 600000, polling: 500 });
  await measure("start");
  const t0 = Date.now();
  await postMany(0, 300);
  await seen(300);
  await measure("after 300");
  await postMany(300, count);
  await seen(count);
  await measure(`after ${count}`);
  console.log(JSON.stringify({ label: "time", seconds: (Date.now() - t0) / 1000 }));
  if (errors.length) throw new Error(errors.join("\n"));
} finally {
  await browser.close();
}
