-- Profiles (issue 12): what `update_credentials` sets. `note` holds the rendered HTML,
-- `note_source` what its owner wrote; `fields` is a JSON list of [name, value] pairs;
-- `privacy`, `sensitive` and `language` are her posting defaults.
ALTER TABLE accounts ADD COLUMN note_source TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN bot BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN discoverable BIGINT NOT NULL DEFAULT 1;
ALTER TABLE accounts ADD COLUMN fields TEXT NOT NULL DEFAULT '[]';
ALTER TABLE accounts ADD COLUMN privacy TEXT NOT NULL DEFAULT 'public';
ALTER TABLE accounts ADD COLUMN sensitive BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN language TEXT;
