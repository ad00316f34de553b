-- Scheduled notices (issue 12): published at `scheduled_at` by whichever node claims the
-- row first (`claimed_until`); `params` is the notice as validated when it was scheduled.
CREATE TABLE scheduled_statuses (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts (id),
    scheduled_at  BIGINT NOT NULL,
    params        TEXT NOT NULL,
    claimed_until BIGINT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX scheduled_statuses_due ON scheduled_statuses (scheduled_at);
CREATE INDEX scheduled_statuses_by_account ON scheduled_statuses (account_id, id);
