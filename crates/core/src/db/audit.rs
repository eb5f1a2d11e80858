//! The audit log: every action of an admin or moderator, with names rather than ids,
//! so that a reader of the log needs no other lookup.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use uuid::Uuid;

use super::{Db, DbError, DbKind, Page, PageCursor};

/// The actor of changes made with `reel user` on the command line: no user name can
/// contain a space or parentheses, so it is never taken for an account.
pub const COMMAND_LINE: &str = "(command line)";

/// What an action was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// An account; the target is its name.
    User,
    /// A video; the target is its title.
    Video,
    /// A comment; the target is its author's name.
    Comment,
    /// A report; the target is the reported video's title.
    Report,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Video => "video",
            Self::Comment => "comment",
            Self::Report => "report",
        }
    }
}

/// Who acts, why, and when: what every audited change carries.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The acting user's name, or [`COMMAND_LINE`].
    pub name: &'a str,
    /// The reason given, if any.
    pub note: Option<&'a str>,
    /// The time of the action in Unix milliseconds.
    pub now_ms: i64,
}

/// One audited action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The entry's id (a UUID).
    pub id: String,
    /// Who acted: a user name or [`COMMAND_LINE`].
    pub actor: String,
    /// What was done (`ban`, `set_role`, `hide_video`, …).
    pub action: String,
    /// What kind of thing it was done to.
    pub target_kind: String,
    /// The thing, by name (see [`TargetKind`]).
    pub target: String,
    /// The thing's id, where it has one besides its name.
    pub target_id: Option<String>,
    /// The reason given, or the new value of a setting.
    pub note: Option<String>,
    /// When, in Unix milliseconds.
    pub time: i64,
}

impl AuditEntry {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        Ok(Self {
            id: row.try_get("id")?,
            actor: row.try_get("actor")?,
            action: row.try_get("action")?,
            target_kind: row.try_get("target_kind")?,
            target: row.try_get("target")?,
            target_id: row.try_get("target_id")?,
            note: row.try_get("note")?,
            time: row.try_get("time")?,
        })
    }

    /// The keyset position of this entry in the log.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            time_ms: self.time,
            id: self.id.clone(),
        }
    }
}

/// What one audited change did; written with the change, in its transaction.
pub struct Audited<'a> {
    /// What was done.
    pub action: &'a str,
    pub kind: TargetKind,
    pub target: &'a str,
    pub target_id: Option<String>,
    /// Added to the actor's note: the new value of a setting.
    pub detail: Option<String>,
}

/// Writes an audit entry on `conn` (inside the change's transaction).
pub(super) async fn record(
    conn: &mut AnyConnection,
    backend: DbKind,
    actor: &Actor<'_>,
    what: Audited<'_>,
) -> Result<(), DbError> {
    let note = match (what.detail, actor.note) {
        (Some(d), Some(n)) => Some(format!("{d}: {n}")),
        (Some(d), None) => Some(d),
        (None, n) => n.map(str::to_owned),
    };
    sqlx::query(AssertSqlSafe(backend.sql(
        "INSERT INTO audit_log (id, actor, action, target_kind, target, target_id, note, time) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )))
    .bind(Uuid::new_v4().to_string())
    .bind(actor.name)
    .bind(what.action)
    .bind(what.kind.as_str())
    .bind(what.target)
    .bind(what.target_id)
    .bind(note)
    .bind(actor.now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

impl Db {
    /// Records an action that changes nothing in the database itself (one done through
    /// another path, such as a moderator's deletion through the ordinary endpoints).
    pub async fn audit(&self, actor: &Actor<'_>, what: Audited<'_>) -> Result<(), DbError> {
        let mut conn = self.pool().acquire().await?;
        record(&mut conn, self.backend(), actor, what).await
    }

    /// The log, newest first.
    pub async fn audit_entries(
        &self,
        after: &PageCursor,
        limit: u32,
    ) -> Result<Page<AuditEntry>, DbError> {
        let rows = sqlx::query(self.sql(
            "SELECT id, actor, action, target_kind, target, target_id, note, time \
             FROM audit_log WHERE (time, id) < (?, ?) ORDER BY time DESC, id DESC LIMIT ?",
        ))
        .bind(after.time_ms)
        .bind(&after.id)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let entries = rows
            .iter()
            .map(AuditEntry::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(entries, limit, AuditEntry::cursor))
    }
}
