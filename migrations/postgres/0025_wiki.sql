-- Wiki accounts (issue 16): an account signed in through a MediaWiki is linked to the
-- wiki's user id (not its name: a rename on the wiki follows), with what the wiki said of
-- her when last asked.

-- Why she may not post, when the wiki decides it: NULL (she may), 'wiki_group' (not in
-- the wiki group that may post), 'wiki_blocked' (blocked on the wiki).
ALTER TABLE accounts ADD COLUMN posting_bar TEXT;

CREATE TABLE wiki_links (
    account_id      BIGINT PRIMARY KEY REFERENCES accounts (id),
    wiki_user_id    BIGINT NOT NULL UNIQUE,
    wiki_name       TEXT NOT NULL,
    -- Effective groups, space-separated (wiki group names hold no spaces: underscores).
    groups          TEXT NOT NULL DEFAULT '',
    blocked         BIGINT NOT NULL DEFAULT 0,
    editcount       BIGINT NOT NULL DEFAULT 0,
    -- She is a moderator because a wiki group made her one (and stops being one when she
    -- leaves it); a role given in Tidings is left alone.
    moderator_by_wiki BIGINT NOT NULL DEFAULT 0,
    -- Staff gave her a role here: the wiki's groups no longer change it.
    role_pinned     BIGINT NOT NULL DEFAULT 0,
    -- Her account is disabled because she is blocked on the wiki (when the operator says
    -- a block stops reading too); lifted with the block, never a moderator's own disable.
    disabled_by_wiki  BIGINT NOT NULL DEFAULT 0,
    checked_at      BIGINT NOT NULL
);
CREATE INDEX wiki_links_by_check ON wiki_links (checked_at);

-- Sign-in assertions already used (a replayed one is refused), kept until they expire.
CREATE TABLE wiki_nonces (
    nonce       TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);
