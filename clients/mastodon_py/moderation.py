"""A volunteer moderator's night, told through Mastodon.py's admin functions, unmodified:
a spammer is reported, the report is worked, the account suspended (its notices gone from
the tag page, its token dead), lifted, silenced, marked sensitive, a troll disabled and
enabled, a server blocked and unblocked; and a user who tries the same is refused.

Usage: python moderation.py http://127.0.0.1:PORT ADMIN_USERNAME
(the administrator's password is the stories' usual one; exit status 0 when every step
held)
"""

import sys
import time

from mastodon import Mastodon, MastodonAPIError

BASE, ADMIN = sys.argv[1], sys.argv[2]
PASSWORD = "correct horse battery"
USER_SCOPES = ["read", "write", "follow"]
ADMIN_SCOPES = USER_SCOPES + ["admin:read", "admin:write"]


def client(username, scopes):
    cid, secret = Mastodon.create_app("moderation story", scopes=scopes, api_base_url=BASE)
    m = Mastodon(client_id=cid, client_secret=secret, api_base_url=BASE)
    # allow_http: the test server has no TLS; everything else is stock Mastodon.py.
    m.log_in(username, PASSWORD, scopes=scopes, allow_http=True)
    return m


def sign_up(name):
    cid, secret = Mastodon.create_app("sign-up", scopes=USER_SCOPES, api_base_url=BASE)
    m = Mastodon(client_id=cid, client_secret=secret, api_base_url=BASE)
    m.create_account(name, PASSWORD, f"{name}@example.org", agreement=True, locale="en",
                     scopes=USER_SCOPES)
    return m


def refused(call, status):
    try:
        call()
    except MastodonAPIError as e:
        assert e.args[1] == status, f"expected {status}, got {e.args}"
        return
    raise AssertionError(f"expected a refusal with {status}")


def wait_for(cond, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


admin = client(ADMIN, ADMIN_SCOPES)
spammer = sign_up("spammer")
victim = sign_up("victim")
troll = sign_up("troll")
spammer_id = spammer.me().id
troll_id = troll.me().id

spam = spammer.status_post("cheap pills #deal")
victim.status_post("an honest offer #deal")
assert len(victim.timeline_hashtag("deal")) == 2

# The victim reports; the moderators see it.
report = victim.report(spammer_id, status_ids=[spam.id], comment="pill spam", category="spam")
assert str(report.target_account.id) == str(spammer_id)
open_reports = admin.admin_reports()
assert [str(r.id) for r in open_reports] == [str(report.id)], open_reports
detail = admin.admin_report(report.id)
assert str(detail.statuses[0].id) == str(spam.id)
assert detail.account.username == "victim" and detail.target_account.username == "spammer"
assigned = admin.admin_report_assign(report.id)
assert assigned.assigned_account.username == ADMIN
assert admin.admin_report_unassign(report.id).assigned_account is None

# The accounts, as moderators list and filter them (v2 and v1).
found = admin.admin_accounts_v2(username="spammer")
assert [a.username for a in found] == ["spammer"], found
assert found[0].email == "spammer@example.org"
local_active = admin.admin_accounts()
assert "spammer" in [a["username"] for a in local_active], local_active
assert admin.admin_account(spammer_id).suspended is False

# Suspended, with the report: gone from the tag page, its token dead, report resolved.
admin.admin_account_moderate(spammer_id, action="suspend", report_id=report.id,
                             text="pill spam")
assert admin.admin_account(spammer_id).suspended is True
assert len(victim.timeline_hashtag("deal")) == 1
refused(lambda: spammer.account_verify_credentials(), 401)
assert admin.admin_report(report.id).action_taken is True
assert admin.admin_reports() == []
assert [str(r.id) for r in admin.admin_reports(resolved=True)] == [str(report.id)]
assert "spammer" in [a.username for a in admin.admin_accounts_v2(status="suspended")]

# Lifted: the notice is back.
admin.admin_account_unsuspend(spammer_id)
wait_for(lambda: len(victim.timeline_hashtag("deal")) == 2, "the lifted notice")

# Silenced, marked sensitive, and undone.
admin.admin_account_moderate(spammer_id, action="silence", text="loud")
assert admin.admin_account(spammer_id).silenced is True
assert len(victim.timeline_hashtag("deal")) == 1
admin.admin_account_unsilence(spammer_id)
admin.admin_account_moderate(spammer_id, action="sensitive")
assert admin.admin_account(spammer_id).sensitized is True
admin.admin_account_unsensitive(spammer_id)
assert admin.admin_account(spammer_id).sensitized is False

# A troll disabled: no sign-in; enabled again.
admin.admin_account_moderate(troll_id, action="disable")
assert admin.admin_account(troll_id).disabled is True
refused(lambda: troll.timeline_home(), 401)
admin.admin_account_enable(troll_id)
troll.timeline_home()

# A server blocked, changed and unblocked.
block = admin.admin_create_domain_block("spam.example", severity="suspend",
                                        private_comment="botnet")
assert block.domain == "spam.example" and block.severity == "suspend"
assert [b.domain for b in admin.admin_domain_blocks()] == ["spam.example"]
changed = admin.admin_update_domain_block(block.id, severity="silence")
assert changed.severity == "silence"
admin.admin_delete_domain_block(block.id)
assert admin.admin_domain_blocks() == []

# Reopened and resolved by hand.
assert admin.admin_report_reopen(report.id).action_taken is False
assert admin.admin_report_resolve(report.id).action_taken is True

# A user with an admin-scoped token is still a user.
posing = client("victim", ADMIN_SCOPES)
refused(lambda: posing.admin_accounts_v2(), 403)
refused(lambda: posing.admin_account_moderate(spammer_id, action="suspend"), 403)
assert admin.admin_account(spammer_id).suspended is False

print("mastodon.py moderation story: ok")
