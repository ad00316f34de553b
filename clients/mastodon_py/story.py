"""A newsroom story told through Mastodon.py, unmodified: register, sign in, post,
correct, page by the Link header, stream over SSE; then the desk around the reporter:
a thread with a followers-only reply, search, notifications of every kind, followers
paged by Link, bookmarks, pins, favourites, markers, instance counts and trends; then a
photo with its description, a poll the editor answers, the editor's list of the reporter,
the reporter's profile and a notice scheduled and withdrawn; delete.

Usage: python story.py http://127.0.0.1:PORT   (exit status 0 when every step held)
"""

import struct
import sys
import threading
import time
import urllib.request
import zlib
from datetime import datetime, timedelta, timezone

from mastodon import Mastodon, MastodonAPIError, MastodonNotFoundError, StreamListener

BASE = sys.argv[1]
SCOPES = ["read", "write", "follow"]
PASSWORD = "correct horse battery"


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


def ids(items):
    return [i.id for i in items]


def names(accounts):
    return sorted(a.username for a in accounts)


def refused(call, status):
    """`call` must fail with HTTP `status`, as Mastodon's answer would."""
    try:
        got = call()
    except MastodonAPIError as e:
        assert e.args[1] == status, f"expected {status}, got {e.args}"
        return
    raise AssertionError(f"expected {status}, got {got}")


def sign_up(client_id, client_secret, username):
    """A colleague registers through the newsroom app; the token she gets signs her in."""
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=BASE)
    api.create_account(username, PASSWORD, f"{username}@example.org", agreement=True, scopes=SCOPES)
    assert api.me().username == username
    return api


def thread(reporter, editor, stranger):
    """A reply chain reads in order from any notice of it; a followers-only reply is
    shown to a follower and hidden from everyone else, in the thread and by its id."""
    root = reporter.status_post("Harbour wall: who has eyes on it? #harbour")
    answer = editor.status_reply(root, "our photographer is on the quay #harbour")
    assert answer.in_reply_to_id == root.id and "reporter" in names(answer.mentions), answer
    follow_up = reporter.status_reply(answer, "send the pictures when you can")
    private = reporter.status_post(
        "Keep the name of the source out of it", in_reply_to_id=follow_up.id, visibility="private"
    )

    middle = reporter.status_context(answer)
    assert ids(middle.ancestors) == [root.id], middle
    assert ids(middle.descendants) == [follow_up.id, private.id], middle
    assert ids(editor.status_context(root).descendants) == [answer.id, follow_up.id, private.id]
    seen_by_stranger = stranger.status_context(root)
    assert ids(seen_by_stranger.ancestors) == [], seen_by_stranger
    assert ids(seen_by_stranger.descendants) == [answer.id, follow_up.id], seen_by_stranger
    refused(lambda: stranger.status(private.id), 404)
    refused(lambda: stranger.status_context(private.id), 404)
    assert ids(editor.status_context(private).ancestors) == [root.id, answer.id, follow_up.id]
    return root, answer, private


def search(stranger, editor, first, private):
    """An older notice is found by a word, as it reads after its correction; a
    followers-only one only by a follower; accounts and tags by the start of a name."""
    found = stranger.search_v2("evacuation", result_type="statuses")
    assert first.id in ids(found.statuses), found
    assert first.id in ids(stranger.search_v2("districts", result_type="statuses").statuses)
    assert ids(stranger.search_v2("source", result_type="statuses").statuses) == []
    assert ids(editor.search_v2("source", result_type="statuses").statuses) == [private.id]

    assert "reporter" in names(stranger.account_search("repo"))
    assert names(stranger.search_v2("repo", result_type="accounts").accounts) == ["reporter"]
    tags = stranger.search_v2("harb", result_type="hashtags").hashtags
    assert [t.name for t in tags] == ["harbour"], tags


def notifications(reporter, editor, root, answer):
    """The editor follows, replies (a mention), favourites and boosts: the reporter's
    notifications list each with its type and cause, newest first, and filter by type
    and account; the editor, who boosted, hears of the correction."""
    editor.status_favourite(root)
    editor.status_reblog(root)
    reporter.status_update(root.id, "Harbour wall: cracks reported, engineers on their way #harbour")

    editor_id = editor.me().id
    from_editor = [n for n in reporter.notifications() if n.account.id == editor_id]
    assert [n.type for n in from_editor] == ["reblog", "favourite", "mention", "follow"], from_editor
    reblog, favourite, mention, _ = from_editor
    assert reblog.status.id == root.id and favourite.status.id == root.id, from_editor
    assert mention.status.id == answer.id, mention
    assert ids(reporter.notifications(account_id=editor_id)) == ids(from_editor)

    only = reporter.notifications(types=["favourite", "reblog"])
    assert ids(only) == [reblog.id, favourite.id], only
    assert all(n.type != "follow" for n in reporter.notifications(exclude_types=["follow"]))
    assert reporter.notifications(id=mention.id).type == "mention"

    update = editor.notifications(types=["update"])
    assert len(update) == 1 and update[0].status.id == root.id, update
    assert "engineers" in update[0].status.content, update[0]

    reporter.notifications_dismiss(favourite.id)
    assert favourite.id not in ids(reporter.notifications())
    refused(lambda: reporter.notifications(id=favourite.id), 404)
    return reblog


