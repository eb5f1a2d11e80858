//! The JSON shapes of reports, account administration and the audit log.

use reel_core::account::Role;
use reel_core::db::{AuditEntry, ReportRecord};
use reel_core::domain::UserName;
use reel_core::ids::VideoId;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::wire::{UserView, rfc3339};

/// Reporting a video: why.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewReport {
    /// 1–1,000 characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

/// A report of a video.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    /// The report's id.
    pub id: uuid::Uuid,
    /// The reported video.
    pub video_id: VideoId,
    /// The video's title; null once the video is deleted.
    pub video_name: Option<String>,
    /// The video's owner; null once the video is deleted.
    pub author: Option<String>,
    /// Who reported it.
    pub reporter: String,
    /// Why.
    pub reason: String,
    /// `open` or `resolved`.
    pub state: String,
    /// When it was reported (RFC 3339, UTC).
    pub time: String,
    /// What resolved it: `dismiss`, `hide_video`, `delete_video`, `ban_author`, or
    /// `video_deleted` when its owner deleted the video.
    pub action: Option<String>,
    /// The moderator's note.
    pub note: Option<String>,
    /// The moderator who resolved it.
    pub resolved_by: Option<String>,
    /// When it was resolved (RFC 3339, UTC).
    pub resolved_time: Option<String>,
}

impl From<ReportRecord> for ReportView {
    fn from(r: ReportRecord) -> Self {
        Self {
            id: r.id.parse().unwrap_or_default(),
            video_id: r.video_id,
            video_name: r.video_name,
            author: r.author,
            reporter: r.reporter,
            reason: r.reason,
            state: r.state,
            time: rfc3339(r.time),
            action: r.resolution,
            note: r.note,
            resolved_by: r.resolved_by,
            resolved_time: r.resolve_time.map(rfc3339),
        }
    }
}

/// A page of reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportList {
    /// Newest first.
    pub reports: Vec<ReportView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Which reports to list.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportStateParam {
    /// Waiting for a moderator (the default).
    #[default]
    Open,
    /// Acted on.
    Resolved,
}

/// The queue's filter and page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportsQuery {
    /// `open` (default) or `resolved`.
    pub state: Option<ReportStateParam>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// What a moderator does about a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportAction {
    /// Nothing is wrong: the report is closed.
    Dismiss,
    /// The video is hidden from everyone but its owner and the staff.
    HideVideo,
    /// The video is deleted.
    DeleteVideo,
    /// The video's owner is banned.
    BanAuthor,
}

impl ReportAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dismiss => "dismiss",
            Self::HideVideo => "hide_video",
            Self::DeleteVideo => "delete_video",
            Self::BanAuthor => "ban_author",
        }
    }
}

/// Resolving a report.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResolveReport {
    /// What to do.
    pub action: ReportAction,
    /// Why, for the audit log (at most 1,000 characters).
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// The path of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReportPath {
    /// The report's id.
    pub id: uuid::Uuid,
}

/// The path of an account in the administration.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AdminUserPath {
    /// The user's name.
    #[param(value_type = String, min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9_.-]{3,64}$")]
    pub name: UserName,
}

/// The account list's search and page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Only names containing this (any case), at most 64 characters.
    #[param(max_length = 64)]
    pub q: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// A page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// Newest first.
    pub users: Vec<UserView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// A quota override as sent: bytes, null for unlimited, or `"default"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum LimitInput {
    /// At most this many bytes.
    Bytes(i64),
    /// `"default"` (the site's quota) or `"unlimited"`.
    Word(String),
}

/// Changes to an account. Moderators may send `banned` alone; admins any field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// A new role (admins).
    pub role: Option<Role>,
    /// Ban (true) or let back (false).
    pub banned: Option<bool>,
    /// Approve a pending registration (admins).
    pub approved: Option<bool>,
    /// The user's total quota in bytes; null for unlimited, `"default"` for the
    /// site's (admins).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub bytes_limit: Option<Option<LimitInput>>,
    /// The user's daily quota in bytes, likewise (admins).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    pub daily_bytes_limit: Option<Option<LimitInput>>,
    /// Why, for the audit log (at most 1,000 characters).
    #[schema(max_length = 1000)]
    pub note: Option<String>,
}

/// A field that is present, even as null, is `Some`: absent and null mean different
/// things for a quota (no change, and unlimited).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// One entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// The entry's id.
    pub id: uuid::Uuid,
    /// Who acted: a user name, or `(command line)` for `reel user`.
    pub actor: String,
    /// What was done: `ban`, `unban`, `set_role`, `approve`, `set_quota`,
    /// `set_daily_quota`, `dismiss_report`, `hide_video`, `delete_video`,
    /// `delete_comment`.
    pub action: String,
    /// What kind of thing it was done to: `user`, `video`, `comment` or `report`.
    pub target_kind: String,
    /// The thing by name: a user's name, a video's title, a comment's author.
    pub target: String,
    /// The thing's id, for videos, comments and reports.
    pub target_id: Option<String>,
    /// The reason given, or the new value of a setting.
    pub note: Option<String>,
    /// When (RFC 3339, UTC).
    pub time: String,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id.parse().unwrap_or_default(),
            actor: e.actor,
            action: e.action,
            target_kind: e.target_kind,
            target: e.target,
            target_id: e.target_id,
            note: e.note,
            time: rfc3339(e.time),
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    /// Newest first.
    pub entries: Vec<AuditView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}
