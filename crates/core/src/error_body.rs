use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

/// The body of every error response: `{"error": "...", "code": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// A human-readable explanation.
    pub error: String,
    /// A stable machine-readable code, such as `bad_request` or `not_found`.
    pub code: String,
}

impl ErrorBody {
    /// Builds an error body.
    pub fn new(code: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            code: code.into(),
        }
    }

    /// The body as a response with the given status.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}
