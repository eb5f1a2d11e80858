-- Roles, bans, registration approval and per-user quota overrides; hidden videos;
-- reports and the moderators' audit log (docs/architecture.md, "Running a public site").
-- A quota override is NULL for the site's default, -1 for unlimited, else bytes.
ALTER TABLE users
    ADD COLUMN role VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT 'user',
    ADD COLUMN banned BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN approved BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN bytes_limit BIGINT NULL,
    ADD COLUMN daily_bytes_limit BIGINT NULL,
    ADD INDEX users_by_time (create_time DESC, id DESC);

ALTER TABLE video_info ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;

-- `open_key` is "video:reporter" while the report is open and NULL once resolved, so
-- a unique key allows one open report of a video per user on every backend.
CREATE TABLE reports (
    id            CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    video_id      CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    reporter_id   CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    reason        TEXT NOT NULL,
    state         VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    open_key      VARCHAR(80) CHARACTER SET ascii COLLATE ascii_bin NULL UNIQUE,
    create_time   BIGINT NOT NULL,
    resolution    VARCHAR(32) NULL,
    note          TEXT NULL,
    resolved_by   VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    resolve_time  BIGINT NULL,
    INDEX reports_by_state (state, create_time DESC, id DESC),
    INDEX reports_by_video (video_id, state),
    FOREIGN KEY (reporter_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Names, not ids: a reader of the log needs no other lookup, and names never change.
CREATE TABLE audit_log (
    id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    actor       VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    action      VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    target_kind VARCHAR(16) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    target      TEXT NOT NULL,
    target_id   VARCHAR(64) NULL,
    note        TEXT NULL,
    time        BIGINT NOT NULL,
    INDEX audit_log_by_time (time DESC, id DESC)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
