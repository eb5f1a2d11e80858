//! What admins and moderators change in accounts, each change audited in its own
//! transaction, and the searchable list of accounts.

use sqlx::{AssertSqlSafe, Row};

use super::audit::{self, Actor, Audited, TargetKind};
use super::users::{parse_id, user_columns};
use super::{Db, DbError, Page, PageCursor, TaskKind, UserRecord};
use crate::account::Role;

/// One change to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// A new role.
    Role(Role),
    /// Banned (true) or let back (false). Ending the sessions is the caller's part.
    Banned(bool),
    /// A registration approved (true) or set back to pending (false).
    Approved(bool),
    /// The total quota override: `None` for the site's, -1 for unlimited, else bytes.
    BytesLimit(Option<i64>),
    /// The daily quota override, likewise.
    DailyBytesLimit(Option<i64>),
}

impl AccountChange {
    /// The statement, the value it binds, and the audited action with its detail.
    fn plan(
        self,
    ) -> (
        &'static str,
        Option<i64>,
        Option<&'static str>,
        &'static str,
        String,
    ) {
        let limit_text = |v: Option<i64>| match v {
            None => "site default".to_owned(),
            Some(n) if n < 0 => "unlimited".to_owned(),
            Some(n) => format!("{n} bytes"),
        };
        match self {
            Self::Role(r) => (
                "UPDATE users SET role = ? WHERE id = ?",
                None,
                Some(r.as_str()),
                "set_role",
                r.as_str().to_owned(),
            ),
            Self::Banned(b) => (
                "UPDATE users SET banned = ? WHERE id = ?",
                Some(i64::from(b)),
                None,
                if b { "ban" } else { "unban" },
                String::new(),
            ),
            Self::Approved(a) => (
                "UPDATE users SET approved = ? WHERE id = ?",
                Some(i64::from(a)),
                None,
                if a { "approve" } else { "unapprove" },
                String::new(),
            ),
            Self::BytesLimit(v) => (
                "UPDATE users SET bytes_limit = ? WHERE id = ?",
                v,
                None,
                "set_quota",
                limit_text(v),
            ),
            Self::DailyBytesLimit(v) => (
                "UPDATE users SET daily_bytes_limit = ? WHERE id = ?",
                v,
                None,
                "set_daily_quota",
                limit_text(v),
            ),
        }
    }
}

/// `!` escapes `%`, `_` and itself in a LIKE pattern; unlike a backslash it means the
/// same in the string literals of every backend.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out.push('%');
    out
}

impl Db {
    /// Applies one change to `user` and records it in the audit log, in one
    /// transaction; returns the account as it is now. A ban or unban also queues, in
    /// that transaction, the task that tells the stream servers for each of the user's
    /// videos (their bytes are served under playback grants alone while they are banned).
    pub async fn change_account(
        &self,
        user: &UserRecord,
        change: AccountChange,
        actor: &Actor<'_>,
    ) -> Result<UserRecord, DbError> {
        let (statement, number, text, action, detail) = change.plan();
        let mut tx = self.pool().begin().await?;
        let query = sqlx::query(AssertSqlSafe(self.backend().sql(statement)));
        let query = match text {
            Some(t) => query.bind(t),
            None => query.bind(number),
        };
        let changed = query
            .bind(user.id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(DbError::NotFound);
        }
        let what = Audited {
            action,
            kind: TargetKind::User,
            target: &user.name,
            target_id: None,
            detail: (!detail.is_empty()).then_some(detail),
        };
        audit::record(&mut tx, self.backend(), actor, what).await?;
        if let AccountChange::Banned(_) = change {
            let rows = sqlx::query(self.sql("SELECT id FROM video_info WHERE author_id = ?"))
                .bind(user.id.to_string())
                .fetch_all(&mut *tx)
                .await?;
            for row in &rows {
                let video = parse_id(row.try_get("id")?)?;
                super::tasks::enqueue(
                    &mut tx,
                    self.backend(),
                    TaskKind::SyncState,
                    video,
                    actor.now_ms,
                )
                .await?;
            }
        }
        tx.commit().await?;
        self.user_by_id(user.id).await
    }

    /// Accounts, newest first; with `q`, those whose name contains it (any case).
    pub async fn users(
        &self,
        q: Option<&str>,
        after: &PageCursor,
        limit: u32,
    ) -> Result<Page<UserRecord>, DbError> {
        let rows = match q {
            Some(q) => sqlx::query(self.sql(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u WHERE LOWER(u.login_name) LIKE ? ESCAPE '!' \
                     AND (u.create_time, u.id) < (?, ?) \
                     ORDER BY u.create_time DESC, u.id DESC LIMIT ?"
            )))
            .bind(like_pattern(q)),
            None => sqlx::query(self.sql(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users u WHERE (u.create_time, u.id) < (?, ?) \
                 ORDER BY u.create_time DESC, u.id DESC LIMIT ?"
            ))),
        }
        .bind(after.time_ms)
        .bind(&after.id)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let users = rows
            .iter()
            .map(UserRecord::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(users, limit, |u| PageCursor {
            time_ms: u.create_time,
            id: u.id.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn search_patterns_escape_wildcards() {
        assert_eq!(super::like_pattern("Al_i%!"), "%al!_i!%!!%");
    }
}
