-- Users, videos, comments, sessions and the deletion queue (docs/architecture.md, "Data").
-- Ids use the "C" collation so keyset pagination compares them byte by byte.
CREATE TABLE users (
    id          TEXT COLLATE "C" PRIMARY KEY,
    login_name  TEXT COLLATE "C" NOT NULL UNIQUE,
    pwd_hash    TEXT NOT NULL,
    create_time BIGINT NOT NULL
);

CREATE TABLE video_info (
    id            TEXT COLLATE "C" PRIMARY KEY,
    author_id     TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    display_ctime TEXT NOT NULL,
    create_time   BIGINT NOT NULL,
    status        TEXT NOT NULL,
    size          BIGINT,
    duration_ms   BIGINT,
    width         BIGINT,
    height        BIGINT,
    progress      BIGINT,
    failure       TEXT
);
CREATE INDEX video_info_by_author ON video_info (author_id, create_time DESC, id DESC);
CREATE INDEX video_info_by_status ON video_info (status, create_time DESC, id DESC);

CREATE TABLE comments (
    id        TEXT COLLATE "C" PRIMARY KEY,
    video_id  TEXT COLLATE "C" NOT NULL REFERENCES video_info(id) ON DELETE CASCADE,
    author_id TEXT COLLATE "C" NOT NULL REFERENCES users(id),
    content   TEXT NOT NULL,
    time      BIGINT NOT NULL
);
CREATE INDEX comments_by_video ON comments (video_id, time DESC, id DESC);

CREATE TABLE sessions (
    session_id TEXT COLLATE "C" PRIMARY KEY,
    ttl        BIGINT NOT NULL,
    login_name TEXT NOT NULL,
    user_id    TEXT NOT NULL
);
CREATE INDEX sessions_by_ttl ON sessions (ttl);

CREATE TABLE video_del_rec (
    video_id    TEXT COLLATE "C" PRIMARY KEY,
    create_time BIGINT NOT NULL
);