def followers(reporter, editor, readers):
    """Four followers read two at a time, the next page found by the Link header."""
    me = reporter.me()
    page = reporter.account_followers(me.id, limit=2)
    seen = []
    while page:
        assert len(page) <= 2, page
        seen.extend(page)
        page = reporter.fetch_next(page)
    assert names(seen) == ["editor"] + [r.me().username for r in readers], seen
    assert reporter.account(me.id).followers_count == 4
    assert names(editor.account_following(editor.me().id)) == ["reporter"]


def keeping(reporter, editor, stranger, root, answer):
    """Bookmarks are the reporter's own; pins show on her profile, five at most;
    favourites list what the editor favourited, and a notice who favourited and boosted it."""
    assert reporter.status_bookmark(answer).bookmarked
    assert ids(reporter.bookmarks()) == [answer.id]
    assert ids(editor.bookmarks()) == []
    assert not reporter.status_unbookmark(answer).bookmarked
    assert ids(reporter.bookmarks()) == []

    me = reporter.me()
    pins = [root] + [reporter.status_post(f"Background {i}: the harbour since 1900") for i in range(4)]
    for s in pins:
        assert reporter.status_pin(s).pinned
    assert set(ids(stranger.account_statuses(me.id, pinned=True))) == set(ids(pins))
    extra = reporter.status_post("One pin too many")
    refused(lambda: reporter.status_pin(extra), 422)
    assert not reporter.status_unpin(pins[-1]).pinned
    assert set(ids(stranger.account_statuses(me.id, pinned=True))) == set(ids(pins[:-1]))

    assert ids(editor.favourites()) == [root.id]
    assert names(reporter.status_favourited_by(root)) == ["editor"]
    assert names(reporter.status_reblogged_by(root)) == ["editor"]


def markers(reporter):
    """Where the reporter left off in home and notifications, set and read back."""
    home = reporter.timeline_home(limit=1)[0]
    last = reporter.notifications(limit=1)[0]
    set_ = reporter.markers_set(["home", "notifications"], [home.id, last.id])
    got = reporter.markers_get(["home", "notifications"])
    assert str(got.home.last_read_id) == str(home.id), got
    assert str(got.notifications.last_read_id) == str(last.id), got
    assert got.home.version == set_.home.version, (got, set_)
    again = reporter.markers_set("home", home.id)
    assert again.home.version > set_.home.version, (again, set_)
    assert list(reporter.markers_get("home").keys()) == ["home"]


def counts(everyone, posters):
    """The instance counts its people and notices; the tag used by most people trends."""
    stranger = everyone[-1]
    accounts = [p.me() for p in everyone]
    v1 = stranger.instance_v1()
    assert v1.stats.user_count == len(everyone), v1.stats
    assert v1.stats.status_count == sum(stranger.account(a.id).statuses_count for a in accounts)
    # Mastodon counts sign-ins, Tidings notices: at least every poster, at most everyone.
    active = stranger.instance().usage.users.active_month
    assert len(posters) <= active <= len(everyone), active

    trends = stranger.trending_tags()
    assert trends[0].name == "harbour", trends
    # first, root, the editor's answer and the stranger's notice; one day or two.
    assert sum(int(day.uses) for day in trends[0].history) == 4, trends[0]


def png(width, height):
    """A small valid PNG, all red: signature, IHDR, one IDAT, IEND."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def photo(reporter, stranger):
    """The reporter posts a photo with its description; anyone reading the notice sees
    an image of that size and description, and its file answers."""
    media = reporter.media_post(png(4, 3), mime_type="image/png", description="The cracked harbour wall")
    assert isinstance(media.id, str) and media.type == "image", media
    notice = reporter.status_post("The wall this morning", media_ids=[media])
    seen = stranger.status(notice.id).media_attachments
    assert len(seen) == 1, seen
    attached = seen[0]
    assert attached.id == media.id and attached.type == "image", attached
    assert attached.description == "The cracked harbour wall", attached
    assert (attached.meta.original.width, attached.meta.original.height) == (4, 3), attached.meta
    with urllib.request.urlopen(attached.url) as file:
        assert file.status == 200 and file.read(), attached.url


def poll(reporter, editor):
    """A poll of three options: the editor's vote counts once, and he sees his choice."""
    asked = reporter.status_post(
        "Should the harbour road stay closed tonight?",
        poll=reporter.make_poll(["Yes", "No", "Only to lorries"], expires_in=600),
    )
    assert [o.title for o in asked.poll.options] == ["Yes", "No", "Only to lorries"], asked.poll
    assert asked.poll.votes_count == 0 and not asked.poll.expired, asked.poll
    voted = editor.poll_vote(asked.poll.id, [2])
    assert voted.voted and voted.own_votes == [2], voted
    counted = reporter.poll(asked.poll.id)
    assert counted.votes_count == 1, counted
    assert [o.votes_count for o in counted.options] == [0, 0, 1], counted
    refused(lambda: editor.poll_vote(asked.poll.id, [0]), 422)


