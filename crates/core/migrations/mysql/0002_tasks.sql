-- The scheduler's durable task queue (docs/architecture.md, "The task queue"), and what
-- processing learns of a video.
-- `due_at` is when a task may next be claimed: its scheduled time while pending, the
-- expiry of its lease while running, so an expired lease makes a task due again.
CREATE TABLE tasks (
    id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    kind        VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    video_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    state       VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    due_at      BIGINT NOT NULL,
    lease_token CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NULL,
    lease_owner VARCHAR(255) NULL,
    last_error  TEXT NULL,
    create_time BIGINT NOT NULL,
    update_time BIGINT NOT NULL,
    UNIQUE KEY tasks_by_video (kind, video_id),
    INDEX tasks_due (state, due_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE video_info
    ADD COLUMN video_codec VARCHAR(32) NULL,
    ADD COLUMN audio_codec VARCHAR(32) NULL,
    ADD COLUMN processed BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN source_etag VARCHAR(255) NULL;
