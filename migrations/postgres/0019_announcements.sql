-- Announcements (issue 12): what the administrators tell every account, with the
-- accounts that dismissed each one and their emoji reactions.
CREATE TABLE announcements (
    id           BIGSERIAL PRIMARY KEY,
    text         TEXT NOT NULL,
    content      TEXT NOT NULL,
    starts_at    BIGINT,
    ends_at      BIGINT,
    all_day      BIGINT NOT NULL DEFAULT 0,
    published_at BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE announcement_dismissals (
    announcement_id BIGINT NOT NULL REFERENCES announcements (id),
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (announcement_id, account_id)
);

CREATE TABLE announcement_reactions (
    announcement_id BIGINT NOT NULL REFERENCES announcements (id),
    account_id      BIGINT NOT NULL REFERENCES accounts (id),
    name            TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (announcement_id, account_id, name)
);

-- What a withdrawal blanks (see `NewEvent::about_announcement`), found without a scan.
CREATE INDEX events_of_announcements ON events (id)
    WHERE kind IN ('announcement', 'announcement.reaction');
