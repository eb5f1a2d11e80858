use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use reel_core::db::{Actor, Audited, CommentRecord, TargetKind, VideoRecord};
use reel_core::domain::CommentText;
use reel_core::error_body::ErrorBody;
use reel_core::ids::{CommentId, VideoId};

use super::media::may_see;
use super::page_of;
use crate::error::{ApiError, ResultExt};
use crate::extract::{Authenticated, Json, PathParams, QueryParams, SessionUser, Viewer};
use crate::state::ApiState;
use crate::wire::{
    CommentList, CommentPath, CommentView, NewComment, PageQuery, VideoPath, next_cursor,
};

/// The video if this reader may see it; 404 otherwise, so hidden videos stay hidden.
async fn visible_video(
    state: &ApiState,
    vid: VideoId,
    viewer: Option<&Authenticated>,
) -> Result<VideoRecord, ApiError> {
    let video = state
        .records()
        .video(state.db(), vid)
        .await
        .or_not_found("video")?;
    if !may_see(&video, viewer) {
        return Err(ApiError::NotFound("video"));
    }
    Ok(video)
}

/// A video's comments, newest first. The first page is kept briefly as ready-made
/// JSON, the same for every reader who may see the video.
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
) -> Result<Response, ApiError> {
    let first = query.cursor.is_none();
    let (cursor, limit) = page_of(query)?;
    visible_video(&state, vid, viewer.as_ref()).await?;
    // Moderators also see the comments of banned users: only what everyone sees is cached.
    let staff = viewer.as_ref().is_some_and(|s| s.is_staff());
    let cached = first && !staff;
    let records = state.records();
    if cached && let Some(body) = records.first_comments(vid, limit.get()).await {
        return Ok(json_body(body));
    }
    let read_at = records.now_ms();
    let page = state
        .db()
        .comments_of(vid, staff, &cursor, limit.get())
        .await?;
    let next_cursor = next_cursor(&page);
    let list = CommentList {
        comments: page.items.into_iter().map(CommentView::from).collect(),
        next_cursor,
    };
    let body = Bytes::from(serde_json::to_vec(&list).map_err(|e| ApiError::Internal(e.into()))?);
    if cached {
        records
            .put_first_comments(vid, limit.get(), body.clone(), read_at)
            .await;
    }
    Ok(json_body(body))
}

fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
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
    visible_video(&state, vid, Some(&session)).await?;
    let comment = CommentRecord {
        id: CommentId::random(),
        video_id: vid,
        author_id: session.user_id,
        author: session.user_name.clone(),
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
    state.records().forget_comments(vid);
    Ok((StatusCode::CREATED, Json(comment.into())))
}

/// Delete a comment: its author, the video's owner, or a moderator or admin may.
#[utoipa::path(
    delete, path = "/videos/{vid}/comments/{cid}", tag = "comments",
    params(CommentPath),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Neither the comment's author, the video's owner nor staff, or a cross-site request", body = ErrorBody),
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
    let video = visible_video(&state, vid, Some(&session)).await?;
    let own = comment.author_id == session.user_id || video.author_id == session.user_id;
    if !own && !session.is_staff() {
        return Err(ApiError::Forbidden(
            "only the comment's author or the video's owner may delete it",
        ));
    }
    state
        .db()
        .delete_comment(cid)
        .await
        .or_not_found("comment")?;
    state.records().forget_comments(vid);
    if !own {
        let actor = Actor {
            name: &session.user_name,
            note: None,
            now_ms: state.now_ms(),
        };
        let what = Audited {
            action: "delete_comment",
            kind: TargetKind::Comment,
            target: &comment.author,
            target_id: Some(cid.to_string()),
            detail: Some(format!("on {}", video.name)),
        };
        state.db().audit(&actor, what).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}
