#!/usr/bin/env python3
"""What SQLite's full-text index (FTS5) charges per notice, by how many notices a transaction
indexes together.

Takes a copy of a Tidings database (`--db`, e.g. the file of `loadtest/lone_post.py`'s node:
its index and its newest notice's text) and indexes `--notices` copies of that text into
`statuses_fts`, `--batch` per transaction (several sizes, each on a fresh copy), back to back,
with Tidings' pragmas. Prints the process's CPU per notice, the commit included. The node
indexes after the post's commit, a batch every quarter of a second (`src/store/search.rs`);
before, each post's own transaction indexed its notice alone, a batch of one.

    taskset -c 0 python3 loadtest/fts_batches.py --db /path/to/tidings.db
"""
import argparse
import os
import shutil
import sqlite3
import tempfile
import time


def fresh_copy(src, work):
    dst = os.path.join(work, "copy.db")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(dst + suffix):
            os.remove(dst + suffix)
    shutil.copy(src, dst)
    if os.path.exists(src + "-wal"):
        shutil.copy(src + "-wal", dst + "-wal")
    return dst


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--notices", type=int, default=2000)
    p.add_argument("--batch", type=int, nargs="+", default=[1, 5, 20, 100])
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="tidings-fts-")
    for batch in a.batch:
        db = sqlite3.connect(fresh_copy(a.db, work), isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        text, spoiler = db.execute(
            "SELECT text, spoiler_text FROM statuses WHERE reblog_of_id IS NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        first = db.execute("SELECT MAX(id) FROM statuses").fetchone()[0] + 1
        done = 0
        cpu0 = time.process_time()
        while done < a.notices:
            db.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                db.execute(
                    "INSERT INTO statuses_fts (rowid, text, spoiler_text) VALUES (?, ?, ?)",
                    (first + done, f"{text} n{done}", spoiler),
                )
                done += 1
            db.execute("COMMIT")
        cpu = time.process_time() - cpu0
        db.close()
        print(f"{batch:4} a transaction: {1e6 * cpu / done:6.1f} µs of CPU per notice")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
