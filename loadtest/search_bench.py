#!/usr/bin/env python3
"""Search latency over a large database (issue 12's benchmark).

Fills a fresh database with N public notices (default 1,000,000) straight through SQL --
one word in ten notices is "election" (a common term), one in 100,000 is "zebrafish" (a
rare one) -- then starts a release build of Tidings on it and times
`GET /api/v2/search?type=statuses&q=...` for each term, one request at a time.

    python3 loadtest/search_bench.py --backend sqlite
    python3 loadtest/search_bench.py --backend postgres --postgres postgres://postgres@127.0.0.1:5432/postgres

Prints the fill time and p50/p99/max per term. Needs `cargo build --release` first (it
uses target/release/tidings) and, for Postgres, `psql`.
"""
import argparse, json, os, socket, sqlite3, subprocess, sys, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "tidings")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start(db_url, cwd):
    port = free_port()
    env = dict(os.environ, DATABASE_URL=db_url, TIDINGS_LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn")
    proc = subprocess.Popen([BIN], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/health/ready", timeout=2)
            return proc, base
        except Exception:
            time.sleep(0.1)
    proc.kill()
    sys.exit("the server did not start")


def fresh_database(backend, postgres, work, kind):
    """A new database: (url, sqlite file or None, postgres database name or None)."""
    if backend == "sqlite":
        path = os.path.join(work, "bench.db")
        return f"sqlite://{path}?mode=rwc", path, None
    name = f"tidings_{kind}_{os.getpid()}"
    subprocess.run(["psql", postgres, "-qc", f"CREATE DATABASE {name}"], check=True)
    return postgres.rsplit("/", 1)[0] + "/" + name, None, name


def create_users(url, work, names, password):
    """Migrate the database and make `names` (ids 1, 2, …) through the operator's CLI."""
    proc, _ = start(url, work)
    for user in names:
        subprocess.run([BIN, "admin", "create-user", user, "--password", password], cwd=work,
                       env=dict(os.environ, DATABASE_URL=url), check=True, stdout=subprocess.DEVNULL)
    proc.terminate(); proc.wait()


def fill_sql(n):
    # One statement for both databases: the notices of account 1, generated in SQL.
    return f"""
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n})
INSERT INTO statuses (account_id, text, content, visibility, tags, mentions, created_at)
SELECT 1,
       'notice ' || i
         || CASE WHEN i % 10 = 0 THEN ' election results' ELSE ' weather today' END
         || CASE WHEN i % 100000 = 7 THEN ' zebrafish' ELSE '' END
         || ' word' || (i % 997) || ' other' || (i % 991),
       '<p>notice</p>', 'public', '', '', 1700000000000000 + i
FROM c;
"""


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    a.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    a.add_argument("--notices", type=int, default=1_000_000)
    a.add_argument("--requests", type=int, default=200)
    o = a.parse_args()
    work = tempfile.mkdtemp(prefix="tidings-search-")
    url, path, name = fresh_database(o.backend, o.postgres, work, "search")
    create_users(url, work, ["bench"], "a long passphrase here")
    t0 = time.time()
    sql = fill_sql(o.notices)
    if o.backend == "sqlite":
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        # The node's full-text index takes notices after their post (a batch at a time,
        # and a search first takes what waits); here all of them at once, with the fill.
        con.executescript("BEGIN;" + sql +
                          "INSERT INTO statuses_fts (rowid, text, spoiler_text) SELECT id, text, spoiler_text "
                          "FROM statuses WHERE id > (SELECT upto FROM statuses_fts_mark) "
                          "AND reblog_of_id IS NULL AND deleted_at IS NULL;"
                          "UPDATE statuses_fts_mark SET upto = (SELECT MAX(id) FROM statuses);"
                          "COMMIT;")
        con.execute("UPDATE accounts SET statuses_count = ? WHERE id = 1", (o.notices,))
        con.commit(); con.close()
    else:
        subprocess.run(["psql", url, "-qc", sql + " ANALYZE statuses;"], check=True)
    fill = time.time() - t0
    proc, base = start(url, work)
    out = {"backend": o.backend, "notices": o.notices, "fill_seconds": round(fill, 1)}
    for term in ["election", "zebrafish", "election results"]:
        lat, found = [], None
        q = urllib.parse.quote(term)
        for _ in range(o.requests):
            s = time.perf_counter()
            body = urllib.request.urlopen(f"{base}/api/v2/search?type=statuses&limit=20&q={q}", timeout=60).read()
            lat.append((time.perf_counter() - s) * 1000)
            found = len(json.loads(body)["statuses"])
        out[term] = {"found": found, "p50_ms": round(percentile(lat, 50), 2),
                     "p99_ms": round(percentile(lat, 99), 2), "max_ms": round(max(lat), 2)}
    proc.terminate(); proc.wait()
    print(json.dumps(out, indent=2))
    if o.backend == "postgres":
        subprocess.run(["psql", o.postgres, "-qc", f"DROP DATABASE {name}"], check=False)


if __name__ == "__main__":
    import urllib.parse
    main()
