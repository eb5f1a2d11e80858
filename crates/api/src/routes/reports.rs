use axum::extract::State;
use axum::http::StatusCode;
use reel_core::error_body::ErrorBody;

use super::media::may_see;
use crate::error::{ApiError, ResultExt};
use crate::extract::{Json, PathParams, SessionUser};
use crate::moderation_wire::{NewReport, ReportView};
use crate::state::ApiState;
use crate::wire::VideoPath;

/// Checks a free text a moderator reads: 1–1,000 characters, not blank.
pub(super) fn short_text(text: &str, what: &str) -> Result<(), ApiError> {
    let n = text.chars().count();
    if n == 0 || n > 1000 || text.trim().is_empty() {
        return Err(ApiError::BadRequest(format!(
            "{what} must be 1 to 1000 characters and not blank"
        )));
    }
    Ok(())
}

/// Report a video to the moderators.
#[utoipa::path(
    post, path = "/videos/{vid}/reports", tag = "moderation",
    params(VideoPath),
    request_body = NewReport,
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 201, description = "Reported; the report waits in the moderators' queue", body = ReportView),
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "A cross-site request", body = ErrorBody),
        (status = 404, description = "No such video, or not visible", body = ErrorBody),
        (status = 409, description = "This user's report of this video is still open", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(video = %vid), err(level = "debug"))]
pub async fn report_video(
    State(state): State<ApiState>,
    PathParams(VideoPath { vid }): PathParams<VideoPath>,
    SessionUser(session): SessionUser,
    Json(body): Json<NewReport>,
) -> Result<(StatusCode, Json<ReportView>), ApiError> {
    short_text(&body.reason, "reason")?;
    let video = state.db().video(vid).await.or_not_found("video")?;
    if !may_see(&video, Some(&session)) {
        return Err(ApiError::NotFound("video"));
    }
    let report = state
        .db()
        .create_report(vid, session.user_id, &body.reason, state.now_ms())
        .await
        .or_conflict("you reported this video already; moderators will look at it")?;
    tracing::info!("video reported");
    Ok((StatusCode::CREATED, Json(report.into())))
}
