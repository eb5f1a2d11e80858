use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, DbError};
use crate::ids::UserId;

/// A stored user.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The user's id.
    pub id: UserId,
    /// The unique login name.
    pub name: String,
    /// The argon2id PHC string of the password.
    pub pwd_hash: String,
}

impl UserRecord {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        Ok(Self {
            id: parse_id(row.try_get("id")?)?,
            name: row.try_get("login_name")?,
            pwd_hash: row.try_get("pwd_hash")?,
        })
    }
}

/// Reads a stored id column.
pub(super) fn parse_id<T: std::str::FromStr>(s: String) -> Result<T, DbError> {
    s.parse()
        .map_err(|_| DbError::Corrupt(format!("bad id {s:?}")))
}

impl Db {
    /// Stores a new user; [`DbError::Conflict`] if the name is taken.
    pub async fn create_user(
        &self,
        id: UserId,
        name: &str,
        pwd_hash: &str,
        now_ms: i64,
    ) -> Result<UserRecord, DbError> {
        sqlx::query(
            self.sql(
                "INSERT INTO users (id, login_name, pwd_hash, create_time) VALUES (?, ?, ?, ?)",
            ),
        )
        .bind(id.to_string())
        .bind(name)
        .bind(pwd_hash)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(UserRecord {
            id,
            name: name.to_owned(),
            pwd_hash: pwd_hash.to_owned(),
        })
    }

    /// The user with this login name.
    pub async fn user_by_name(&self, name: &str) -> Result<UserRecord, DbError> {
        let row = sqlx::query(
            self.sql("SELECT id, login_name, pwd_hash FROM users WHERE login_name = ?"),
        )
        .bind(name)
        .fetch_one(self.pool())
        .await?;
        UserRecord::from_row(&row)
    }
}
