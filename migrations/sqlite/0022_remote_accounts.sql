-- Remote accounts and their notices (issue 14). An account of another server is a row of
-- `accounts` with its `domain` set (NULL: one of ours); its `username_lower` is
-- `name@domain`, so a lookup of a local name (which has no `@`) never finds it. Its
-- pictures stay on its server (`avatar_remote`, `header_remote`).
ALTER TABLE accounts ADD COLUMN domain TEXT;
ALTER TABLE accounts ADD COLUMN uri TEXT;
ALTER TABLE accounts ADD COLUMN url TEXT;
ALTER TABLE accounts ADD COLUMN avatar_remote TEXT;
ALTER TABLE accounts ADD COLUMN header_remote TEXT;
ALTER TABLE accounts ADD COLUMN moved_to TEXT;
CREATE UNIQUE INDEX accounts_by_uri ON accounts (uri) WHERE uri IS NOT NULL;

-- The account a remote actor is shown as.
ALTER TABLE remote_actors ADD COLUMN account_id BIGINT;
CREATE INDEX remote_actors_by_account ON remote_actors (account_id);

-- A remote notice keeps its own uri and url (a local one's are made from its id).
ALTER TABLE statuses ADD COLUMN uri TEXT;
ALTER TABLE statuses ADD COLUMN url TEXT;
CREATE UNIQUE INDEX statuses_by_uri ON statuses (uri) WHERE uri IS NOT NULL;

-- A remote actor's follow request keeps its `Follow`'s id, for the `Accept` or `Reject`.
ALTER TABLE follow_requests ADD COLUMN uri TEXT;
