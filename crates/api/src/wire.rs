//! Field names follow the first design's Go structs, so its clients keep working
//! (docs/architecture.md, "Compatibility with the first design").

use reel_core::account::Role;
use reel_core::db::{CommentRecord, Page, UserRecord, VideoRecord};
use reel_core::domain::{UserName, VideoStatus, Visibility};
use reel_core::ids::{CommentId, UserId, VideoId};
use reel_core::quota::Quota;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Registration: a new user's name and password.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Credentials {
    /// 3–64 characters of `[A-Za-z0-9_.-]`.
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9_.-]{3,64}$")]
    pub user_name: String,
    /// 8–256 bytes of UTF-8 (the document can only bound characters).
    #[schema(max_length = 256)]
    pub pwd: String,
}

/// Log-in: the password, and optionally the name (it must match the path's).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginBody {
    /// The same name as in the path, if given.
    #[schema(min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9_.-]{3,64}$")]
    pub user_name: Option<String>,
    /// 8–256 bytes of UTF-8 (the document can only bound characters).
    #[schema(max_length = 256)]
    pub pwd: String,
}

/// The answer to a successful registration or log-in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedIn {
    /// Always true.
    pub success: bool,
    /// The new session's id; also set as the `reel_session` cookie.
    pub session_id: String,
}

/// The answer to a registration that awaits an admin's approval: no session yet.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingSignUp {
    /// Always true.
    pub success: bool,
    /// Always true: the account can log in once an admin approves it.
    pub pending: bool,
}

/// An account, as the user themself, moderators and admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// The user's id.
    pub id: UserId,
    /// The login name.
    pub user_name: String,
    /// What the user may do.
    pub role: Role,
    /// Whether the user is banned.
    pub banned: bool,
    /// False while the registration awaits an admin's approval.
    pub approved: bool,
    /// Bytes stored and the limits; for the user themself and admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
}

impl UserView {
    /// The view of an account, with its quota if the reader may see it.
    pub fn new(user: UserRecord, quota: Option<Quota>) -> Self {
        Self {
            id: user.id,
            user_name: user.name,
            role: user.role,
            banned: user.banned,
            approved: user.approved,
            quota,
        }
    }
}

/// Creating a video: its title, and optionally its description and visibility.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewVideo {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// 0–5,000 characters (default empty).
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Who may watch it (default `public`).
    pub visibility: Option<Visibility>,
}

/// An owner's change to a video: any of its title, description and visibility.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VideoPatch {
    /// 1–200 characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// 0–5,000 characters.
    #[schema(max_length = 5000)]
    pub description: Option<String>,
    /// Who may watch it.
    pub visibility: Option<Visibility>,
}

/// Where this reader plays a ready video. A private video's URLs carry a playback
/// grant (`?grant=…`) valid for a few hours; public and unlisted ones carry none, so
/// shared caches keep them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Playback {
    /// The playable MP4 (or the upload as it came, when it was not processed).
    pub mp4: String,
    /// The HLS master playlist, when processing made one.
    pub hls: Option<String>,
    /// The poster image, when processing made one.
    pub poster: Option<String>,
}