def desk_list(editor, reporter, stranger):
    """The editor lists the reporter, whom he follows: her new notice is on the list's
    timeline, the stranger's is not."""
    desk = editor.list_create("Harbour desk")
    editor.list_accounts_add(desk, [reporter.me().id])
    assert names(editor.list_accounts(desk)) == ["reporter"]
    assert desk.id in ids(editor.lists())
    hers = reporter.status_post("Engineers say the wall will hold")
    other = stranger.status_post("Nice weather on the quay")
    listed = ids(editor.timeline_list(desk))
    assert hers.id in listed and other.id not in listed, listed


def profile(reporter, stranger):
    """The reporter names herself, writes a bio and two fields; she and others see them."""
    reporter.account_update_credentials(
        display_name="Rita Porter",
        note="Harbour and shipping",
        fields=[("Desk", "Harbour"), ("Phone", "By appointment")],
    )
    me = reporter.account_verify_credentials()
    assert me.display_name == "Rita Porter", me
    assert me.source.note == "Harbour and shipping" and "Harbour and shipping" in me.note, me
    written = [("Desk", "Harbour"), ("Phone", "By appointment")]
    assert [(f.name, f.value) for f in me.source.fields] == written, me.source
    # Rendered values are HTML; Mastodon leaves plain text unwrapped, Tidings wraps it in <p>.
    assert [f.name for f in me.fields] == ["Desk", "Phone"], me.fields
    assert all(v in f.value for f, (_, v) in zip(me.fields, written)), me.fields
    assert stranger.account(me.id).display_name == "Rita Porter"


def scheduled(reporter):
    """A notice scheduled ten minutes ahead waits in the list of scheduled notices, and
    is gone from it once withdrawn."""
    when = datetime.now(timezone.utc) + timedelta(minutes=10)
    later = reporter.status_post("Tide tables for tomorrow", scheduled_at=when)
    assert later.params.text == "Tide tables for tomorrow", later
    assert abs((later.scheduled_at - when).total_seconds()) < 1, (later.scheduled_at, when)
    assert ids(reporter.scheduled_statuses()) == [later.id]
    reporter.scheduled_status_delete(later)
    assert ids(reporter.scheduled_statuses()) == []


def main():
    client_id, client_secret = Mastodon.create_app("newsroom", api_base_url=BASE, scopes=SCOPES)
    app = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=BASE)
    token = app.create_account("reporter", PASSWORD, "reporter@example.org", agreement=True, scopes=SCOPES)
    assert token, "registration returns a usable token"
    assert Mastodon(access_token=token, api_base_url=BASE).me().username == "reporter"

    m = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=BASE)
    # allow_http: the test server has no TLS; everything else is stock Mastodon.py.
    m.log_in("reporter@example.org", PASSWORD, scopes=SCOPES, allow_http=True)
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

    # The desk: an editor and three readers follow the reporter; a stranger does not.
    editor = sign_up(client_id, client_secret, "editor")
    readers = [sign_up(client_id, client_secret, f"reader{i}") for i in range(3)]
    stranger = sign_up(client_id, client_secret, "stranger")
    for follower in [editor] + readers:
        assert follower.account_follow(me.id).following
    root, answer, private = thread(m, editor, stranger)
    stranger.status_post("Queues at the #harbour ferry this morning")
    search(stranger, editor, first, private)
    notifications(m, editor, root, answer)
    followers(m, editor, readers)
    keeping(m, editor, stranger, root, answer)
    markers(m)
    counts([m, editor] + readers + [stranger], posters=[m, editor, stranger])
    photo(m, stranger)
    poll(m, editor)
    desk_list(editor, m, stranger)
    profile(m, stranger)
    scheduled(m)

    m.notifications_clear()
    assert ids(m.notifications()) == []
    m.status_delete(first.id)
    print("mastodon.py story: ok")


if __name__ == "__main__":
    main()
