use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reel_core::db::DbError;
use reel_core::domain::Invalid;
use reel_core::error_body::ErrorBody;
use reel_core::session::SessionError;

/// Everything a handler can answer besides success. Internal details are logged here and
/// never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: body, path, query or a broken rule.
    #[error("{0}")]
    BadRequest(String),
    /// No session, or an expired or unknown one.
    #[error("log in first")]
    Unauthorized,
    /// The name and password do not match.
    #[error("wrong user name or password")]
    WrongCredentials,
    /// A valid session that may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// No such thing (or not visible to this reader).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The thing exists already.
    #[error("{0}")]
    Conflict(&'static str),
    /// Too many log-in attempts; try again after this many seconds.
    #[error("too many attempts, try again in {0} s")]
    TooManyRequests(u64),
    /// The body is over the limit.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// A failure of ours.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::WrongCredentials => (StatusCode::UNAUTHORIZED, "wrong_credentials"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::TooManyRequests(_) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let Self::Internal(e) = &self {
            tracing::error!(error = format!("{e:#}"), "request failed");
        }
        let mut res = ErrorBody::new(code, self.to_string()).into_response_with(status);
        if let Self::TooManyRequests(secs) = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> Self {
        Self::BadRequest(e.0)
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        Self::Internal(e.into())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::PayloadTooLarge;
        }
        // Missing content type, syntax and shape errors alike are a bad request here.
        Self::BadRequest(r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        Self::BadRequest(r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest(r.body_text())
    }
}

/// The answer for a path no route matches.
pub async fn not_found() -> ApiError {
    ApiError::NotFound("route")
}

/// The answer for a known path with a method it does not take.
pub async fn method_not_allowed() -> Response {
    ErrorBody::new("method_not_allowed", "method not allowed on this path")
        .into_response_with(StatusCode::METHOD_NOT_ALLOWED)
}
