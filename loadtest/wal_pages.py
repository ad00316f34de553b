#!/usr/bin/env python3
"""Which pages a lone post writes: the frames in a node's SQLite WAL, by table and index.

Point it at a copy of a node's `tidings.db` and `tidings.db-wal` taken while the node was
stopped (`kill -STOP`), after `lone_post.py` has posted for a while. It reads each frame's
header (page number; a commit frame closes a transaction), names each page with SQLite's
`dbstat` table (on a scratch copy, so the log given is left as it was), and prints the
frames per transaction and, per table or index, the frames an average post wrote. The log
file keeps frames of earlier generations after its restarts (other salts); they are counted
too, named by today's pages. Transactions that wrote the full-text index are the index's
batches, counted apart. Only the standard library.

    python3 loadtest/wal_pages.py --db /tmp/copy/tidings.db
"""

import argparse
import collections
import os
import shutil
import sqlite3
import struct
import tempfile


def frames_of(wal_path):
    with open(wal_path, "rb") as f:
        data = f.read()
    page_size = struct.unpack(">I", data[8:12])[0]
    out, off = [], 32
    while off + 24 + page_size <= len(data):
        page, commit = struct.unpack(">II", data[off:off + 8])
        out.append((page, commit))
        off += 24 + page_size
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True, help="a copy of tidings.db, its -wal beside it")
    a = p.parse_args()
    frames = frames_of(a.db + "-wal")
    with tempfile.TemporaryDirectory() as scratch:
        db = os.path.join(scratch, "t.db")
        shutil.copy(a.db, db)
        shutil.copy(a.db + "-wal", db + "-wal")
        with sqlite3.connect(db) as c:
            names = dict(c.execute("SELECT pageno, name FROM dbstat"))
    txs, cur = [], []
    for page, commit in frames:
        cur.append(names.get(page, f"page {page}"))
        if commit:
            txs.append(cur)
            cur = []
    posts = [t for t in txs if not any(n.startswith("statuses_fts") for n in t)]
    batches = len(txs) - len(posts)
    print(f"{len(frames)} frames; {len(posts)} other transactions, {batches} of the full-text index")
    sizes = collections.Counter(len(t) for t in posts)
    print("frames per transaction (frames: transactions): "
          + ", ".join(f"{k}: {v}" for k, v in sorted(sizes.items())))
    per = collections.Counter(n for t in posts for n in t)
    for name, n in per.most_common():
        print(f"  {n / max(len(posts), 1):5.2f}  {name}")


if __name__ == "__main__":
    main()
