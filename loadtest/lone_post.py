#!/usr/bin/env python3
"""What one lone post costs the server: CPU time and context switches per notice.

Starts nothing: point it at a running node (`--base`, default http://127.0.0.1:8080) and
give it the node's process id (`--pid`). It signs up one account, posts `--posts` notices
one at a time, `--gap-ms` apart (so each is its own batch and its own sequencer round),
and reads the process's user+system time from /proc/PID/stat and the voluntary and
involuntary context switches of all its threads from /proc/PID/task/*/status, and what it
wrote towards storage from /proc/PID/io, before and after. Only the standard library; run the client on another core than the server
(`taskset -c 1 python3 loadtest/lone_post.py --pid ...`).
"""

import argparse
import http.client
import json
import os
import random
import subprocess
import time
import urllib.parse


def request(conn, method, path, body=None, token=None, form=False):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        if form:
            body = urllib.parse.urlencode(body)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    res = conn.getresponse()
    data = res.read()
    if res.status >= 300:
        raise SystemExit(f"{method} {path}: {res.status} {data[:200]!r}")
    if "json" in (res.getheader("Content-Type") or ""):
        return json.loads(data)
    return data


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def thread_cpu(pid):
    """CPU seconds per thread name (threads of one name summed)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/stat") as f:
                line = f.read()
        except FileNotFoundError:
            continue
        name = line[line.index("(") + 1:line.rindex(")")]
        fields = line.rsplit(")", 1)[1].split()
        out[name] = out.get(name, 0) + (int(fields[11]) + int(fields[12])) / ticks
    return out


def io(pid):
    """Bytes the process has sent towards storage (`write_bytes`) and its write calls."""
    with open(f"/proc/{pid}/io") as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["write_bytes"]), int(fields["syscw"])


def switches(pid):
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", default="http://127.0.0.1:8080")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--posts", type=int, default=800)
    p.add_argument("--gap-ms", type=float, default=10)
    p.add_argument("--get", metavar="PATH",
                   help="instead of posting, GET this path with the same token (the floor under a "
                        "post: e.g. /api/v1/accounts/verify_credentials reads the token and the account, "
                        "/api/v1/streaming/health touches nothing)")
    p.add_argument("--nchan", action="store_true",
                   help="the peer instead: --base is Nchan (loadtest/peers/nchan/nginx.conf) and --pid its "
                        "worker; each request publishes a notice-sized message to one channel")
    p.add_argument("--warm-up", type=int, default=20,
                   help="posts before measuring (statement caches, pages)")
    p.add_argument("--callgrind", action="store_true",
                   help="the node runs under `valgrind --tool=callgrind`: zero its counters when "
                        "measuring starts and dump them when it ends (`callgrind_control`), so the "
                        "dump holds the measured requests alone")
    p.add_argument("--idle-s", type=float, default=5,
                   help="seconds of measuring the node doing nothing first (its timers), subtracted "
                        "from the run for the marginal cost")
    a = p.parse_args()
    u = urllib.parse.urlparse(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80)
    if a.nchan:
        return measure(a, conn, lambda i: request(conn, "POST", "/pub?id=lone", nchan_message(i)))
    app = request(conn, "POST", "/api/v1/apps", {"client_name": "lone", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"})
    app_token = request(conn, "POST", "/oauth/token", {"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"], "scope": "read write"}, form=True)["access_token"]
    name = f"lone{random.randrange(1 << 30)}"
    token = request(conn, "POST", "/api/v1/accounts", {"username": name, "password": "lone post password", "agreement": True}, token=app_token)["access_token"]
    for i in range(a.warm_up):  # warm up: statement caches, pages
        request(conn, "POST", "/api/v1/statuses", {"status": f"warm-up {i} #lone"}, token=token)
    time.sleep(0.5)
    if a.get:
        return measure(a, conn, lambda i: request(conn, "GET", a.get, token=token))
    return measure(a, conn, lambda i: request(conn, "POST", "/api/v1/statuses",
                                              {"status": f"notice {i} #lone"}, token=token))


def nchan_message(i):
    """About what Tidings sends its readers for one notice (a Status of ~1.5 KB)."""
    return {"event": "update", "payload": f"notice {i} #lone " + "x" * 1400}


def measure(a, conn, one):
    i0, iw0 = cpu_seconds(a.pid), time.monotonic()
    time.sleep(a.idle_s)
    idle_per_s = (cpu_seconds(a.pid) - i0) / (time.monotonic() - iw0)
    if a.callgrind:
        subprocess.run(["callgrind_control", "-z", str(a.pid)], check=True, capture_output=True)
    cpu0, sw0, t0 = cpu_seconds(a.pid), switches(a.pid), time.monotonic()
    per0 = thread_cpu(a.pid)
    io0 = io(a.pid)
    for i in range(a.posts):
        one(i)
        time.sleep(a.gap_ms / 1000)
    time.sleep(0.5)  # let the last sequencer round and fan-out finish
    if a.callgrind:
        subprocess.run(["callgrind_control", "-d", str(a.pid)], check=True, capture_output=True)
    cpu1, sw1, t1 = cpu_seconds(a.pid), switches(a.pid), time.monotonic()
    per1 = thread_cpu(a.pid)
    io1 = io(a.pid)
    n = a.posts
    what = "lone Nchan publishes" if a.nchan else f"lone GET {a.get}" if a.get else "lone posts"
    total = 1e6 * (cpu1 - cpu0) / n
    idle = 1e6 * idle_per_s * (t1 - t0) / n
    print(f"{n} {what} in {t1 - t0:.1f} s: {total:.0f} µs of server CPU "
          f"and {(sw1 - sw0) / n:.1f} context switches per request; of that, the idle node's timers "
          f"{idle:.0f} µs ({1e3 * idle_per_s:.1f} ms/s), the request {total - idle:.0f} µs")
    threads = sorted(((1e6 * (per1.get(k, 0) - per0.get(k, 0)) / n, k) for k in per1), reverse=True)
    print("  per thread (µs per request): " + ", ".join(f"{k} {v:.0f}" for v, k in threads if v >= 1))
    print(f"  to storage: {(io1[0] - io0[0]) / n:,.0f} bytes and {(io1[1] - io0[1]) / n:.1f} write calls "
          "per request (/proc/PID/io; a WAL frame counts each time it is written)")

if __name__ == "__main__":
    main()
