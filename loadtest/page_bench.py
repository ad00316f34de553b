#!/usr/bin/env python3
"""The web pages' budgets (issue 13): size of the first HTML of a tag's event page, of the
compiled-in JavaScript (the pages' script and the live client it imports) and CSS, each
plain, gzip and brotli as the server sends them; server time per page of 40 notices; and
the live page's memory in Chromium after 5,000 notices arrived (loadtest/page_memory.mjs,
when Chromium and tests/browser's playwright-core are installed).

Starts a release build of Tidings on a fresh SQLite database pinned to one core
(`taskset -c 0`), posts 40 notices with the tag (each with a link, a mention and a second
tag, as live coverage reads), then fetches `/tags/election` (its first page: 20 notices)
and `/tags/election?limit=40` with `Accept: text/html`: sequentially for latency (p50/p99),
then from 4 client threads for pages per second.

    cargo build --release && python3 loadtest/page_bench.py [--requests 2000] [--notices 5000]
"""
import argparse, gzip, json, os, re, subprocess, sys, tempfile, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

import importlib.util
HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("sb", os.path.join(HERE, "search_bench.py"))
sb = importlib.util.module_from_spec(spec); spec.loader.exec_module(sb)
spec = importlib.util.spec_from_file_location("fb", os.path.join(HERE, "fanout_bench.py"))
fb = importlib.util.module_from_spec(spec); spec.loader.exec_module(fb)


def get(url, headers):
    s = time.perf_counter()
    body = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30).read()
    return (time.perf_counter() - s) * 1000, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--notices", type=int, default=5000, help="for the Chromium memory run; 0 skips it")
    a = ap.parse_args()
    work = tempfile.mkdtemp()
    url, _, _ = sb.fresh_database("sqlite", None, work, "pages")
    sb.create_users(url, work, ["reporter", "editor"], fb.PASSWORD)
    # Pinned to core 0; the client runs beside it.
    port = sb.free_port()
    env = dict(os.environ, DATABASE_URL=url, TIDINGS_LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn")
    proc = subprocess.Popen(["taskset", "-c", "0", sb.BIN], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(base + "/health/ready", timeout=2); break
        except Exception:
            time.sleep(0.1)
    try:
        tok = fb.token(base, "reporter")
        for i in range(40):
            fb.post(base, tok, f"Update {i}: turnout in district {i} is at {40 + i % 20}% "
                               f"https://example.org/results/district-{i} @editor #election #turnout")
        html = {"Accept": "text/html"}

        def sizes(url, headers):
            out = []
            for enc in ("identity", "gzip", "br"):
                res = urllib.request.urlopen(urllib.request.Request(
                    url, headers=dict(headers, **{"Accept-Encoding": enc})), timeout=30)
                body = res.read()
                used = res.headers.get("Content-Encoding") or "identity"
                out.append(f"{len(body)} {used}")
            return out

        _, first = get(base + "/tags/election", html)
        shown = first.count(b'class="notice')
        print(f"first HTML of /tags/election ({shown} notices): " + ", ".join(sizes(base + "/tags/election", html)))
        page = base + "/tags/election?limit=40"
        _, body = get(page, html)
        assert body.count(b'class="notice') == 40, "40 notices on the page"
        print(f"/tags/election?limit=40: " + ", ".join(sizes(page, html)))
        assets = [p.decode() for p in re.findall(rb'(?:href|src)="(/assets/[^"]+)"', body)]
        for path in list(assets):
            _, plain = get(base + path, {})
            assets += ["/assets/" + m.decode() for m in re.findall(rb'from "\./([^"]+)"', plain)]
        for path in assets:
            print(f"{path}: " + ", ".join(sizes(base + path, {})))
        for _ in range(100):
            get(page, html)
        lat = [get(page, html)[0] for _ in range(a.requests)]
        print(f"sequential: p50 {sb.percentile(lat, 50):.2f} ms, p99 {sb.percentile(lat, 99):.2f} ms")
        cpu0 = sum(int(x) for x in open(f"/proc/{proc.pid}/stat").read().split()[13:15])
        t0 = time.perf_counter()
        with ThreadPoolExecutor(4) as ex:
            list(ex.map(lambda _: get(page, html), range(a.requests)))
        wall = time.perf_counter() - t0
        cpu = (sum(int(x) for x in open(f"/proc/{proc.pid}/stat").read().split()[13:15]) - cpu0) / os.sysconf("SC_CLK_TCK")
        print(f"4 clients: {a.requests / wall:.0f} pages/s on one core; server CPU {cpu / a.requests * 1000:.2f} ms per page")
        script = os.path.join(HERE, "page_memory.mjs")
        have = os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium")) and os.path.exists(
            os.path.join(HERE, "..", "tests", "browser", "node_modules", "playwright-core"))
        if a.notices and have:
            print(f"Chromium, the live page while {a.notices} notices arrive:")
            subprocess.run(["node", script, base, tok, str(a.notices)], check=True)
        elif a.notices:
            print("Chromium memory: skipped (no Chromium or no playwright-core in tests/browser)")
    finally:
        proc.terminate(); proc.wait()


if __name__ == "__main__":
    main()
