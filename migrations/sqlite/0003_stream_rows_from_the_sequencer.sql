-- Stream rows are now written once, by the sequencer, together with their event's
-- position (before, the writer inserted them without one and the sequencer updated each
-- row: every stream row was written twice, and the foreign key ran a check per row).
-- Rows still waiting for a position are dropped: the sequencer writes them again, with
-- their positions, from `events.streams` when it numbers their events. With a position
-- on every row, (stream, position) is the key: one index, the one replays read, instead
-- of two. SQLite cannot change constraints in place, so the table is rebuilt.
CREATE TABLE event_streams_new (
    stream   TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    position BIGINT NOT NULL,
    PRIMARY KEY (stream, position)
);
INSERT INTO event_streams_new (stream, event_id, position)
    SELECT stream, event_id, position FROM event_streams WHERE position IS NOT NULL;
DROP TABLE event_streams;
ALTER TABLE event_streams_new RENAME TO event_streams;
