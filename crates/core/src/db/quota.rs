use sqlx::Row;

use super::{Db, DbError, DbKind};
use crate::ids::UserId;

impl Db {
    /// The bytes of originals of `user`'s videos (those created since `since_ms`, if
    /// given). A video's size is recorded when its upload lands.
    pub async fn bytes_used(&self, user: UserId, since_ms: Option<i64>) -> Result<i64, DbError> {
        // SUM of a BIGINT is a NUMERIC on PostgreSQL and a DECIMAL on MySQL, which the
        // `Any` driver cannot read: each gets its cast back to a 64-bit integer.
        let query = match self.backend() {
            DbKind::Sqlite => {
                "SELECT COALESCE(SUM(size), 0) AS used FROM video_info \
                 WHERE author_id = ? AND create_time >= ?"
            }
            DbKind::MySql => {
                "SELECT CAST(COALESCE(SUM(size), 0) AS SIGNED) AS used FROM video_info \
                 WHERE author_id = ? AND create_time >= ?"
            }
            DbKind::Postgres => {
                "SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS used FROM video_info \
                 WHERE author_id = ? AND create_time >= ?"
            }
        };
        let row = sqlx::query(self.sql(query))
            .bind(user.to_string())
            .bind(since_ms.unwrap_or(i64::MIN))
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get("used")?)
    }
}
