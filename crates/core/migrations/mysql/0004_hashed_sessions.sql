-- Sessions are stored under the SHA-256 of their id, never the id itself, and keep the
-- instant they began, which bounds their lifetime however often they are renewed.
-- Every stored session ends here rather than being converted: its row holds the id
-- itself, which copies of the database (backups, replicas) may keep, and a converted
-- row would leave those ids working. Users log in once more after the upgrade.
DROP TABLE sessions;

CREATE TABLE sessions (
    session_id CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY, -- SHA-256 of the id
    ttl        BIGINT NOT NULL, -- expiry instant, Unix ms
    login_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    user_id    CHAR(36) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created_ms BIGINT NOT NULL, -- when the session began, Unix ms
    INDEX sessions_by_ttl (ttl)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
