-- The sequencer copies each new event's position into its stream rows. Without this
-- index that UPDATE scanned all of event_streams on every round, so posting slowed down
-- as the log grew. Rows leave the index once they have their position.
CREATE INDEX event_streams_unpositioned ON event_streams (event_id) WHERE position IS NULL;
