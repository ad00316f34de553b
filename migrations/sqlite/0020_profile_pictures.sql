-- Avatars and headers (issue 12): each account's current pictures, by media key. A key
-- is served at /media/{key} only while an account shows it (hence the indexes).
ALTER TABLE accounts ADD COLUMN avatar_key TEXT;
ALTER TABLE accounts ADD COLUMN header_key TEXT;
CREATE INDEX accounts_by_avatar_key ON accounts (avatar_key) WHERE avatar_key IS NOT NULL;
CREATE INDEX accounts_by_header_key ON accounts (header_key) WHERE header_key IS NOT NULL;
