//! What a reader gets of a video beyond its row: who may watch it, where they play it
//! (with a playback grant for a private video), the upload URL with the owner's quota
//! room, and the owner's edits.

use axum::extract::State;
use reel_core::db::{VideoEdit, VideoRecord};
use reel_core::domain::{VideoDescription, VideoName, VideoStatus, Visibility};
use reel_core::error_body::ErrorBody;
use reel_core::ids::UserId;
use reel_core::playback_grant::{PlaybackGrant, QUERY_PARAM};
use reel_core::quota::quota_for;
use reel_core::signing::UploadGrant;

use crate::error::{ApiError, ResultExt};
use crate::extract::{Authenticated, Json, PathParams, SessionUser};
use crate::state::ApiState;
use crate::wire::{Playback, UserVideoPath, VideoPatch, VideoView};

/// Whether `reader` may see `video`: its owner always; the staff a ready one, whatever
/// its visibility, hidden or of a banned owner; others a ready one that is neither
/// private, hidden nor of a banned owner.
pub(super) fn may_see(video: &VideoRecord, reader: Option<&Authenticated>) -> bool {
    match reader {
        Some(r) if r.user_id == video.author_id => true,
        Some(r) if r.is_staff() => video.status == VideoStatus::Ready,
        _ => video.status == VideoStatus::Ready && !restricted(video),
    }
}

/// Whether the stream servers serve `video`'s bytes only under a playback grant: it is
/// private, hidden by a moderator, or its owner is banned.
pub(crate) fn restricted(video: &VideoRecord) -> bool {
    video.visibility == Visibility::Private || video.hidden || video.author_banned
}

/// The most bytes `user`'s next upload may have (`None`: no quota), from their quota
/// (the site's limits or their overrides).
pub(crate) async fn allowance(state: &ApiState, user: UserId) -> Result<Option<u64>, ApiError> {
    let record = state.db().user_by_id(user).await?;
    let quota = quota_for(state.db(), &record, &state.config().quota, state.now_ms()).await?;
    Ok(quota.allowance().map(|a| u64::try_from(a).unwrap_or(0)))
}

fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A signed upload URL, carrying `allowance`, for the owner of a video that awaits its
/// bytes.
fn upload_url(
    state: &ApiState,
    video: &VideoRecord,
    viewer: Option<UserId>,
    allowance: Option<u64>,
) -> Option<String> {
    if video.status != VideoStatus::AwaitingUpload || viewer != Some(video.author_id) {
        return None;
    }
    let token = UploadGrant {
        video: video.id,
        user: video.author_id,
        expires_ms: state
            .now_ms()
            .saturating_add(millis(state.config().upload_token_ttl)),
        allowance,
    }
    .sign(state.signing_key());
    let base = state.config().stream_public_url.trim_end_matches('/');
    Some(format!("{base}/upload/{}?token={token}", video.id))
}

/// Where a ready video plays; a restricted one's URLs carry a playback grant.
fn playback(state: &ApiState, video: &VideoRecord) -> Option<Playback> {
    if video.status != VideoStatus::Ready {
        return None;
    }
    let base = format!(
        "{}/videos/{}",
        state.config().stream_public_url.trim_end_matches('/'),
        video.id
    );
    let grant = restricted(video).then(|| {
        PlaybackGrant {
            video: video.id,
            expires_ms: state
                .now_ms()
                .saturating_add(millis(state.config().playback_grant_ttl)),
        }
        .sign(state.signing_key())
    });
    let url = |u: String| match &grant {
        Some(g) => format!("{u}?{QUERY_PARAM}={g}"),
        None => u,
    };
    Some(Playback {
        mp4: url(base.clone()),
        hls: video
            .processed
            .then(|| url(format!("{base}/hls/master.m3u8"))),
        poster: video.processed.then(|| url(format!("{base}/poster.jpg"))),
    })
}

/// The view of `video` for `viewer`; `allowance` is its owner's quota room, put in the
/// upload URL.
pub(super) fn view(
    state: &ApiState,
    video: VideoRecord,
    viewer: Option<UserId>,
    allowance: Option<u64>,
) -> VideoView {
    let url = upload_url(state, &video, viewer, allowance);
    let playback = playback(state, &video);
    VideoView::new(video, url, playback)
}

/// The views of `videos` for `viewer`, reading the owner's quota room once if an upload
/// URL is due.
pub(super) async fn views(
    state: &ApiState,
    videos: Vec<VideoRecord>,
    viewer: Option<UserId>,
) -> Result<Vec<VideoView>, ApiError> {
    let owner_awaits = videos
        .iter()
        .find(|v| v.status == VideoStatus::AwaitingUpload && viewer == Some(v.author_id));
    let room = match owner_awaits {
        Some(v) => allowance(state, v.author_id).await?,
        None => None,
    };
    Ok(videos
        .into_iter()
        .map(|v| view(state, v, viewer, room))
        .collect())
}

/// Change a video's title, description or visibility (its owner).
#[utoipa::path(
    patch, path = "/user/{username}/videos/{vid}", tag = "videos",
    params(UserVideoPath),
    request_body = VideoPatch,
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "The video as changed", body = VideoView),
        (status = 400, description = "Malformed name, id or body", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Another user's video, or a cross-site request", body = ErrorBody),
        (status = 404, description = "No such video of this user", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(user = %name, video = %vid), err(level = "debug"))]
pub async fn edit_video(
    State(state): State<ApiState>,
    PathParams(UserVideoPath {
        username: name,
        vid,
    }): PathParams<UserVideoPath>,
    SessionUser(session): SessionUser,
    Json(body): Json<VideoPatch>,
) -> Result<Json<VideoView>, ApiError> {
    if session.user_name != name.as_str() {
        return Err(ApiError::Forbidden("you can only change your own videos"));
    }
    let edit = VideoEdit {
        name: body
            .name
            .map(|n| VideoName::parse(&n).map(|n| n.as_str().to_owned()))
            .transpose()?,
        description: body
            .description
            .map(|d| VideoDescription::parse(&d).map(|d| d.as_str().to_owned()))
            .transpose()?,
        visibility: body.visibility,
    };
    let video = state.db().video(vid).await.or_not_found("video")?;
    if video.author_id != session.user_id {
        return Err(ApiError::NotFound("video"));
    }
    state
        .db()
        .edit_video(vid, &edit, state.now_ms())
        .await
        .or_not_found("video")?;
    state.listings().forget_user(name.as_str());
    state.records().forget_video(vid).await;
    let video = state.db().video(vid).await.or_not_found("video")?;
    tracing::info!(visibility = video.visibility.as_str(), "video changed");
    let owner = Some(session.user_id);
    let mut views = views(&state, vec![video], owner).await?;
    Ok(Json(views.remove(0)))
}
