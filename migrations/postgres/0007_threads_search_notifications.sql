-- Threads, the social graph's lists, search and notifications (issue 12).

CREATE INDEX statuses_replies ON statuses (in_reply_to_id, id) WHERE in_reply_to_id IS NOT NULL;

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

CREATE TABLE notifications (
    id              BIGSERIAL PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    from_account_id BIGINT NOT NULL REFERENCES accounts (id),
    type            TEXT NOT NULL,
    status_id       BIGINT REFERENCES statuses (id),
    created_at      BIGINT NOT NULL
);
CREATE INDEX notifications_by_account ON notifications (account_id, id);
CREATE INDEX notifications_by_status ON notifications (status_id) WHERE status_id IS NOT NULL;

-- Full-text search over every notice: a generated tsvector ('simple': no stemming, as
-- notices come in every language) with a GIN index over the live, original ones.
ALTER TABLE statuses ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', spoiler_text || ' ' || text)) STORED;
CREATE INDEX statuses_search ON statuses USING GIN (search)
    WHERE reblog_of_id IS NULL AND deleted_at IS NULL;
