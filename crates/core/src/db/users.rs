use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, DbError};
use crate::account::Role;
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
    /// What the user may do.
    pub role: Role,
    /// Banned: no log-in, no upload, videos and comments hidden from all but staff.
    pub banned: bool,
    /// False while a registration awaits an admin's approval.
    pub approved: bool,
    /// Override of the site's total quota: `None` keeps it, -1 is unlimited.
    pub bytes_limit: Option<i64>,
    /// Override of the site's daily quota: `None` keeps it, -1 is unlimited.
    pub daily_bytes_limit: Option<i64>,
    /// When the account was made, in Unix milliseconds.
    pub create_time: i64,
}

/// What creating an account needs.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    /// The new user's id.
    pub id: UserId,
    /// The login name (validated by the caller).
    pub name: &'a str,
    /// The argon2id PHC string of the password.
    pub pwd_hash: &'a str,
    /// What the user may do.
    pub role: Role,
    /// False when registration awaits approval.
    pub approved: bool,
    /// Creation time in Unix milliseconds.
    pub now_ms: i64,
}

/// The columns [`UserRecord::from_row`] reads, from table `users` as `u`.
macro_rules! user_columns {
    () => {
        "u.id, u.login_name, u.pwd_hash, u.role, u.banned, u.approved, u.bytes_limit, \
         u.daily_bytes_limit, u.create_time"
    };
}
pub(super) use user_columns;

impl UserRecord {
    pub(super) fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        let role: String = row.try_get("role")?;
        Ok(Self {
            id: parse_id(row.try_get("id")?)?,
            name: row.try_get("login_name")?,
            pwd_hash: row.try_get("pwd_hash")?,
            role: Role::parse(&role)
                .ok_or_else(|| DbError::Corrupt(format!("bad role {role:?}")))?,
            banned: row.try_get::<i64, _>("banned")? != 0,
            approved: row.try_get::<i64, _>("approved")? != 0,
            bytes_limit: row.try_get("bytes_limit")?,
            daily_bytes_limit: row.try_get("daily_bytes_limit")?,
            create_time: row.try_get("create_time")?,
        })
    }
}

/// Reads a stored id column.
pub(super) fn parse_id<T: std::str::FromStr>(s: String) -> Result<T, DbError> {
    s.parse()
        .map_err(|_| DbError::Corrupt(format!("bad id {s:?}")))
}

impl Db {
    /// Stores a new approved user with the `user` role; [`DbError::Conflict`] if the
    /// name is taken.
    pub async fn create_user(
        &self,
        id: UserId,
        name: &str,
        pwd_hash: &str,
        now_ms: i64,
    ) -> Result<UserRecord, DbError> {
        self.create_account(&NewAccount {
            id,
            name,
            pwd_hash,
            role: Role::User,
            approved: true,
            now_ms,
        })
        .await
    }

    /// Stores a new account; [`DbError::Conflict`] if the name is taken.
    pub async fn create_account(&self, new: &NewAccount<'_>) -> Result<UserRecord, DbError> {
        sqlx::query(self.sql(
            "INSERT INTO users (id, login_name, pwd_hash, create_time, role, approved) \
             VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind(new.id.to_string())
        .bind(new.name)
        .bind(new.pwd_hash)
        .bind(new.now_ms)
        .bind(new.role.as_str())
        .bind(i64::from(new.approved))
        .execute(self.pool())
        .await?;
        self.user_by_id(new.id).await
    }

    /// The user with this login name.
    pub async fn user_by_name(&self, name: &str) -> Result<UserRecord, DbError> {
        let row = sqlx::query(self.sql(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.login_name = ?"
        )))
        .bind(name)
        .fetch_one(self.pool())
        .await?;
        UserRecord::from_row(&row)
    }

    /// The user with this id.
    pub async fn user_by_id(&self, id: UserId) -> Result<UserRecord, DbError> {
        let row = sqlx::query(self.sql(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id = ?"
        )))
        .bind(id.to_string())
        .fetch_one(self.pool())
        .await?;
        UserRecord::from_row(&row)
    }
}
