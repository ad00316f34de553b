-- Each event row names the notice it carries and that notice's author, so that history
-- can be served as it is now: deleting a notice blanks its earlier events (their text is
-- gone from the log, positions stay), the delete reaches every stream any of them went
-- to, and a replay of a home stream re-checks whether its reader still follows the author.
ALTER TABLE events ADD COLUMN status_id BIGINT;
ALTER TABLE events ADD COLUMN author_id BIGINT;
UPDATE events SET
    status_id = CASE WHEN kind = 'delete' THEN payload::bigint
                     ELSE (payload::jsonb ->> 'id')::bigint END,
    author_id = CASE WHEN kind = 'delete' THEN NULL
                     ELSE (payload::jsonb -> 'account' ->> 'id')::bigint END;
CREATE INDEX events_by_status ON events (status_id) WHERE status_id IS NOT NULL;
-- What was deleted before this migration is blanked now.
UPDATE events SET payload = '', streams = ''
    WHERE kind <> 'delete'
      AND status_id IN (SELECT id FROM statuses WHERE deleted_at IS NOT NULL);
