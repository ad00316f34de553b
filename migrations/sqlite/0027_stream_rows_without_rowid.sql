-- A stream row is its key, (stream, position), and the event it names: the table now keeps
-- its rows in that key's own B-tree (WITHOUT ROWID) instead of in a rowid table beside an
-- index of the key. Each row a post writes (five for a public notice with a tag) was two
-- B-tree inserts, one of them into a page of its own in the WAL; now it is one. Reads are
-- unchanged: they all look rows up by stream and position. SQLite cannot change a table's
-- kind in place, so it is rebuilt (a node with many events takes a moment at start-up).
-- The key's columns come first: SQLite 3.40's `PRAGMA integrity_check` (Debian 12's
-- sqlite3) reports false "NULL value" errors for a WITHOUT ROWID table with a column
-- between its key's columns.
CREATE TABLE event_streams_keyed (
    stream   TEXT NOT NULL,
    position BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (stream, position)
) WITHOUT ROWID;
INSERT INTO event_streams_keyed (stream, event_id, position)
    SELECT stream, event_id, position FROM event_streams;
DROP TABLE event_streams;
ALTER TABLE event_streams_keyed RENAME TO event_streams;
