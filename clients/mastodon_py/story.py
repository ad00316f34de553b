"""A newsroom story told through Mastodon.py, unmodified: register, sign in, post,
correct, page by the Link header, stream over SSE, delete.

Usage: python story.py http://127.0.0.1:PORT   (exit status 0 when every step held)
"""

import sys
import threading
import time

from mastodon import Mastodon, StreamListener

BASE = sys.argv[1]
SCOPES = ["read", "write", "follow"]


class Collector(StreamListener):
    def __init__(self):
        self.updates, self.edits, self.deletes = [], [], []
        self.changed = threading.Event()

    def on_update(self, status):
        self.updates.append(status)
        self.changed.set()

    def on_status_update(self, status):
        self.edits.append(status)
        self.changed.set()

    def on_delete(self, status_id):
        self.deletes.append(str(status_id))
        self.changed.set()


def wait_for(cond, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    client_id, client_secret = Mastodon.create_app("newsroom", api_base_url=BASE, scopes=SCOPES)
    app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=BASE)
    token = app.create_account("reporter", "correct horse battery", "reporter@example.org", agreement=True, scopes=SCOPES)
    assert token, "registration returns a usable token"
    assert Mastodon(access_token=token, api_base_url=BASE).me().username == "reporter"

    m = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=BASE)
    # allow_http: the test server has no TLS; everything else is stock Mastodon.py.
    m.log_in("reporter@example.org", "correct horse battery", scopes=SCOPES, allow_http=True)
    me = m.account_verify_credentials()
    assert me.username == "reporter", me

    first = m.status_post("Evacuation ordered for the #harbour district")
    fixed = m.status_update(first.id, "Evacuation ordered for the #harbour and #old_town districts")
    assert "old_town" in fixed.content, fixed.content
    history = m.status_history(first.id)
    assert len(history) == 2, history

    for i in range(5):
        m.status_post(f"Update {i} #pagetest")
    page = m.timeline_hashtag("pagetest", limit=2)
    seen = []
    while page:
        seen.extend(s.id for s in page)
        page = m.fetch_next(page)
    assert len(seen) == 5 and len(set(seen)) == 5, seen

    tag_listener, public_listener = Collector(), Collector()
    tag_stream = m.stream_hashtag("live", tag_listener, run_async=True, reconnect_async=False)
    public_stream = m.stream_public(public_listener, run_async=True, reconnect_async=False)
    time.sleep(1.0)
    live = m.status_post("Bridge closed #live")
    wait_for(lambda: any(s.id == live.id for s in tag_listener.updates), "the hashtag stream")
    wait_for(lambda: any(s.id == live.id for s in public_listener.updates), "the public stream")
    m.status_update(live.id, "Bridge reopened #live")
    wait_for(lambda: tag_listener.edits, "the correction on the stream")
    m.status_delete(live.id)
    wait_for(lambda: str(live.id) in tag_listener.deletes, "the removal on the stream")
    tag_stream.close()
    public_stream.close()

    m.status_delete(first.id)
    print("mastodon.py story: ok")


if __name__ == "__main__":
    main()
