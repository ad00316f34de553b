-- Stream rows are now written once, by the sequencer, together with their event's
-- position (before, the writer inserted them without one and the sequencer updated each
-- row: every stream row was written twice, and the foreign key ran a check per row).
-- Rows still waiting for a position are dropped: the sequencer writes them again, with
-- their positions, from `events.streams` when it numbers their events.
DELETE FROM event_streams WHERE position IS NULL;
DROP INDEX IF EXISTS event_streams_unpositioned;
ALTER TABLE event_streams DROP CONSTRAINT IF EXISTS event_streams_event_id_fkey;
ALTER TABLE event_streams ALTER COLUMN position SET NOT NULL;
