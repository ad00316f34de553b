#!/usr/bin/env python3
"""Posting by a popular account (issue 12's benchmark): what 10,000 followers cost a post.

A notice goes to the home stream of every follower, so its event row names 10,000 streams
and the sequencer writes 10,000 stream rows for it. This fills a fresh database with N
followers of one account (straight through SQL), starts a release build of Tidings on it,
and posts as that account and as one with no followers: one at a time (latency) and 16 at
a time (throughput).

    python3 loadtest/fanout_bench.py --backend sqlite --followers 10000
    python3 loadtest/fanout_bench.py --backend postgres

Needs `cargo build --release` first and, for Postgres, `psql`.
"""
import argparse, json, os, sqlite3, subprocess, tempfile, time, urllib.parse, urllib.request
from concurrent.futures import ThreadPoolExecutor

import importlib.util
spec = importlib.util.spec_from_file_location("sb", os.path.join(os.path.dirname(os.path.abspath(__file__)), "search_bench.py"))
sb = importlib.util.module_from_spec(spec); spec.loader.exec_module(sb)

PASSWORD = "a long passphrase here"


def post(base, token, text):
    req = urllib.request.Request(base + "/api/v1/statuses", method="POST",
                                 data=urllib.parse.urlencode({"status": text}).encode(),
                                 headers={"Authorization": "Bearer " + token})
    s = time.perf_counter()
    urllib.request.urlopen(req, timeout=120).read()
    return (time.perf_counter() - s) * 1000


def token(base, user):
    app = json.loads(urllib.request.urlopen(urllib.request.Request(
        base + "/api/v1/apps", method="POST",
        data=urllib.parse.urlencode({"client_name": "bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob",
                                     "scopes": "read write"}).encode())).read())
    t = json.loads(urllib.request.urlopen(urllib.request.Request(
        base + "/oauth/token", method="POST",
        data=urllib.parse.urlencode({"grant_type": "password", "client_id": app["client_id"],
                                     "client_secret": app["client_secret"], "username": user,
                                     "password": PASSWORD, "scope": "read write"}).encode())).read())
    return t["access_token"]


def run(base, tok, n, parallel):
    lat = []
    t0 = time.perf_counter()
    if parallel == 1:
        for i in range(n):
            lat.append(post(base, tok, f"update {i}"))
    else:
        with ThreadPoolExecutor(parallel) as ex:
            lat = list(ex.map(lambda i: post(base, tok, f"burst {i}"), range(n)))
    wall = time.perf_counter() - t0
    return {"posts": n, "parallel": parallel, "posts_per_s": round(n / wall, 1),
            "p50_ms": round(sb.percentile(lat, 50), 2), "p99_ms": round(sb.percentile(lat, 99), 2)}


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    a.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    a.add_argument("--followers", type=int, default=10_000)
    a.add_argument("--posts", type=int, default=200)
    o = a.parse_args()
    work = tempfile.mkdtemp(prefix="tidings-fanout-")
    url, path, name = sb.fresh_database(o.backend, o.postgres, work, "fanout")
    sb.create_users(url, work, ["star", "loner"], PASSWORD)
    n = o.followers
    sql = f"""
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n})
INSERT INTO accounts (username, username_lower, created_at) SELECT 'f' || i, 'f' || i, 0 FROM c;
INSERT INTO follows (follower_id, target_id, created_at) SELECT id, 1, 0 FROM accounts WHERE id > 2;
UPDATE accounts SET followers_count = {n} WHERE id = 1;
"""
    if o.backend == "sqlite":
        con = sqlite3.connect(path)
        con.executescript("BEGIN;" + sql + "COMMIT;")
        con.close()
    else:
        subprocess.run(["psql", url, "-qc", sql], check=True)
    proc, base = sb.start(url, work)
    out = {"backend": o.backend, "followers": n}
    for user in ["star", "loner"]:
        tok = token(base, user)
        out[user] = {"one_at_a_time": run(base, tok, o.posts, 1),
                     "sixteen_at_a_time": run(base, tok, o.posts, 16)}
    proc.terminate(); proc.wait()
    print(json.dumps(out, indent=2))
    if o.backend == "postgres":
        subprocess.run(["psql", o.postgres, "-qc", f"DROP DATABASE {name}"], check=False)


if __name__ == "__main__":
    main()
