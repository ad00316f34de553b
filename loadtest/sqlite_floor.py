#!/usr/bin/env python3
"""What SQLite alone charges for the rows of one lone post: the floor under the writer thread.

Takes a copy of a Tidings database that a node has posted into (`--db`, e.g. the file of
`loadtest/lone_post.py`'s node) and writes, `--posts` times, each in its own transaction,
the rows one post writes, copied from the newest notice there: the notice (its indexes
fire as for the node; the full-text index takes notices after the post's commit since
migration 0026, so it is not in a post's rows), its tag rows, the author's counter, its
event, the event's position and its stream rows. With Tidings' pragmas (WAL,
`synchronous = NORMAL`) and statements kept compiled, on Python's `sqlite3`, one post
after another; SQLite checkpoints in the commit past its default of 1,000 frames (a node
does that work on a thread of its own, every 2,000). For comparison it also writes a
one-row transaction the same number of times: what a durable commit costs here with
nothing in it. Each is run twice: back to back
(everything in the CPU's caches: the best case) and one every `--gap-ms` (10, as
`lone_post.py` posts), which is what a lone post meets — caches gone cold while the process
slept, two to nine times the hot cost per statement here.

The reads a post also makes (followers, lists, live events, remote followers: a few µs
each on an indexed empty range) and Tidings' own work around the statements are not in
it; Python's per-statement cost (a few µs) is. Prints the process's CPU per transaction.

    taskset -c 0 python3 loadtest/sqlite_floor.py --db /path/to/tidings.db --posts 1000
"""
import argparse
import os
import shutil
import sqlite3
import tempfile
import time

PRAGMAS = [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA cache_size = -16384",
]


def columns(db, table):
    return [r[1] for r in db.execute(f"PRAGMA table_info({table})") if r[1] != "id"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="a Tidings SQLite file with at least one notice")
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--gap-ms", type=float, default=10.0,
                    help="the pause between lone transactions, as lone_post.py's")
    a = ap.parse_args()

    work = tempfile.mkdtemp(prefix="tidings-floor-")
    path = os.path.join(work, "copy.db")
    src = sqlite3.connect(a.db)
    dst = sqlite3.connect(path)
    src.backup(dst)
    src.close()
    dst.close()

    db = sqlite3.connect(path, isolation_level=None, cached_statements=64)
    for p in PRAGMAS:
        db.execute(p)
    status_id, author = db.execute(
        "SELECT id, account_id FROM statuses WHERE deleted_at IS NULL ORDER BY id DESC LIMIT 1"
    ).fetchone()
    event_id = db.execute(
        "SELECT id FROM events WHERE status_id = ? ORDER BY id LIMIT 1", (status_id,)
    ).fetchone()[0]
    streams = [r[0] for r in db.execute(
        "SELECT stream FROM event_streams WHERE event_id = ?", (event_id,))]
    tags = [r[0] for r in db.execute(
        "SELECT tag FROM status_tags WHERE status_id = ?", (status_id,))]
    scols = [c for c in columns(db, "statuses") if c != "created_at"]
    ecols = [c for c in columns(db, "events")
             if c not in ("position", "status_id", "created_at")]
    copy_status = (
        f"INSERT INTO statuses ({', '.join(scols)}, created_at) "
        f"SELECT {', '.join(scols)}, ? FROM statuses WHERE id = ?")
    copy_event = (
        f"INSERT INTO events ({', '.join(ecols)}, status_id, created_at) "
        f"SELECT {', '.join(ecols)}, ?, ? FROM events WHERE id = ?")
    print(f"copying notice {status_id}: {len(tags)} tag(s), {len(streams)} stream row(s)")

    def one_post():
        now = time.time_ns() // 1000
        db.execute("BEGIN IMMEDIATE")
        new_status = db.execute(copy_status, (now, status_id)).lastrowid
        for t in tags:
            db.execute("INSERT INTO status_tags (tag, status_id) VALUES (?, ?)", (t, new_status))
        db.execute(
            "UPDATE accounts SET statuses_count = statuses_count + 1, last_status_at = ? "
            "WHERE id = ?", (now, author))
        new_event = db.execute(copy_event, (new_status, now, event_id)).lastrowid
        position = db.execute(
            "UPDATE events SET position = (SELECT COALESCE(MAX(position), 0) + 1 FROM events) "
            "WHERE id = ? RETURNING position", (new_event,)).fetchone()[0]
        for s in streams:
            db.execute(
                "INSERT INTO event_streams (stream, event_id, position) VALUES (?, ?, ?)",
                (s, new_event, position))
        db.execute("COMMIT")

    db.execute("CREATE TABLE IF NOT EXISTS floor_one_row (id INTEGER PRIMARY KEY, v BIGINT)")

    def one_row():
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT INTO floor_one_row (v) VALUES (?)", (time.time_ns(),))
        db.execute("COMMIT")

    for name, work_fn in (("one-row transaction", one_row), ("a post's rows", one_post)):
        for _ in range(200):
            work_fn()
        for gap in (0.0, a.gap_ms / 1000):
            spent, c0 = 0.0, time.process_time()
            for _ in range(a.posts):
                if gap:
                    time.sleep(gap)
                w0 = time.perf_counter()
                work_fn()
                spent += time.perf_counter() - w0
            c1 = time.process_time()
            how = f"one every {a.gap_ms:g} ms" if gap else "back to back"
            print(f"{name}, {how}: {(c1 - c0) / a.posts * 1e6:.0f} µs CPU, "
                  f"{spent / a.posts * 1e6:.0f} µs wall per transaction ({a.posts})")
    db.close()
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
