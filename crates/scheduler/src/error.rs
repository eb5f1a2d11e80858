//! The error every intake handler returns, and its JSON form.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use reel_core::db::DbError;
use reel_core::error_body::ErrorResponse;
use reel_core::storage::StorageError;

/// Everything the scheduler can answer besides success. Internal details are logged
/// and never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// Malformed input: a path or query that breaks a rule.
    #[error("{0}")]
    BadRequest(String),
    /// No valid service signature for this method and path.
    #[error("a valid service signature is required")]
    Unauthorized,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The request contradicts the stored state.
    #[error("{0}")]
    Conflict(&'static str),
    /// A failure of ours (database, storage).
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ErrorResponse for SchedulerError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for SchedulerError {
    fn into_response(self) -> Response {
        self.to_response()
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
