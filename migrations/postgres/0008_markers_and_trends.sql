-- Where a reader left off, per timeline (Mastodon's markers).
CREATE TABLE markers (
    account_id   BIGINT NOT NULL REFERENCES accounts (id),
    timeline     TEXT NOT NULL,
    last_read_id BIGINT NOT NULL,
    version      BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, timeline)
);
-- Trends read the tags of the last week's notices.
CREATE INDEX statuses_recent_public ON statuses (created_at) WHERE visibility = 'public' AND reblog_of_id IS NULL AND deleted_at IS NULL;
