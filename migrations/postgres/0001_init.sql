-- Tidings schema for PostgreSQL. Times are microseconds since the Unix epoch (BIGINT);
-- flags are BIGINT 0/1 so that one set of queries reads both backends alike.

CREATE TABLE apps (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT NOT NULL,
    website       TEXT,
    redirect_uris TEXT NOT NULL,
    scopes        TEXT NOT NULL,
    client_id     TEXT NOT NULL UNIQUE,
    client_secret TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE accounts (
    id              BIGSERIAL PRIMARY KEY,
    username        TEXT NOT NULL,
    username_lower  TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL DEFAULT '',
    note            TEXT NOT NULL DEFAULT '',
    email           TEXT,
    password_hash   TEXT,
    is_admin        BIGINT NOT NULL DEFAULT 0,
    statuses_count  BIGINT NOT NULL DEFAULT 0,
    followers_count BIGINT NOT NULL DEFAULT 0,
    following_count BIGINT NOT NULL DEFAULT 0,
    last_status_at  BIGINT,
    created_at      BIGINT NOT NULL
);

CREATE TABLE tokens (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    app_id     BIGINT REFERENCES apps (id),
    account_id BIGINT REFERENCES accounts (id),
    scopes     TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE auth_codes (
    code_hash      TEXT PRIMARY KEY,
    app_id         BIGINT NOT NULL REFERENCES apps (id),
    account_id     BIGINT NOT NULL REFERENCES accounts (id),
    redirect_uri   TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    code_challenge TEXT,
    created_at     BIGINT NOT NULL
);

CREATE TABLE statuses (
    id                     BIGSERIAL PRIMARY KEY,
    account_id             BIGINT NOT NULL REFERENCES accounts (id),
    text                   TEXT NOT NULL,
    content                TEXT NOT NULL,
    spoiler_text           TEXT NOT NULL DEFAULT '',
    sensitive              BIGINT NOT NULL DEFAULT 0,
    visibility             TEXT NOT NULL,
    language               TEXT,
    in_reply_to_id         BIGINT,
    in_reply_to_account_id BIGINT,
    reblog_of_id           BIGINT,
    tags                   TEXT NOT NULL DEFAULT '',
    mentions               TEXT NOT NULL DEFAULT '',
    replies_count          BIGINT NOT NULL DEFAULT 0,
    reblogs_count          BIGINT NOT NULL DEFAULT 0,
    favourites_count       BIGINT NOT NULL DEFAULT 0,
    created_at             BIGINT NOT NULL,
    edited_at              BIGINT,
    deleted_at             BIGINT
);
CREATE INDEX statuses_by_account ON statuses (account_id, id);
CREATE INDEX statuses_public ON statuses (id) WHERE visibility = 'public' AND reblog_of_id IS NULL AND deleted_at IS NULL;
CREATE INDEX statuses_reblogs ON statuses (reblog_of_id, account_id) WHERE reblog_of_id IS NOT NULL;

CREATE TABLE status_tags (
    tag       TEXT NOT NULL,
    status_id BIGINT NOT NULL REFERENCES statuses (id),
    PRIMARY KEY (tag, status_id)
);

CREATE TABLE status_edits (
    id           BIGSERIAL PRIMARY KEY,
    status_id    BIGINT NOT NULL REFERENCES statuses (id),
    text         TEXT NOT NULL,
    content      TEXT NOT NULL,
    spoiler_text TEXT NOT NULL,
    sensitive    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX status_edits_by_status ON status_edits (status_id, id);

CREATE TABLE follows (
    follower_id BIGINT NOT NULL REFERENCES accounts (id),
    target_id   BIGINT NOT NULL REFERENCES accounts (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (follower_id, target_id)
);
CREATE INDEX follows_by_target ON follows (target_id, follower_id);

CREATE TABLE favourites (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    status_id  BIGINT NOT NULL REFERENCES statuses (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, status_id)
);

CREATE TABLE idempotency_keys (
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    key        TEXT NOT NULL,
    status_id  BIGINT NOT NULL REFERENCES statuses (id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, key)
);

-- The event log. A writer inserts with position NULL in its own transaction; the
-- sequencer (one at a time, under an advisory lock) gives committed rows consecutive
-- positions. See src/sequencer.rs.
CREATE TABLE events (
    id         BIGSERIAL PRIMARY KEY,
    position   BIGINT UNIQUE,
    kind       TEXT NOT NULL,
    payload    TEXT NOT NULL,
    streams    TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX events_unpositioned ON events (id) WHERE position IS NULL;

-- Which streams each event belongs to; `position` is copied here by the sequencer so
-- that a resume ("stream S after position P") is one index range scan.
CREATE TABLE event_streams (
    stream   TEXT NOT NULL,
    event_id BIGINT NOT NULL REFERENCES events (id),
    position BIGINT,
    PRIMARY KEY (stream, event_id)
);
CREATE INDEX event_streams_replay ON event_streams (stream, position);

CREATE TABLE relay_state (
    id             BIGINT PRIMARY KEY,
    published_upto BIGINT NOT NULL
);
INSERT INTO relay_state (id, published_upto) VALUES (1, 0);
