-- The scheduler's durable task queue (docs/architecture.md, "The task queue"), and what
-- processing learns of a video.
-- `due_at` is when a task may next be claimed: its scheduled time while pending, the
-- expiry of its lease while running, so an expired lease makes a task due again.
CREATE TABLE tasks (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    video_id    TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    due_at      BIGINT NOT NULL,
    lease_token TEXT,
    lease_owner TEXT,
    last_error  TEXT,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    UNIQUE (kind, video_id)
);
CREATE INDEX tasks_due ON tasks (state, due_at);

ALTER TABLE video_info ADD COLUMN video_codec TEXT;
ALTER TABLE video_info ADD COLUMN audio_codec TEXT;
ALTER TABLE video_info ADD COLUMN processed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE video_info ADD COLUMN source_etag TEXT;
