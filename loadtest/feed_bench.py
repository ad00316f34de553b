#!/usr/bin/env python3
"""What a feed costs to serve (issue 17's feeds): a release build of Tidings on a fresh
SQLite database pinned to one core (`taskset -c 0`), 40 notices with a tag, then N
sequential requests over one keep-alive connection (the client on core 1) for the tag's
Atom feed (a page of 20 entries, 200), the same with its `ETag` sent back (304), and the
RSS feed; for each: p50/p99 latency and the server's CPU time per request.

    cargo build --release && python3 loadtest/feed_bench.py [--requests 2000]
"""
import argparse, http.client, json, os, subprocess, tempfile, time, urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tidings")


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    os.sched_setaffinity(0, {1})
    work = tempfile.mkdtemp(prefix="tidings-feed-bench-")
    port = 8093
    env = dict(os.environ, DATABASE_URL=f"sqlite://{work}/t.db?mode=rwc", RUST_LOG="warn",
               TIDINGS_API_REQUESTS_PER_IP="0", TIDINGS_API_REQUESTS_PER_TOKEN="0",
               TIDINGS_STATUSES_PER_ACCOUNT="0")
    subprocess.run([BIN, "admin", "create-user", "reporter", "--password", "a long passphrase"],
                   env=env, cwd=work, check=True, capture_output=True)
    node = subprocess.Popen(["taskset", "-c", "0", BIN, "--listen", f"127.0.0.1:{port}"],
                            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        c = http.client.HTTPConnection("127.0.0.1", port)

        def call(method, path, body=None, headers=None):
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, r.getheaders(), r.read()

        _, _, app = call("POST", "/api/v1/apps", json.dumps({"client_name": "bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "write"}),
                         {"content-type": "application/json"})
        app = json.loads(app)
        _, _, tok = call("POST", "/oauth/token", urllib.parse.urlencode({
            "grant_type": "password", "username": "reporter", "password": "a long passphrase",
            "client_id": app["client_id"], "client_secret": app["client_secret"], "scope": "write"}),
            {"content-type": "application/x-www-form-urlencoded"})
        token = json.loads(tok)["access_token"]
        for i in range(40):
            s, _, _ = call("POST", "/api/v1/statuses", json.dumps({"status": f"Update {i} from the count, see https://example.org/results/{i} @reporter #election #count"}),
                           {"content-type": "application/json", "authorization": f"Bearer {token}"})
            assert s == 200, s
        _, h, body = call("GET", "/tags/election.atom")
        etag = {k.lower(): v for k, v in h}["etag"]
        print(f"Atom feed of 20 entries: {len(body)} bytes")
        for name, path, headers, want in [
            ("Atom, 200", "/tags/election.atom", {}, 200),
            ("Atom, 304 by ETag", "/tags/election.atom", {"if-none-match": etag}, 304),
            ("RSS, 200", "/tags/election.rss", {}, 200),
        ]:
            lat = []
            c0 = cpu(node.pid)
            for _ in range(a.requests):
                t = time.perf_counter()
                s, _, _ = call("GET", path, headers=headers)
                lat.append((time.perf_counter() - t) * 1000)
                assert s == want, (s, want)
            used = cpu(node.pid) - c0
            print(f"{name}: p50 {pct(lat, .5):.2f} ms, p99 {pct(lat, .99):.2f} ms, "
                  f"server CPU {used * 1e6 / a.requests:.0f} µs per request "
                  f"({a.requests / max(used, 1e-9):.0f} requests per core-second)")
    finally:
        node.terminate()
        node.wait()


if __name__ == "__main__":
    main()
