-- Filters v2 (issue 12): an account's filters, their keywords and the notices they name.
CREATE TABLE filters (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    title      TEXT NOT NULL,
    contexts   TEXT NOT NULL,
    action     TEXT NOT NULL DEFAULT 'warn',
    expires_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX filters_by_account ON filters (account_id, id);
CREATE TABLE filter_keywords (
    id         BIGSERIAL PRIMARY KEY,
    filter_id  BIGINT NOT NULL REFERENCES filters (id),
    keyword    TEXT NOT NULL,
    whole_word BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX filter_keywords_by_filter ON filter_keywords (filter_id, id);
CREATE TABLE filter_statuses (
    id        BIGSERIAL PRIMARY KEY,
    filter_id BIGINT NOT NULL REFERENCES filters (id),
    status_id BIGINT NOT NULL REFERENCES statuses (id)
);
CREATE INDEX filter_statuses_by_filter ON filter_statuses (filter_id, id);
