-- Media (issue 12): uploaded images, attached to at most one notice each, and the files
-- themselves when the database keeps them (see src/media.rs).
CREATE TABLE media_attachments (
    id             BIGSERIAL PRIMARY KEY,
    account_id     BIGINT NOT NULL REFERENCES accounts (id),
    status_id      BIGINT REFERENCES statuses (id),
    file_key       TEXT NOT NULL,
    preview_key    TEXT NOT NULL,
    width          BIGINT NOT NULL,
    height         BIGINT NOT NULL,
    preview_width  BIGINT NOT NULL,
    preview_height BIGINT NOT NULL,
    blurhash       TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    focus_x        DOUBLE PRECISION NOT NULL DEFAULT 0,
    focus_y        DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);
CREATE INDEX media_by_status ON media_attachments (status_id, id) WHERE status_id IS NOT NULL;
CREATE TABLE media_blobs (
    file_key     TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL
);
ALTER TABLE statuses ADD COLUMN has_media BIGINT NOT NULL DEFAULT 0;
