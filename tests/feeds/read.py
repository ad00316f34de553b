"""Read feeds with feedparser (a real, widely used feed parser) and print what it saw as
JSON, for tests/feed_stories.rs to judge.

    python read.py URL [URL ...]
"""
import json
import sys
import urllib.request

import feedparser

out = []
for url in sys.argv[1:]:
    with urllib.request.urlopen(url) as res:
        body = res.read()
    f = feedparser.parse(body)
    out.append({
        "url": url,
        "version": f.version,
        "bozo": bool(f.bozo),
        "bozo_exception": str(f.get("bozo_exception", "")),
        "title": f.feed.get("title"),
        "link": f.feed.get("link"),
        "links": [{"rel": l.get("rel"), "href": l.get("href")} for l in f.feed.get("links", [])],
        "entries": [{
            "id": e.get("id"),
            "title": e.get("title"),
            "link": e.get("link"),
            "content": (e.get("content") or [{}])[0].get("value") or e.get("summary"),
            "published": e.get("published"),
            "updated": e.get("updated"),
            "author": e.get("author"),
        } for e in f.entries],
    })
print(json.dumps(out))
