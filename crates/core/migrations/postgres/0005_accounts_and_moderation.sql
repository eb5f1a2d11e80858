-- Roles, bans, registration approval and per-user quota overrides; hidden videos;
-- reports and the moderators' audit log (docs/architecture.md, "Running a public site").
-- A quota override is NULL for the site's default, -1 for unlimited, else bytes.
ALTER TABLE users
    ADD COLUMN role TEXT COLLATE "C" NOT NULL DEFAULT 'user',
    ADD COLUMN banned BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN approved BIGINT NOT NULL DEFAULT 1,
    ADD COLUMN bytes_limit BIGINT,
    ADD COLUMN daily_bytes_limit BIGINT;
CREATE INDEX users_by_time ON users (create_time DESC, id DESC);

ALTER TABLE video_info ADD COLUMN hidden BIGINT NOT NULL DEFAULT 0;

-- `open_key` is "video:reporter" while the report is open and NULL once resolved, so
-- a unique key allows one open report of a video per user on every backend.
CREATE TABLE reports (
    id            TEXT COLLATE "C" PRIMARY KEY,
    video_id      TEXT COLLATE "C" NOT NULL,
    reporter_id   TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    reason        TEXT NOT NULL,
    state         TEXT COLLATE "C" NOT NULL,
    open_key      TEXT COLLATE "C" UNIQUE,
    create_time   BIGINT NOT NULL,
    resolution    TEXT,
    note          TEXT,
    resolved_by   TEXT,
    resolve_time  BIGINT
);
CREATE INDEX reports_by_state ON reports (state, create_time DESC, id DESC);
CREATE INDEX reports_by_video ON reports (video_id, state);

-- Names, not ids: a reader of the log needs no other lookup, and names never change.
CREATE TABLE audit_log (
    id          TEXT COLLATE "C" PRIMARY KEY,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target      TEXT NOT NULL,
    target_id   TEXT,
    note        TEXT,
    time        BIGINT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (time DESC, id DESC);
