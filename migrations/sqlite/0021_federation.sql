-- Federation (issue 14).
-- Each local account's RSA key pair, made the first time another server needs it (its
-- actor document), PEM encoded (SPKI public, PKCS#8 private).
CREATE TABLE account_keys (
    account_id INTEGER PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    public_key_pem TEXT NOT NULL,
    private_key_pem TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Actors of other servers we have read: their inboxes and key (refetched when a
-- signature fails with the cached key: key rotation).
CREATE TABLE remote_actors (
    id INTEGER PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    key_id TEXT NOT NULL,
    public_key_pem TEXT NOT NULL,
    inbox TEXT NOT NULL,
    shared_inbox TEXT,
    username TEXT NOT NULL DEFAULT '',
    fetched_at BIGINT NOT NULL
);
CREATE INDEX remote_actors_by_key ON remote_actors (key_id);

-- Remote actors following local accounts (their Follow accepted).
CREATE TABLE remote_followers (
    account_id INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    actor_id INTEGER NOT NULL REFERENCES remote_actors (id) ON DELETE CASCADE,
    follow_uri TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, actor_id)
);

-- Activities received, by id: a replayed or re-delivered one changes nothing twice.
CREATE TABLE inbox_seen (
    activity_uri TEXT PRIMARY KEY,
    seen_at BIGINT NOT NULL
);

-- The delivery queue. A job is written in the transaction of the change it announces;
-- its body is rendered when it is sent (so a notice deleted meanwhile is not sent as it
-- was). `kind`: create, update, delete (of `status_id`), or raw (`body` as written).
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    inbox TEXT NOT NULL,
    kind TEXT NOT NULL,
    status_id BIGINT,
    status_uri TEXT,
    body TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at);
