-- Stream rows are now written once, by the sequencer, together with their event's
-- position (before, the writer inserted them without one and the sequencer updated each
-- row: every stream row was written twice, and the foreign key ran a check per row).
-- Rows still waiting for a position are dropped: the sequencer writes them again, with
-- their positions, from `events.streams` when it numbers their events. With a position
-- on every row, (stream, position) is the key: one index, the one replays read, instead
-- of two.
DELETE FROM event_streams WHERE position IS NULL;
DROP INDEX IF EXISTS event_streams_unpositioned;
DROP INDEX IF EXISTS event_streams_replay;
ALTER TABLE event_streams DROP CONSTRAINT IF EXISTS event_streams_event_id_fkey;
ALTER TABLE event_streams DROP CONSTRAINT IF EXISTS event_streams_pkey;
ALTER TABLE event_streams ALTER COLUMN position SET NOT NULL;
ALTER TABLE event_streams ADD PRIMARY KEY (stream, position);
