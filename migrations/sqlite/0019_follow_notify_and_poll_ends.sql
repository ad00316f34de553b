-- A follower who asked to be told of each new notice (`notify` on follow: a `status`
-- notification), and polls whose end has been told to their voters and author (`poll`).
ALTER TABLE follows ADD COLUMN notify BIGINT NOT NULL DEFAULT 0;
ALTER TABLE polls ADD COLUMN ended_told BIGINT NOT NULL DEFAULT 0;
CREATE INDEX polls_to_tell ON polls (expires_at) WHERE ended_told = 0;
CREATE INDEX follows_notifying ON follows (target_id) WHERE notify = 1;
