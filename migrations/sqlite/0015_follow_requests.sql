-- Locked accounts (issue 12): a follow of a locked account waits as a request until she
-- authorizes or rejects it.
ALTER TABLE accounts ADD COLUMN locked BIGINT NOT NULL DEFAULT 0;
CREATE TABLE follow_requests (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    target_id  BIGINT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, target_id)
);
CREATE INDEX follow_requests_by_target ON follow_requests (target_id, created_at);
