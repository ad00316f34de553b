-- The full-text index takes new notices after their post has committed, in batches
-- (`src/store/search.rs`), instead of in the post's own transaction: FTS5 writes a
-- segment of its own at every commit that touched it, ~150,000 instructions of a lone
-- post's ~820,000, where twenty notices indexed together cost a tenth of that each.
--
-- `statuses_fts_mark.upto` is the highest status id the index has taken: every notice
-- at or below it is indexed (or is a reblog, or deleted), none above it. Status ids only
-- grow (AUTOINCREMENT), so the notices still to index are those above the mark. An edit
-- or a deletion re-indexes a notice only if the index has it; one above the mark is
-- indexed later as it then is (a deleted one not at all). Search brings the index up to
-- the mark of the newest notice first, so a notice is found the moment it is posted.
CREATE TABLE statuses_fts_mark (upto BIGINT NOT NULL);
INSERT INTO statuses_fts_mark (upto) SELECT COALESCE(MAX(id), 0) FROM statuses;

DROP TRIGGER statuses_fts_insert;
DROP TRIGGER statuses_fts_update;
CREATE TRIGGER statuses_fts_update AFTER UPDATE OF text, spoiler_text, deleted_at ON statuses
WHEN old.reblog_of_id IS NULL AND old.deleted_at IS NULL
    AND old.id <= (SELECT upto FROM statuses_fts_mark) BEGIN
    INSERT INTO statuses_fts (statuses_fts, rowid, text, spoiler_text)
        VALUES ('delete', old.id, old.text, old.spoiler_text);
    INSERT INTO statuses_fts (rowid, text, spoiler_text)
        SELECT new.id, new.text, new.spoiler_text WHERE new.deleted_at IS NULL;
END;
