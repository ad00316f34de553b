-- Lists (issue 12): an account's curated sets of accounts it follows, each with its own
-- timeline and stream. `replies_policy` is Mastodon's: list, followed or none;
-- `exclusive` keeps members' notices out of the owner's home timeline.
CREATE TABLE lists (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id     BIGINT NOT NULL REFERENCES accounts (id),
    title          TEXT NOT NULL,
    replies_policy TEXT NOT NULL DEFAULT 'list',
    exclusive      BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);
CREATE INDEX lists_by_account ON lists (account_id, id);

CREATE TABLE list_accounts (
    list_id    BIGINT NOT NULL REFERENCES lists (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (list_id, account_id)
);
CREATE INDEX list_accounts_by_account ON list_accounts (account_id, list_id);
