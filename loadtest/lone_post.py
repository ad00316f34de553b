#!/usr/bin/env python3
"""What one lone post costs the server: CPU time and context switches per notice.

Starts nothing: point it at a running node (`--base`, default http://127.0.0.1:8080) and
give it the node's process id (`--pid`). It signs up one account, posts `--posts` notices
one at a time, `--gap-ms` apart (so each is its own batch and its own sequencer round),
and reads the process's user+system time from /proc/PID/stat and the voluntary and
involuntary context switches of all its threads from /proc/PID/task/*/status, before and
after. Only the standard library; run the client on another core than the server
(`taskset -c 1 python3 loadtest/lone_post.py --pid ...`).
"""

import argparse
import http.client
import json
import os
import random
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
    return json.loads(data)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


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
    a = p.parse_args()
    u = urllib.parse.urlparse(a.base)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80)
    app = request(conn, "POST", "/api/v1/apps", {"client_name": "lone", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"})
    app_token = request(conn, "POST", "/oauth/token", {"grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"], "scope": "read write"}, form=True)["access_token"]
    name = f"lone{random.randrange(1 << 30)}"
    token = request(conn, "POST", "/api/v1/accounts", {"username": name, "password": "lone post password", "agreement": True}, token=app_token)["access_token"]
    for i in range(20):  # warm up: statement caches, pages
        request(conn, "POST", "/api/v1/statuses", {"status": f"warm-up {i} #lone"}, token=token)
    time.sleep(0.5)
    cpu0, sw0, t0 = cpu_seconds(a.pid), switches(a.pid), time.monotonic()
    for i in range(a.posts):
        request(conn, "POST", "/api/v1/statuses", {"status": f"notice {i} #lone"}, token=token)
        time.sleep(a.gap_ms / 1000)
    time.sleep(0.5)  # let the last sequencer round and fan-out finish
    cpu1, sw1, t1 = cpu_seconds(a.pid), switches(a.pid), time.monotonic()
    n = a.posts
    print(f"{n} lone posts in {t1 - t0:.1f} s: {1e6 * (cpu1 - cpu0) / n:.0f} µs of server CPU "
          f"and {(sw1 - sw0) / n:.1f} context switches per post")


if __name__ == "__main__":
    main()
