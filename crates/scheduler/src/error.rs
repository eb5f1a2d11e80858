//! The error every intake handler returns, and its JSON form.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reel_core::db::DbError;
use reel_core::error_body::ErrorBody;
use reel_core::storage::StorageError;

/// Everything the scheduler can answer besides success. Internal details are logged
/// here and never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// Malformed input: a path or query that breaks a rule.
    #[error("{0}")]
    BadRequest(String),
    /// No valid service signature for this method and path.
    #[error("a valid service signature is required")]
    Unauthorized,
    /// No such route.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request contradicts the stored state.
    #[error("{0}")]
    Conflict(&'static str),
    /// A failure of ours (database, storage).
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl SchedulerError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for SchedulerError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        ErrorBody::new(code, self.to_string()).into_response_with(status)
    }
}

impl From<DbError> for SchedulerError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<StorageError> for SchedulerError {
    fn from(e: StorageError) -> Self {
        Self::Internal(e.into())
    }
}
