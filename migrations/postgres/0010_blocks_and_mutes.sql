-- Blocks and mutes (issue 12). A block hides both accounts from each other; a mute hides
-- the muted account from the muter (and, unless `notifications` is 0, its notifications),
-- until `expires_at` when one is set.
CREATE TABLE blocks (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    target_id  BIGINT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, target_id)
);
CREATE INDEX blocks_by_target ON blocks (target_id, account_id);
CREATE INDEX blocks_by_account_time ON blocks (account_id, created_at);

CREATE TABLE mutes (
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    target_id     BIGINT NOT NULL REFERENCES accounts (id),
    notifications BIGINT NOT NULL DEFAULT 1,
    expires_at    BIGINT,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (account_id, target_id)
);
CREATE INDEX mutes_by_account_time ON mutes (account_id, created_at);
