use axum::extract::State;
use axum::http::StatusCode;
use reel_core::db::{CommentRecord, VideoRecord};
use reel_core::domain::CommentText;
use reel_core::error_body::ErrorBody;
use reel_core::ids::{CommentId, UserId, VideoId};

use super::media::may_see;
use super::page_of;
use crate::error::{ApiError, ResultExt};
use crate::extract::{Json, PathParams, QueryParams, SessionUser, Viewer};
use crate::state::ApiState;
use crate::wire::{
    CommentList, CommentPath, CommentView, NewComment, PageQuery, VideoPath, next_cursor,
};

/// The video if this reader may see it; 404 otherwise, so hidden videos stay hidden.
async fn visible_video(
    state: &ApiState,
    vid: VideoId,
    viewer: Option<UserId>,
) -> Result<VideoRecord, ApiError> {
    let video = state.db().video(vid).await.or_not_found("video")?;
    if !may_see(&video, viewer) {
        return Err(ApiError::NotFound("video"));
    }
    Ok(video)
}

/// A video's comments, newest first.
#[utoipa::path(
    get, path = "/videos/{vid}/comments", tag = "comments",
    params(VideoPath, PageQuery),
    security((), ("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "A page of comments", body = CommentList),
        (status = 400, description = "Malformed id, cursor or limit", body = ErrorBody),
        (status = 404, description = "No such video, or not visible", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn list_comments(
    State(state): State<ApiState>,
    PathParams(VideoPath { vid }): PathParams<VideoPath>,
    QueryParams(query): QueryParams<PageQuery>,
    Viewer(viewer): Viewer,
) -> Result<Json<CommentList>, ApiError> {
    let (cursor, limit) = page_of(query)?;
    visible_video(&state, vid, viewer.map(|s| s.user_id)).await?;
    let page = state.db().comments_of(vid, &cursor, limit.get()).await?;
    let next_cursor = next_cursor(&page);
    Ok(Json(CommentList {
        comments: page.items.into_iter().map(CommentView::from).collect(),
        next_cursor,
    }))
}

/// Post a comment as the logged-in user.
#[utoipa::path(
    post, path = "/videos/{vid}/comments", tag = "comments",
    params(VideoPath),
    request_body = NewComment,
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 201, description = "Posted", body = CommentView),
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "A cross-site request", body = ErrorBody),
        (status = 404, description = "No such video, or not visible", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video = %vid), err(level = "debug"))]
pub async fn post_comment(
    State(state): State<ApiState>,
    PathParams(VideoPath { vid }): PathParams<VideoPath>,
    SessionUser(session): SessionUser,
    Json(body): Json<NewComment>,
) -> Result<(StatusCode, Json<CommentView>), ApiError> {
    let text = CommentText::parse(&body.content)?;
    visible_video(&state, vid, Some(session.user_id)).await?;
    let comment = CommentRecord {
        id: CommentId::random(),
        video_id: vid,
        author_id: session.user_id,
        author: session.user_name,
        content: text.as_str().to_owned(),
        time: state.now_ms(),
    };
    state
        .db()
        .create_comment(
            comment.id,
            vid,
            comment.author_id,
            &comment.content,
            comment.time,
        )
        .await
        .or_not_found("video")?;
    Ok((StatusCode::CREATED, Json(comment.into())))
}

/// Delete a comment: its author or the video's owner may.
#[utoipa::path(
    delete, path = "/videos/{vid}/comments/{cid}", tag = "comments",
    params(CommentPath),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Neither the comment's author nor the video's owner, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such comment on this video", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video = %vid, comment = %cid), err(level = "debug"))]
pub async fn delete_comment(
    State(state): State<ApiState>,
    PathParams(CommentPath { vid, cid }): PathParams<CommentPath>,
    SessionUser(session): SessionUser,
) -> Result<StatusCode, ApiError> {
    let comment = state.db().comment(cid).await.or_not_found("comment")?;
    if comment.video_id != vid {
        return Err(ApiError::NotFound("comment"));
    }
    let video = visible_video(&state, vid, Some(session.user_id)).await?;
    if comment.author_id != session.user_id && video.author_id != session.user_id {
        return Err(ApiError::Forbidden(
            "only the comment's author or the video's owner may delete it",
        ));
    }
    state
        .db()
        .delete_comment(cid)
        .await
        .or_not_found("comment")?;
    Ok(StatusCode::NO_CONTENT)
}
