use reel_core::db::PageCursor;
use reel_core::domain::PageLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::ApiState;
use crate::wire::PageQuery;

/// The moderators' queue of reports.
mod admin_reports;
/// Account administration and the audit log.
mod admin_users;
/// Comments on videos.
mod comments;
/// Visibility, playback URLs, quotas and the owner's edits.
mod media;
/// Reports of videos by users.
mod reports;
/// Registration, log-in, user info, log-out.
mod users;
/// A user's videos and the home page list.
mod videos;

/// Every API route, documented.
pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(users::register))
        .routes(routes!(users::login, users::user_info, users::logout))
        .routes(routes!(videos::list_user_videos, videos::create_video))
        .routes(routes!(
            videos::get_video,
            videos::delete_video,
            media::edit_video
        ))
        .routes(routes!(videos::recent_videos))
        .routes(routes!(comments::list_comments, comments::post_comment))
        .routes(routes!(comments::delete_comment))
        .routes(routes!(reports::report_video))
        .routes(routes!(admin_reports::list_reports))
        .routes(routes!(admin_reports::resolve_report))
        .routes(routes!(admin_users::list_users))
        .routes(routes!(admin_users::patch_user))
        .routes(routes!(admin_users::audit_log))
}

/// Reads `cursor` and `limit`.
fn page_of(q: PageQuery) -> Result<(PageCursor, PageLimit), ApiError> {
    let cursor = match q.cursor.as_deref() {
        None | Some("") => PageCursor::start(),
        Some(c) => PageCursor::decode(c)?,
    };
    let limit = match q.limit {
        None => PageLimit::DEFAULT,
        Some(n) => PageLimit::new(n)?,
    };
    Ok((cursor, limit))
}
