-- Sessions are stored under the SHA-256 of their id, never the id itself, and keep the
-- instant they began, which bounds their lifetime however often they are renewed.
-- Every stored session ends here rather than being converted: its row holds the id
-- itself, which copies of the database (backups, replicas) may keep, and a converted
-- row would leave those ids working. Users log in once more after the upgrade.
DROP TABLE sessions;

CREATE TABLE sessions (
    session_id TEXT COLLATE "C" PRIMARY KEY,  -- SHA-256 of the id, 64 hex digits
    ttl        BIGINT NOT NULL,            -- expiry instant, Unix ms
    login_name TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_ms BIGINT NOT NULL             -- when the session began, Unix ms
);
CREATE INDEX sessions_by_ttl ON sessions (ttl);
