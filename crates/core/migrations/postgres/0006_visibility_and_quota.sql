-- Visibility and description of a video, and when its upload landed (for the daily quota).
ALTER TABLE video_info ADD COLUMN visibility TEXT NOT NULL DEFAULT 'public';
ALTER TABLE video_info ADD COLUMN description TEXT;
ALTER TABLE video_info ADD COLUMN uploaded_at BIGINT;
CREATE INDEX video_info_by_upload ON video_info (author_id, uploaded_at);
