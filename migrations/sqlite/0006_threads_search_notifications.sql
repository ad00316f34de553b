-- Threads, the social graph's lists, search and notifications (issue 12).

-- Replies of a notice: a thread's descendants are found by walking down this index.
CREATE INDEX statuses_replies ON statuses (in_reply_to_id, id) WHERE in_reply_to_id IS NOT NULL;

-- Followers and following are paged newest first by when the follow was made.
CREATE INDEX follows_by_follower_time ON follows (follower_id, created_at);
CREATE INDEX follows_by_target_time ON follows (target_id, created_at);
CREATE INDEX favourites_by_account_time ON favourites (account_id, created_at);
CREATE INDEX favourites_by_status ON favourites (status_id, created_at);

CREATE TABLE bookmarks (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    status_id  BIGINT NOT NULL REFERENCES statuses (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, status_id)
);
CREATE INDEX bookmarks_by_account_time ON bookmarks (account_id, created_at);

CREATE TABLE pins (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    status_id  BIGINT NOT NULL REFERENCES statuses (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, status_id)
);

-- What happened to an account that it should hear of: a mention, a follow, a favourite,
-- a reblog, an edit of a notice it reblogged. `status_id` is the notice it is about.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    from_account_id BIGINT NOT NULL REFERENCES accounts (id),
    type            TEXT NOT NULL,
    status_id       BIGINT REFERENCES statuses (id),
    created_at      BIGINT NOT NULL
);
CREATE INDEX notifications_by_account ON notifications (account_id, id);
CREATE INDEX notifications_by_status ON notifications (status_id) WHERE status_id IS NOT NULL;

-- Full-text search over every notice (not a recent window), kept by triggers: a new
-- notice is indexed, an edit re-indexed, a deletion removed. Reblogs carry no text.
CREATE VIRTUAL TABLE statuses_fts USING fts5 (
    text, spoiler_text,
    content = 'statuses', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER statuses_fts_insert AFTER INSERT ON statuses
WHEN new.reblog_of_id IS NULL AND new.deleted_at IS NULL BEGIN
    INSERT INTO statuses_fts (rowid, text, spoiler_text) VALUES (new.id, new.text, new.spoiler_text);
END;
CREATE TRIGGER statuses_fts_update AFTER UPDATE OF text, spoiler_text, deleted_at ON statuses
WHEN old.reblog_of_id IS NULL AND old.deleted_at IS NULL BEGIN
    INSERT INTO statuses_fts (statuses_fts, rowid, text, spoiler_text)
        VALUES ('delete', old.id, old.text, old.spoiler_text);
    INSERT INTO statuses_fts (rowid, text, spoiler_text)
        SELECT new.id, new.text, new.spoiler_text WHERE new.deleted_at IS NULL;
END;
INSERT INTO statuses_fts (rowid, text, spoiler_text)
    SELECT id, text, spoiler_text FROM statuses WHERE reblog_of_id IS NULL AND deleted_at IS NULL;
