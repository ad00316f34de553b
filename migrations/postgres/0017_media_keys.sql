-- The media file route looks its key up (src/store/media.rs): a deleted notice's images
-- are not served.
CREATE INDEX media_by_file_key ON media_attachments (file_key);
CREATE INDEX media_by_preview_key ON media_attachments (preview_key);