/// A video.
#[derive(Debug, Serialize, ToSchema)]
pub struct VideoView {
    /// The video's id.
    pub id: VideoId,
    /// The owner's id.
    pub author_id: UserId,
    /// The owner's name.
    pub author: String,
    /// The title.
    pub name: String,
    /// When it was created, as people read it (UTC).
    pub display_ctime: String,
    /// Where the video is in its life.
    pub status: VideoStatus,
    /// Bytes stored, once uploaded.
    pub size: Option<i64>,
    /// Length in seconds, once probed.
    pub duration: Option<f64>,
    /// Frame width in pixels, once probed.
    pub width: Option<i64>,
    /// Frame height in pixels, once probed.
    pub height: Option<i64>,
    /// Processing progress in percent, while processing.
    pub progress: Option<i64>,
    /// Why processing failed, if it did.
    pub failure: Option<String>,
    /// The video codec, once probed.
    pub video_codec: Option<String>,
    /// The audio codec, once probed.
    pub audio_codec: Option<String>,
    /// Whether processing made browser-ready renditions; a ready video that is not
    /// processed is served as it was uploaded.
    pub processed: bool,
    /// Where to upload the bytes (a signed, short-lived URL); only for the owner of a
    /// video that awaits its upload.
    pub upload_url: Option<String>,
    /// Hidden by a moderator: only its owner and the staff see it, and it is not
    /// served to anyone else.
    pub hidden: bool,
    /// Who may watch it: `public` (listed), `unlisted` (anyone with the link) or
    /// `private` (its owner only).
    pub visibility: Visibility,
    /// The description (empty when none).
    pub description: String,
    /// Where this reader plays it; once ready.
    pub playback: Option<Playback>,
}

impl VideoView {
    /// The view of a stored video, with its upload URL and playback URLs if they apply.
    pub fn new(v: VideoRecord, upload_url: Option<String>, playback: Option<Playback>) -> Self {
        Self {
            id: v.id,
            author_id: v.author_id,
            author: v.author,
            name: v.name,
            display_ctime: v.display_ctime,
            status: v.status,
            size: v.size,
            duration: v.duration_ms.map(|ms| ms as f64 / 1000.0),
            width: v.width,
            height: v.height,
            progress: v.progress,
            failure: v.failure,
            video_codec: v.video_codec,
            audio_codec: v.audio_codec,
            processed: v.processed,
            upload_url,
            hidden: v.hidden,
            visibility: v.visibility,
            description: v.description,
            playback,
        }
    }
}

/// A page of videos.
#[derive(Debug, Serialize, ToSchema)]
pub struct VideoList {
    /// Newest first.
    pub videos: Vec<VideoView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Posting a comment: its text.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewComment {
    /// 1–10,000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub content: String,
}

/// A comment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    /// The comment's id.
    pub id: CommentId,
    /// The video it is on.
    pub video_id: VideoId,
    /// The author's id.
    pub author_id: UserId,
    /// The author's name.
    pub author: String,
    /// The text.
    pub content: String,
    /// When it was posted (RFC 3339, UTC).
    pub time: String,
}

impl From<CommentRecord> for CommentView {
    fn from(c: CommentRecord) -> Self {
        let time = rfc3339(c.time);
        Self {
            id: c.id,
            video_id: c.video_id,
            author_id: c.author_id,
            author: c.author,
            content: c.content,
            time,
        }
    }
}

/// A time in Unix milliseconds as RFC 3339 (UTC).
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A page of comments.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentList {
    /// Newest first.
    pub comments: Vec<CommentView>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Which page of a list to show.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Items per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// The `next_cursor` of a page.
pub fn next_cursor<T>(page: &Page<T>) -> Option<String> {
    page.next.as_ref().map(|c| c.encode())
}

/// The path of a user's resources.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// The user's name.
    #[param(value_type = String, min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9_.-]{3,64}$")]
    pub username: UserName,
}

/// The path of one video of a user.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserVideoPath {
    /// The owner's name.
    #[param(value_type = String, min_length = 3, max_length = 64, pattern = "^[A-Za-z0-9_.-]{3,64}$")]
    pub username: UserName,
    /// The video's id.
    #[param(value_type = uuid::Uuid)]
    pub vid: VideoId,
}

/// The path of a video.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct VideoPath {
    /// The video's id.
    #[param(value_type = uuid::Uuid)]
    pub vid: VideoId,
}

/// The path of one comment on a video.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CommentPath {
    /// The video's id.
    #[param(value_type = uuid::Uuid)]
    pub vid: VideoId,
    /// The comment's id.
    #[param(value_type = uuid::Uuid)]
    pub cid: CommentId,
}
