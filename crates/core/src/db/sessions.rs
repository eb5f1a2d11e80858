use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::parse_id;
use super::{Db, DbError};
use crate::ids::{SessionKey, UserId};

/// A stored session: who is logged in, since when and until when. It holds the key of
/// the session's id (its SHA-256), never the id, which only the client has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The SHA-256 of the session's id.
    #[serde(with = "session_key_text")]
    pub key: SessionKey,
    /// The logged-in user.
    pub user_id: UserId,
    /// The user's login name.
    pub user_name: String,
    /// When the session expires, in Unix milliseconds. The column is named `ttl` (the
    /// name the first schema gave it), but it has always held this instant, not a
    /// duration; the field says what it holds.
    #[serde(rename = "expires_ms")]
    pub expires_at_ms: i64,
    /// When the session began (log-in or registration), in Unix milliseconds: no
    /// renewal takes it past its absolute lifetime from then.
    pub created_ms: i64,
}

mod session_key_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ids::SessionKey;

    pub fn serialize<S: Serializer>(key: &SessionKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(key.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SessionKey, D::Error> {
        let s = String::deserialize(d)?;
        SessionKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl SessionRecord {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        let key: String = row.try_get("session_id")?;
        Ok(Self {
            key: SessionKey::parse(&key).map_err(|_| DbError::Corrupt("bad session key".into()))?,
            user_id: parse_id(row.try_get("user_id")?)?,
            user_name: row.try_get("login_name")?,
            expires_at_ms: row.try_get("ttl")?,
            created_ms: row.try_get("created_ms")?,
        })
    }
}

impl Db {
    /// Stores a new session.
    pub async fn insert_session(&self, s: &SessionRecord) -> Result<(), DbError> {
        sqlx::query(self.sql(
            "INSERT INTO sessions (session_id, ttl, login_name, user_id, created_ms) \
             VALUES (?, ?, ?, ?, ?)",
        ))
        .bind(s.key.as_str())
        .bind(s.expires_at_ms)
        .bind(&s.user_name)
        .bind(s.user_id.to_string())
        .bind(s.created_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A session by key, expired or not.
    pub async fn session(&self, key: &SessionKey) -> Result<SessionRecord, DbError> {
        let row = sqlx::query(self.sql(
            "SELECT session_id, ttl, login_name, user_id, created_ms FROM sessions \
             WHERE session_id = ?",
        ))
        .bind(key.as_str())
        .fetch_one(self.pool())
        .await?;
        SessionRecord::from_row(&row)
    }

    /// Moves a session's expiry.
    pub async fn renew_session(&self, key: &SessionKey, expires_at_ms: i64) -> Result<(), DbError> {
        sqlx::query(self.sql("UPDATE sessions SET ttl = ? WHERE session_id = ?"))
            .bind(expires_at_ms)
            .bind(key.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes a session (log out).
    pub async fn delete_session(&self, key: &SessionKey) -> Result<(), DbError> {
        sqlx::query(self.sql("DELETE FROM sessions WHERE session_id = ?"))
            .bind(key.as_str())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The keys of every session of `user`, as stored.
    pub async fn session_keys_of(&self, user: UserId) -> Result<Vec<SessionKey>, DbError> {
        let rows = sqlx::query(self.sql("SELECT session_id FROM sessions WHERE user_id = ?"))
            .bind(user.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("session_id")?;
                SessionKey::parse(&id).map_err(|_| DbError::Corrupt("bad session key".into()))
            })
            .collect()
    }

    /// Removes every session of `user`; returns how many went.
    pub async fn delete_sessions_of(&self, user: UserId) -> Result<u64, DbError> {
        Ok(
            sqlx::query(self.sql("DELETE FROM sessions WHERE user_id = ?"))
                .bind(user.to_string())
                .execute(self.pool())
                .await?
                .rows_affected(),
        )
    }

    /// Removes every session expired at `now_ms`; returns how many went.
    pub async fn delete_expired_sessions(&self, now_ms: i64) -> Result<u64, DbError> {
        Ok(sqlx::query(self.sql("DELETE FROM sessions WHERE ttl <= ?"))
            .bind(now_ms)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// Up to `limit` sessions still alive at `now_ms`, those expiring last first.
    pub async fn live_sessions(
        &self,
        now_ms: i64,
        limit: u32,
    ) -> Result<Vec<SessionRecord>, DbError> {
        let rows = sqlx::query(self.sql(
            "SELECT session_id, ttl, login_name, user_id, created_ms FROM sessions \
             WHERE ttl > ? ORDER BY ttl DESC LIMIT ?",
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(SessionRecord::from_row).collect()
    }
}
