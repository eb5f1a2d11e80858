-- Users, videos, comments, sessions and the deletion queue (docs/architecture.md, "Data").
-- Names and ids compare byte by byte (utf8mb4_bin), as on SQLite and PostgreSQL.
CREATE TABLE users (
    id          CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    login_name  VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL UNIQUE,
    pwd_hash    TEXT NOT NULL,
    create_time BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE video_info (
    id            CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    author_id     CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name          TEXT NOT NULL,
    display_ctime VARCHAR(64) NOT NULL,
    create_time   BIGINT NOT NULL,
    status        VARCHAR(32) NOT NULL,
    size          BIGINT NULL,
    duration_ms   BIGINT NULL,
    width         BIGINT NULL,
    height        BIGINT NULL,
    progress      BIGINT NULL,
    failure       TEXT NULL,
    INDEX video_info_by_author (author_id, create_time DESC, id DESC),
    INDEX video_info_by_status (status, create_time DESC, id DESC),
    FOREIGN KEY (author_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE comments (
    id        CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    video_id  CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    author_id CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    content   TEXT NOT NULL,
    time      BIGINT NOT NULL,
    INDEX comments_by_video (video_id, time DESC, id DESC),
    FOREIGN KEY (video_id) REFERENCES video_info(id) ON DELETE CASCADE,
    FOREIGN KEY (author_id) REFERENCES users(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE sessions (
    session_id CHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    ttl        BIGINT NOT NULL,
    login_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    user_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    INDEX sessions_by_ttl (ttl)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE video_del_rec (
    video_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
    create_time BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
