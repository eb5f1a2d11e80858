-- Visibility and description of a video, and when its upload landed (for the daily quota).
ALTER TABLE video_info ADD COLUMN visibility VARCHAR(16) NOT NULL DEFAULT 'public';
ALTER TABLE video_info ADD COLUMN description TEXT NULL;
ALTER TABLE video_info ADD COLUMN uploaded_at BIGINT NULL;
CREATE INDEX video_info_by_upload ON video_info (author_id, uploaded_at);
