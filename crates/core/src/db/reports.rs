//! Reports of videos by users, and their resolution by moderators.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use uuid::Uuid;

use super::audit::{self, Actor, Audited};
use super::users::parse_id;
use super::{Db, DbError, DbKind, Page, PageCursor};
use crate::ids::{UserId, VideoId};

/// Where a report is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportState {
    /// Waiting in the moderators' queue.
    Open,
    /// Acted on.
    Resolved,
}

impl ReportState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

/// A stored report, with the names a moderator reads it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    /// The report's id (a UUID).
    pub id: String,
    /// The reported video.
    pub video_id: VideoId,
    /// The video's title; `None` once the video is deleted.
    pub video_name: Option<String>,
    /// The video's owner; `None` once the video is deleted.
    pub author: Option<String>,
    /// Who reported it.
    pub reporter: String,
    /// Why.
    pub reason: String,
    /// `open` or `resolved`.
    pub state: String,
    /// When it was reported, in Unix milliseconds.
    pub time: i64,
    /// What resolved it: `dismiss`, `hide_video`, `delete_video`, `ban_author`, or
    /// `video_deleted` when its owner deleted the video.
    pub resolution: Option<String>,
    /// The moderator's note.
    pub note: Option<String>,
    /// The moderator who resolved it.
    pub resolved_by: Option<String>,
    /// When it was resolved, in Unix milliseconds.
    pub resolve_time: Option<i64>,
}

macro_rules! report_select {
    () => {
        "SELECT r.id, r.video_id, v.name AS video_name, a.login_name AS author, \
         p.login_name AS reporter, r.reason, r.state, r.create_time, r.resolution, r.note, \
         r.resolved_by, r.resolve_time \
         FROM reports r JOIN users p ON p.id = r.reporter_id \
         LEFT JOIN video_info v ON v.id = r.video_id \
         LEFT JOIN users a ON a.id = v.author_id "
    };
}

impl ReportRecord {
    fn from_row(row: &AnyRow) -> Result<Self, DbError> {
        Ok(Self {
            id: row.try_get("id")?,
            video_id: parse_id(row.try_get("video_id")?)?,
            video_name: row.try_get("video_name")?,
            author: row.try_get("author")?,
            reporter: row.try_get("reporter")?,
            reason: row.try_get("reason")?,
            state: row.try_get("state")?,
            time: row.try_get("create_time")?,
            resolution: row.try_get("resolution")?,
            note: row.try_get("note")?,
            resolved_by: row.try_get("resolved_by")?,
            resolve_time: row.try_get("resolve_time")?,
        })
    }

    /// The keyset position of this report in the queue.
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            time_ms: self.time,
            id: self.id.clone(),
        }
    }
}

/// How a moderator resolves a report.
#[derive(Debug, Clone, Copy)]
pub struct Resolution<'a> {
    /// The action taken (`dismiss`, `hide_video`, …).
    pub action: &'a str,
    /// Whether the action settles every open report of the video, not this one alone.
    pub whole_video: bool,
}

/// Marks a video's open reports resolved by its deletion (inside the deletion's
/// transaction).
pub(super) async fn resolve_deleted(
    conn: &mut AnyConnection,
    backend: DbKind,
    video: VideoId,
    now_ms: i64,
) -> Result<(), DbError> {
    sqlx::query(AssertSqlSafe(backend.sql(
        "UPDATE reports SET state = 'resolved', open_key = NULL, resolution = 'video_deleted', \
         resolve_time = ? WHERE video_id = ? AND state = 'open'",
    )))
    .bind(now_ms)
    .bind(video.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

impl Db {
    /// Stores a report; [`DbError::Conflict`] when this user has an open report of
    /// this video already.
    pub async fn create_report(
        &self,
        video: VideoId,
        reporter: UserId,
        reason: &str,
        now_ms: i64,
    ) -> Result<ReportRecord, DbError> {
        let id = Uuid::new_v4().to_string();
        sqlx::query(self.sql(
            "INSERT INTO reports (id, video_id, reporter_id, reason, state, open_key, create_time) \
             VALUES (?, ?, ?, ?, 'open', ?, ?)",
        ))
        .bind(&id)
        .bind(video.to_string())
        .bind(reporter.to_string())
        .bind(reason)
        .bind(format!("{video}:{reporter}"))
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        self.report(&id).await
    }

    /// One report by id.
    pub async fn report(&self, id: &str) -> Result<ReportRecord, DbError> {
        let row = sqlx::query(self.sql(concat!(report_select!(), "WHERE r.id = ?")))
            .bind(id)
            .fetch_one(self.pool())
            .await?;
        ReportRecord::from_row(&row)
    }

    /// The reports in `state`, newest first.
    pub async fn reports(
        &self,
        state: ReportState,
        after: &PageCursor,
        limit: u32,
    ) -> Result<Page<ReportRecord>, DbError> {
        let rows = sqlx::query(self.sql(concat!(
            report_select!(),
            "WHERE r.state = ? AND (r.create_time, r.id) < (?, ?) \
             ORDER BY r.create_time DESC, r.id DESC LIMIT ?"
        )))
        .bind(state.as_str())
        .bind(after.time_ms)
        .bind(&after.id)
        .bind(i64::from(limit) + 1)
        .fetch_all(self.pool())
        .await?;
        let reports = rows
            .iter()
            .map(ReportRecord::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(reports, limit, ReportRecord::cursor))
    }

    /// Resolves an open report (and with `whole_video` every open report of its video),
    /// recording `audited` with it if given, in one transaction.
    /// [`DbError::Conflict`] when the report is resolved already.
    pub async fn resolve_report(
        &self,
        report: &ReportRecord,
        resolution: Resolution<'_>,
        actor: &Actor<'_>,
        audited: Option<Audited<'_>>,
    ) -> Result<ReportRecord, DbError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(self.sql(
            "UPDATE reports SET state = 'resolved', open_key = NULL, resolution = ?, note = ?, \
             resolved_by = ?, resolve_time = ? WHERE id = ? AND state = 'open'",
        ))
        .bind(resolution.action)
        .bind(actor.note)
        .bind(actor.name)
        .bind(actor.now_ms)
        .bind(&report.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(DbError::Conflict);
        }
        if resolution.whole_video {
            sqlx::query(self.sql(
                "UPDATE reports SET state = 'resolved', open_key = NULL, resolution = ?, \
                 note = ?, resolved_by = ?, resolve_time = ? WHERE video_id = ? AND state = 'open'",
            ))
            .bind(resolution.action)
            .bind(actor.note)
            .bind(actor.name)
            .bind(actor.now_ms)
            .bind(report.video_id.to_string())
            .execute(&mut *tx)
            .await?;
        }
        if let Some(what) = audited {
            audit::record(&mut tx, self.backend(), actor, what).await?;
        }
        tx.commit().await?;
        self.report(&report.id).await
    }
}
