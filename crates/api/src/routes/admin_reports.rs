use axum::extract::State;
use reel_core::account;
use reel_core::db::{Actor, Audited, ReportRecord, ReportState, Resolution, TargetKind};
use reel_core::error_body::ErrorBody;

use super::admin_users::may_ban;
use super::page_of;
use super::reports::short_text;
use super::videos::audit_deletion;
use crate::error::{ApiError, ResultExt};
use crate::extract::{Json, PathParams, QueryParams, Staff};
use crate::moderation_wire::{
    ReportAction, ReportList, ReportPath, ReportStateParam, ReportView, ReportsQuery, ResolveReport,
};
use crate::state::ApiState;
use crate::wire::{PageQuery, next_cursor};

/// The moderators' queue: open reports (or resolved ones), newest first.
#[utoipa::path(
    get, path = "/admin/reports", tag = "moderation",
    params(ReportsQuery),
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "A page of reports", body = ReportList),
        (status = 400, description = "Malformed state, cursor or limit", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a moderator or admin", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
pub async fn list_reports(
    State(state): State<ApiState>,
    QueryParams(query): QueryParams<ReportsQuery>,
    Staff(_staff): Staff,
) -> Result<Json<ReportList>, ApiError> {
    let wanted = match query.state.unwrap_or_default() {
        ReportStateParam::Open => ReportState::Open,
        ReportStateParam::Resolved => ReportState::Resolved,
    };
    let (cursor, limit) = page_of(PageQuery {
        cursor: query.cursor,
        limit: query.limit,
    })?;
    let page = state.db().reports(wanted, &cursor, limit.get()).await?;
    Ok(Json(ReportList {
        next_cursor: next_cursor(&page),
        reports: page.items.into_iter().map(ReportView::from).collect(),
    }))
}

/// Act on a report: dismiss it, hide or delete the video, or ban its owner. Every
/// action is written to the audit log; all but `dismiss` settle every open report of
/// the video.
#[utoipa::path(
    patch, path = "/admin/reports/{id}", tag = "moderation",
    params(ReportPath),
    request_body = ResolveReport,
    security(("session_cookie" = []), ("session_header" = [])),
    responses(
        (status = 200, description = "The report, resolved", body = ReportView),
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 401, description = "No live session", body = ErrorBody),
        (status = 403, description = "Not a moderator or admin; a moderator banning staff; a cross-site request", body = ErrorBody),
        (status = 404, description = "No such report, or its video is gone (for hide and ban)", body = ErrorBody),
        (status = 409, description = "The report is resolved already", body = ErrorBody),
        (status = 413, description = "Body over 64 KiB", body = ErrorBody),
        (status = 500, description = "Server error", body = ErrorBody),
    )
)]
#[tracing::instrument(skip_all, fields(report = %id, action = ?body.action), err(level = "debug"))]
pub async fn resolve_report(
    State(state): State<ApiState>,
    PathParams(ReportPath { id }): PathParams<ReportPath>,
    Staff(me): Staff,
    Json(body): Json<ResolveReport>,
) -> Result<Json<ReportView>, ApiError> {
    if let Some(note) = &body.note {
        short_text(note, "note")?;
    }
    let report = state
        .db()
        .report(&id.to_string())
        .await
        .or_not_found("report")?;
    if report.state != ReportState::Open.as_str() {
        return Err(ApiError::Conflict("this report is resolved already"));
    }
    let actor = Actor {
        name: &me.user_name,
        note: body.note.as_deref(),
        now_ms: state.now_ms(),
    };
    let resolution = Resolution {
        action: body.action.as_str(),
        whole_video: body.action != ReportAction::Dismiss,
    };
    let resolve = async |audited: Option<Audited<'_>>| {
        state
            .db()
            .resolve_report(&report, resolution, &actor, audited)
            .await
            .or_conflict("this report is resolved already")
    };
    let resolved = if body.action == ReportAction::DeleteVideo {
        // Deleting the video settles its open reports as `video_deleted`: this
        // resolution comes first, so that the reports say what the moderator did.
        resolve(None).await?;
        act_on(&state, &me, &report, body.action, &actor).await?;
        state.db().report(&report.id).await?
    } else {
        let audited = act_on(&state, &me, &report, body.action, &actor).await?;
        resolve(audited).await?
    };
    Ok(Json(resolved.into()))
}

/// Carries out `action` on the reported video or its owner; returns the audit entry
/// still to write with the resolution, for actions whose change writes none itself.
async fn act_on<'a>(
    state: &ApiState,
    me: &crate::extract::Authenticated,
    report: &'a ReportRecord,
    action: ReportAction,
    actor: &Actor<'_>,
) -> Result<Option<Audited<'a>>, ApiError> {
    match action {
        ReportAction::Dismiss => Ok(Some(Audited {
            action: "dismiss_report",
            kind: TargetKind::Report,
            target: report.video_name.as_deref().unwrap_or("(deleted video)"),
            target_id: Some(report.id.clone()),
            detail: Some(format!("reported by {}", report.reporter)),
        })),
        ReportAction::HideVideo => {
            let video = state
                .db()
                .video(report.video_id)
                .await
                .or_not_found("video")?;
            state
                .db()
                .set_video_hidden(&video, true, actor)
                .await
                .or_not_found("video")?;
            state.listings().forget_user(&video.author);
            state.records().forget_video(video.id).await;
            Ok(None)
        }
        ReportAction::DeleteVideo => {
            let Some(video) = state.db().video(report.video_id).await.optional()? else {
                // Gone already: the report is settled all the same.
                return Ok(None);
            };
            match state.db().delete_video(video.id, state.now_ms()).await {
                Ok(()) | Err(reel_core::db::DbError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
            state.listings().forget_user(&video.author);
            state.records().forget_video(video.id).await;
            audit_deletion(state, me, &video, actor.note).await?;
            Ok(None)
        }
        ReportAction::BanAuthor => {
            let author = report
                .author
                .as_deref()
                .ok_or(ApiError::NotFound("video"))?;
            let user = state.db().user_by_name(author).await.or_not_found("user")?;
            may_ban(me, &user)?;
            account::set_banned(state.db(), state.sessions(), &user, true, actor).await?;
            state.listings().forget_user(&user.name);
            state.records().forget_all();
            Ok(None)
        }
    }
}
