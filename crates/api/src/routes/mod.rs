use reel_core::db::PageCursor;
use reel_core::domain::PageLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::ApiState;
use crate::wire::PageQuery;

/// Comments on videos.
mod comments;
/// Visibility, playback URLs, quotas and the owner's edits.
mod media;
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
