-- Polls (issue 12): a notice's poll, its options with their counts, and who chose what.
CREATE TABLE polls (
    id           BIGSERIAL PRIMARY KEY,
    status_id    BIGINT NOT NULL REFERENCES statuses (id),
    expires_at   BIGINT NOT NULL,
    multiple     BIGINT NOT NULL DEFAULT 0,
    hide_totals  BIGINT NOT NULL DEFAULT 0,
    votes_count  BIGINT NOT NULL DEFAULT 0,
    voters_count BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL
);
CREATE TABLE poll_options (
    poll_id     BIGINT NOT NULL REFERENCES polls (id),
    idx         BIGINT NOT NULL,
    title       TEXT NOT NULL,
    votes_count BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (poll_id, idx)
);
CREATE TABLE poll_votes (
    poll_id    BIGINT NOT NULL REFERENCES polls (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    choice     BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (poll_id, account_id, choice)
);
ALTER TABLE statuses ADD COLUMN poll_id BIGINT;
