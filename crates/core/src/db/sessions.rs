use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::users::parse_id;
use super::{Db, DbError};
use crate::ids::{SessionId, UserId};

/// A stored session: who is logged in, and until when.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The session's id (a secret).
    #[serde(with = "session_id_text")]
    pub id: SessionId,
    /// The logged-in user.
    pub user_id: UserId,
    /// The user's login name.
    pub user_name: String,
    /// When the session expires, in Unix milliseconds. The column is named `ttl` (the
    /// name the first schema gave it), but it has always held this instant, not a
    /// duration; the field says what it holds. Redis keeps the JSON under its older
    /// name, which every node reads.
    #[serde(rename = "expires_ms")]
    pub expires_at_ms: i64,
}

/// Debug output shows only the id's first characters (see `SessionId`): it is a secret.
impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRecord")
            .field("id", &self.id)
            .field("user_name", &self.user_name)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

mod session_id_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ids::SessionId;

    pub fn serialize<S: Serializer>(id: &SessionId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(id.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SessionId, D::Error> {
        let s = String::deserialize(d)?;
        SessionId::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl SessionRecord {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        let id: String = row.try_get("session_id")?;
        Ok(Self {
            id: SessionId::parse(&id).map_err(|_| DbError::Corrupt("bad session id".into()))?,
            user_id: parse_id(row.try_get("user_id")?)?,
            user_name: row.try_get("login_name")?,
            expires_at_ms: row.try_get("ttl")?,
        })
    }
}

impl Db {
    /// Stores a new session.
    pub async fn insert_session(&self, s: &SessionRecord) -> Result<(), DbError> {
        sqlx::query(self.sql(
            "INSERT INTO sessions (session_id, ttl, login_name, user_id) VALUES (?, ?, ?, ?)",
        ))
        .bind(s.id.expose())
        .bind(s.expires_at_ms)
        .bind(&s.user_name)
        .bind(s.user_id.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// A session by id, expired or not.
    pub async fn session(&self, id: &SessionId) -> Result<SessionRecord, DbError> {
        let row =
            sqlx::query(self.sql(
                "SELECT session_id, ttl, login_name, user_id FROM sessions WHERE session_id = ?",
            ))
            .bind(id.expose())
            .fetch_one(self.pool())
            .await?;
        SessionRecord::from_row(&row)
    }

    /// Moves a session's expiry.
    pub async fn renew_session(&self, id: &SessionId, expires_at_ms: i64) -> Result<(), DbError> {
        sqlx::query(self.sql("UPDATE sessions SET ttl = ? WHERE session_id = ?"))
            .bind(expires_at_ms)
            .bind(id.expose())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Removes a session (log out).
    pub async fn delete_session(&self, id: &SessionId) -> Result<(), DbError> {
        sqlx::query(self.sql("DELETE FROM sessions WHERE session_id = ?"))
            .bind(id.expose())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The ids of every session of `user`, as stored.
    pub async fn session_ids_of(&self, user: UserId) -> Result<Vec<SessionId>, DbError> {
        let rows = sqlx::query(self.sql("SELECT session_id FROM sessions WHERE user_id = ?"))
            .bind(user.to_string())
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("session_id")?;
                SessionId::parse(&id).map_err(|_| DbError::Corrupt("bad session id".into()))
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
            "SELECT session_id, ttl, login_name, user_id FROM sessions WHERE ttl > ? \
             ORDER BY ttl DESC LIMIT ?",
        ))
        .bind(now_ms)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(SessionRecord::from_row).collect()
    }
}
