-- Live events (issue 17): a newsroom's curated live coverage of one story, fed by
-- hashtags. Named live_events: `events` is the event log.
CREATE TABLE live_events (
    id          BIGSERIAL PRIMARY KEY,
    -- Its name in addresses and in the `event` stream's key; never changes.
    slug        TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- 'upcoming', 'live' or 'ended'.
    state       TEXT NOT NULL,
    starts_at   BIGINT,
    ends_at     BIGINT,
    created_by  BIGINT NOT NULL REFERENCES accounts (id),
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX live_events_by_state ON live_events (state, id);

-- The hashtags that feed an event (normalised, as status_tags holds them).
CREATE TABLE live_event_tags (
    event_id BIGINT NOT NULL REFERENCES live_events (id),
    tag      TEXT NOT NULL,
    PRIMARY KEY (event_id, tag)
);
CREATE INDEX live_event_tags_by_tag ON live_event_tags (tag);

-- Who writes it: 'contributor' (her tagged notices go straight in) or 'editor' (also
-- curates, pins, marks key events, edits and changes the state).
CREATE TABLE live_event_members (
    event_id   BIGINT NOT NULL REFERENCES live_events (id),
    account_id BIGINT NOT NULL REFERENCES accounts (id),
    role       TEXT NOT NULL,
    PRIMARY KEY (event_id, account_id)
);
CREATE INDEX live_event_members_by_account ON live_event_members (account_id);

-- The notices of an event: curated (in the feed) or an open contribution; removed ones
-- stay as 'removed' so that they are not offered again. Pinned and key events are marks
-- on curated notices.
CREATE TABLE live_event_statuses (
    event_id   BIGINT NOT NULL REFERENCES live_events (id),
    status_id  BIGINT NOT NULL REFERENCES statuses (id),
    -- 'curated', 'open' or 'removed'.
    state      TEXT NOT NULL,
    pinned_at  BIGINT,
    key_label  TEXT,
    keyed_at   BIGINT,
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (event_id, status_id)
);
CREATE INDEX live_event_statuses_feed ON live_event_statuses (event_id, state, status_id);
CREATE INDEX live_event_statuses_by_status ON live_event_statuses (status_id);
