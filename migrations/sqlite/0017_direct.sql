-- Direct notices and conversations (issue 12).
--
-- Who each notice mentions, one row per account: what lets a mentioned account read a
-- private or direct notice, and find the direct ones addressed to her. Rows are added
-- on post and on edit, never removed by an edit: whoever was told may still read it.
CREATE TABLE status_mentions (
    status_id  BIGINT NOT NULL REFERENCES statuses (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (status_id, account_id)
);
CREATE INDEX status_mentions_by_account ON status_mentions (account_id, status_id);
INSERT INTO status_mentions (status_id, account_id)
    SELECT s.id, a.id FROM statuses s JOIN accounts a
        ON (' ' || s.mentions) LIKE ('% ' || a.id || ':%')
    WHERE s.mentions <> '';

-- One account's view of a thread of direct notices (Mastodon's account conversation):
-- keyed by the thread's first notice, with the other participants and whether she has
-- read its latest notice. Its notices are in `conversation_statuses`; the latest one
-- still standing is read from there, so a deletion needs no bookkeeping here.
CREATE TABLE conversations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    root_id         BIGINT NOT NULL,
    participant_ids TEXT NOT NULL DEFAULT '',
    unread          BIGINT NOT NULL DEFAULT 0,
    UNIQUE (account_id, root_id)
);

CREATE TABLE conversation_statuses (
    conversation_id BIGINT NOT NULL REFERENCES conversations (id),
    status_id       BIGINT NOT NULL REFERENCES statuses (id),
    PRIMARY KEY (conversation_id, status_id)
);
CREATE INDEX conversation_statuses_by_status ON conversation_statuses (status_id);
