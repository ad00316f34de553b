#!/usr/bin/env python3
"""The web pages' budgets (issue 13): size of the first HTML of a tag's event page with 40
notices, of the compiled-in JavaScript and CSS (plain and gzip), and server time per page.

Starts a release build of Tidings on a fresh SQLite database pinned to one core
(`taskset -c 0`), posts 40 notices with the tag (each with a link, a mention and a second
tag, as live coverage reads), then fetches `/tags/election` with `Accept: text/html`:
sequentially for latency (p50/p99), then from 4 client threads for pages per second.

    cargo build --release && python3 loadtest/page_bench.py [--requests 2000]
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
        page = base + "/tags/election"
        html = {"Accept": "text/html"}
        _, body = get(page, html)
        assert body.count(b'class="notice') == 40, "40 notices on the page"
        assets = re.findall(rb'(?:href|src)="(/assets/[^"]+)"', body)
        print(f"first HTML of /tags/election (40 notices): {len(body)} bytes, {len(gzip.compress(body))} gzip")
        for path in assets:
            _, plain = get(base + path.decode(), {})
            print(f"{path.decode()}: {len(plain)} bytes, {len(gzip.compress(plain, 9))} gzip")
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
    finally:
        proc.terminate(); proc.wait()


if __name__ == "__main__":
    main()
