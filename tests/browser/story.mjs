// What the browser stories share: launching Debian's Chromium (no download), collecting
// every console error and page error as a problem, calling the API with a token, and
// failing with a message.
import { chromium } from "playwright-core";

export const problems = [];

// `expected`: console errors a story causes on purpose (a refused post's 422 page).
export function watch(page, name, expected = []) {
  page.on("console", (m) => {
    if (m.type() === "error" && !expected.some((e) => m.text().includes(e))) {
      problems.push(`${name}: console error: ${m.text()}`);
    }
  });
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
}

// `api(method, path, body)`: the JSON answer, or an error naming the status.
export function apiOf(base, token) {
  return async function api(method, path, body) {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status !== 200) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
}

export function check(cond, what) {
  if (!cond) throw new Error("failed: " + what);
}

// Chromium as this machine runs it: no sandbox as root, no background network.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}
