//! The HTTP intake: tasks from the other services, signed with the service key, and
//! the task list for operators.
//!
//! - `POST /tasks/process/{vid}`: process this upload (the stream server, after each one)
//! - `POST /video-delete-record/{vid}`: delete this deleted video's files (the first
//!   design's path)
//! - `GET /tasks?state=pending|running|done|failed&limit=N`: the latest tasks
//! - `GET /healthz`, `GET /readyz`: unauthenticated probes
//!
//! Signatures cover the method and the path as this router sees it.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use reel_core::db::{TaskRecord, TaskState};
use reel_core::ids::VideoId;
use reel_core::signing::service;
use serde::{Deserialize, Serialize};

use crate::SchedulerState;
use crate::error::SchedulerError;

/// Listings hold this many tasks unless asked.
const DEFAULT_LIST_LIMIT: u32 = 100;
/// Listings hold at most this many tasks.
const MAX_LIST_LIMIT: u32 = 1000;

/// The intake's routes.
pub fn router(scheduler: SchedulerState) -> Router {
    Router::new()
        .route("/tasks/process/{vid}", post(process_upload))
        .route("/video-delete-record/{vid}", post(delete_record))
        .route("/tasks", get(list_tasks))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .fallback(not_found)
        .method_not_allowed_fallback(reel_core::error_body::method_not_allowed)
        .with_state(scheduler)
}

/// Proof that the request carries a valid service signature for its method and path.
pub struct ServiceAuth;

impl FromRequestParts<SchedulerState> for ServiceAuth {
    type Rejection = SchedulerError;

    async fn from_request_parts(
        parts: &mut Parts,
        scheduler: &SchedulerState,
    ) -> Result<Self, SchedulerError> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(SchedulerError::Unauthorized)?;
        service::verify(
            scheduler.signing_key(),
            header,
            parts.method.as_str(),
            parts.uri.path(),
            scheduler.now_ms(),
        )
        .map_err(|e| {
            tracing::info!(reason = %e, "refused a service call");
            SchedulerError::Unauthorized
        })?;
        Ok(Self)
    }
}

/// A task as operators and callers see it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TaskView {
    /// The task's id.
    pub id: String,
    /// `process` or `delete`.
    pub kind: String,
    /// The video it is about.
    pub video_id: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    /// Runs so far, the current one included.
    pub attempts: u32,
    /// When it may next run (pending) or its lease expires (running), Unix ms.
    pub due_at: i64,
    /// The scheduler that holds or last held it.
    pub lease_owner: Option<String>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was first queued, Unix ms.
    pub create_time: i64,
    /// When it last changed, Unix ms.
    pub update_time: i64,
}

impl From<TaskRecord> for TaskView {
    fn from(t: TaskRecord) -> Self {
        Self {
            id: t.id.to_string(),
            kind: t.kind.as_str().to_owned(),
            video_id: t.video_id.to_string(),
            state: t.state.as_str().to_owned(),
            attempts: t.attempts,
            due_at: t.due_at,
            lease_owner: t.lease_owner,
            last_error: t.last_error,
            create_time: t.create_time,
            update_time: t.update_time,
        }
    }
}

/// The body of `GET /tasks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskList {
    /// The tasks, most recently changed first.
    pub tasks: Vec<TaskView>,
}

/// The query of `GET /tasks`.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Only tasks in this state.
    state: Option<String>,
    /// How many at most.
    limit: Option<u32>,
}

/// The video id of the path, or a JSON 400 before any I/O.
fn video_id(path: Result<Path<String>, PathRejection>) -> Result<VideoId, SchedulerError> {
    let Path(vid) = path.map_err(|r| SchedulerError::BadRequest(r.body_text()))?;
    VideoId::parse(&vid).map_err(|e| SchedulerError::BadRequest(e.to_string()))
}

#[tracing::instrument(skip_all, err(Display))]
async fn process_upload(
    _auth: ServiceAuth,
    State(scheduler): State<SchedulerState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, SchedulerError> {
    let task = scheduler.enqueue_process(video_id(path)?).await?;
    Ok((StatusCode::ACCEPTED, Json(TaskView::from(task))).into_response())
}

#[tracing::instrument(skip_all, err(Display))]
async fn delete_record(
    _auth: ServiceAuth,
    State(scheduler): State<SchedulerState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, SchedulerError> {
    let task = scheduler.enqueue_delete(video_id(path)?).await?;
    Ok((StatusCode::ACCEPTED, Json(TaskView::from(task))).into_response())
}

async fn list_tasks(
    _auth: ServiceAuth,
    State(scheduler): State<SchedulerState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<TaskList>, SchedulerError> {
    let Query(query) = query.map_err(|r| SchedulerError::BadRequest(r.body_text()))?;
    let state = match query.state.as_deref() {
        None => None,
        Some(s) => Some(TaskState::parse(s).ok_or_else(|| {
            SchedulerError::BadRequest("state must be pending, running, done or failed".to_owned())
        })?),
    };
    let limit = query.limit.unwrap_or(DEFAULT_LIST_LIMIT);
    if !(1..=MAX_LIST_LIMIT).contains(&limit) {
        return Err(SchedulerError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIST_LIMIT}"
        )));
    }
    let tasks = scheduler.db().tasks(state, limit).await?;
    Ok(Json(TaskList {
        tasks: tasks.into_iter().map(TaskView::from).collect(),
    }))
}

async fn ready(State(scheduler): State<SchedulerState>) -> Response {
    reel_core::http::readiness(scheduler.db()).await
}

async fn not_found() -> SchedulerError {
    SchedulerError::NotFound("route")
}
