use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use reel_core::db::{
    Actor, Audited, NewVideo as NewVideoRecord, TargetKind, VideoFilter, VideoRecord,
};
use reel_core::domain::{VideoDescription, VideoName};
use reel_core::error_body::ErrorBody;
use reel_core::ids::VideoId;

use super::media::{allowance, may_see, view, views};
use super::page_of;
use crate::error::{ApiError, ResultExt};
use crate::extract::{Authenticated, Json, PathParams, QueryParams, SessionUser, Viewer};
use crate::listing_cache::ListingKey;
use crate::state::ApiState;
use crate::wire::{
    NewVideo, PageQuery, UserPath, UserVideoPath, VideoList, VideoView, next_cursor,
};

/// A user's videos, newest first: all of them for the owner, the ready ones for the
/// staff, the ready public ones neither hidden nor of a banned owner for others.
#[utoipa::path(
    get, path = "/user/{username}/videos", tag = "videos",
    params(UserPath, PageQuery),
    security((), ("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "A page of videos", body = VideoList),
        (status = 400, description = "Malformed name, cursor or limit", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn list_user_videos(
    State(state): State<ApiState>,
    PathParams(UserPath { username: name }): PathParams<UserPath>,
    QueryParams(query): QueryParams<PageQuery>,
    Viewer(viewer): Viewer,
) -> Result<Response, ApiError> {
    let cursor_text = query.cursor.clone();
    let (cursor, limit) = page_of(query)?;
    // Names are unique and never change, so this needs no lookup.
    let staff = viewer.as_ref().is_some_and(|s| s.is_staff());
    let owner = viewer.filter(|s| s.user_name == name.as_str());
    let filter = match (&owner, staff) {
        (Some(_), _) => VideoFilter::Owner,
        (None, true) => VideoFilter::Staff,
        (None, false) => VideoFilter::Public,
    };
    let key = ListingKey::User {
        name: name.as_str().to_owned(),
        cursor: cursor_text,
        limit: limit.get(),
    };
    if filter == VideoFilter::Public
        && let Some(body) = state.listings().get(&key).await
    {
        return Ok(json_body(body));
    }
    let author = state
        .db()
        .user_by_name(name.as_str())
        .await
        .or_not_found("user")?;
    let page = state
        .db()
        .videos_by_author(author.id, filter, &cursor, limit.get())
        .await?;
    let viewer = owner.map(|s| s.user_id);
    let list = VideoList {
        next_cursor: next_cursor(&page),
        videos: views(&state, page.items, viewer).await?,
    };
    let body = to_json(&list)?;
    if filter == VideoFilter::Public {
        state.listings().put(key, body.clone()).await;
    }
    Ok(json_body(body))
}

/// A listing serialized once, so the same bytes can be cached and sent.
fn to_json(list: &VideoList) -> Result<Bytes, ApiError> {
    serde_json::to_vec(list)
        .map(Bytes::from)
        .map_err(|e| ApiError::Internal(e.into()))
}

fn json_body(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// One video of a user.
#[utoipa::path(
    get, path = "/user/{username}/videos/{vid}", tag = "videos",
    params(UserVideoPath),
    security((), ("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "The video; its owner also gets an upload URL while it awaits its upload", body = VideoView),
        (status = 400, description = "Malformed name or id", body = ErrorBody),
        (status = 404, description = "No such video for this user, not ready yet, or private", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn get_video(
    State(state): State<ApiState>,
    PathParams(UserVideoPath {
        username: name,
        vid,
    }): PathParams<UserVideoPath>,
    Viewer(viewer): Viewer,
) -> Result<Json<VideoView>, ApiError> {
    let video = state
        .records()
        .video(state.db(), vid)
        .await
        .or_not_found("video")?;
    if video.author != name.as_str() || !may_see(&video, viewer.as_ref()) {
        return Err(ApiError::NotFound("video"));
    }
    let viewer = viewer.map(|s| s.user_id);
    let mut views = views(&state, vec![video], viewer).await?;
    Ok(Json(views.remove(0)))
}

/// Create a video (its metadata); the answer carries the URL to upload its bytes to.
#[utoipa::path(
    post, path = "/user/{username}/videos", tag = "videos",
    params(UserPath),
    request_body = NewVideo,
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 201, description = "Created, awaiting its upload", body = VideoView),
        (status = 400, description = "Malformed name or body", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Another user's list, a cross-site request, or no quota left (`quota_exceeded`)", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = %name), err(level = "debug"))]
pub async fn create_video(
    State(state): State<ApiState>,
    PathParams(UserPath { username: name }): PathParams<UserPath>,
    SessionUser(session): SessionUser,
    Json(body): Json<NewVideo>,
) -> Result<(StatusCode, Json<VideoView>), ApiError> {
    if session.user_name != name.as_str() {
        return Err(ApiError::Forbidden(
            "you can only add videos to your own list",
        ));
    }
    let title = VideoName::parse(&body.name)?;
    let description = VideoDescription::parse(body.description.as_deref().unwrap_or_default())?;
    let room = allowance(&state, session.user_id).await?;
    if room == Some(0) {
        return Err(ApiError::QuotaExceeded);
    }
    let new = NewVideoRecord {
        id: VideoId::random(),
        author_id: session.user_id,
        name: title.as_str().to_owned(),
        create_time: state.now_ms(),
        visibility: body.visibility.unwrap_or_default(),
        description: description.as_str().to_owned(),
    };
    state.db().create_video(&new).await?;
    state.listings().forget_user(name.as_str());
    let video = state.db().video(new.id).await?;
    tracing::info!(video = %video.id, "video created");
    Ok((
        StatusCode::CREATED,
        Json(view(&state, video, Some(session.user_id), room)),
    ))
}

/// Delete a video (its owner, or a moderator or admin): gone from every list at once;
/// its files are removed in the background.
#[utoipa::path(
    delete, path = "/user/{username}/videos/{vid}", tag = "videos",
    params(UserVideoPath),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed name or id", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Another user's video (for all but moderators and admins), or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such video of this user", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = %name, video = %vid), err(level = "debug"))]
pub async fn delete_video(
    State(state): State<ApiState>,
    PathParams(UserVideoPath {
        username: name,
        vid,
    }): PathParams<UserVideoPath>,
    SessionUser(session): SessionUser,
) -> Result<StatusCode, ApiError> {
    let own = session.user_name == name.as_str();
    if !own && !session.is_staff() {
        return Err(ApiError::Forbidden("you can only delete your own videos"));
    }
    let video = state.db().video(vid).await.or_not_found("video")?;
    if video.author != name.as_str() {
        return Err(ApiError::NotFound("video"));
    }
    state
        .db()
        .delete_video(vid, state.now_ms())
        .await
        .or_not_found("video")?;
    if !own {
        audit_deletion(&state, &session, &video, None).await?;
    }
    state.listings().forget_user(name.as_str());
    state.records().forget_video(vid).await;
    tracing::info!("video deleted; its files are queued for removal");
    Ok(StatusCode::NO_CONTENT)
}

/// Records in the audit log a video's deletion by a moderator or admin.
pub(super) async fn audit_deletion(
    state: &ApiState,
    actor: &Authenticated,
    video: &VideoRecord,
    note: Option<&str>,
) -> Result<(), ApiError> {
    let actor = Actor {
        name: &actor.user_name,
        note,
        now_ms: state.now_ms(),
    };
    let what = Audited {
        action: "delete_video",
        kind: TargetKind::Video,
        target: &video.name,
        target_id: Some(video.id.to_string()),
        detail: Some(format!("by {}", video.author)),
    };
    Ok(state.db().audit(&actor, what).await?)
}

/// Everyone's ready public videos, newest first (the home page).
#[utoipa::path(
    get, path = "/videos", tag = "videos",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of videos", body = VideoList),
        (status = 400, description = "Malformed cursor or limit", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn recent_videos(
    State(state): State<ApiState>,
    QueryParams(query): QueryParams<PageQuery>,
) -> Result<Response, ApiError> {
    let cursor_text = query.cursor.clone();
    let (cursor, limit) = page_of(query)?;
    let key = ListingKey::Home {
        cursor: cursor_text,
        limit: limit.get(),
    };
    if let Some(body) = state.listings().get(&key).await {
        return Ok(json_body(body));
    }
    let page = state.db().recent_ready_videos(&cursor, limit.get()).await?;
    let list = VideoList {
        next_cursor: next_cursor(&page),
        videos: page
            .items
            .into_iter()
            .map(|v| view(&state, v, None, None))
            .collect(),
    };
    let body = to_json(&list)?;
    state.listings().put(key, body.clone()).await;
    Ok(json_body(body))
}
