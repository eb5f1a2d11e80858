use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use reel_core::db::DbError;
use reel_core::domain::Invalid;
use reel_core::error_body::ErrorResponse;
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
    /// The account is banned.
    #[error("this account is banned")]
    Banned,
    /// The registration awaits an admin's approval.
    #[error("this account awaits an administrator's approval")]
    PendingApproval,
    /// The site takes no new registrations.
    #[error("registration is closed on this site")]
    RegistrationClosed,
    /// The user's quota leaves no room for another upload.
    #[error("your storage quota is used up: delete videos to make room")]
    QuotaExceeded,
    /// The thing exists already.
    #[error("{0}")]
    Conflict(&'static str),
    /// Too many log-in attempts; try again after this many seconds.
    #[error("too many attempts, try again in {0} s")]
    TooManyRequests(u64),
    /// The body is over the limit.
    #[error("request body is too large")]
    PayloadTooLarge,
    /// Every password-hashing slot is taken; try again in a second.
    #[error("the server is busy, try again in a moment")]
    Busy,
    /// A failure of ours.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ErrorResponse for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::WrongCredentials => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_)
            | Self::Banned
            | Self::PendingApproval
            | Self::RegistrationClosed
            | Self::QuotaExceeded => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized => "unauthorized",
            Self::WrongCredentials => "wrong_credentials",
            Self::Forbidden(_) => "forbidden",
            Self::Banned => "banned",
            Self::PendingApproval => "pending_approval",
            Self::RegistrationClosed => "registration_closed",
            Self::QuotaExceeded => "quota_exceeded",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::TooManyRequests(_) => "too_many_requests",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Busy => "busy",
            Self::Internal(_) => "internal",
        }
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        let wait = match self {
            Self::TooManyRequests(secs) => *secs,
            Self::Busy => 1,
            _ => return,
        };
        headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}

/// Turns the database's "no such row" into the API's 404 for the thing looked up, and
/// a unique-key violation into a 409; every other failure stays internal.
pub trait ResultExt<T> {
    fn or_not_found(self, what: &'static str) -> Result<T, ApiError>;

    fn or_conflict(self, message: &'static str) -> Result<T, ApiError>;

    /// `None` when no row matched.
    fn optional(self) -> Result<Option<T>, ApiError>;
}

impl<T> ResultExt<T> for Result<T, DbError> {
    fn or_not_found(self, what: &'static str) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            DbError::NotFound => ApiError::NotFound(what),
            e => e.into(),
        })
    }

    fn or_conflict(self, message: &'static str) -> Result<T, ApiError> {
        self.map_err(|e| match e {
            DbError::Conflict => ApiError::Conflict(message),
            e => e.into(),
        })
    }

    fn optional(self) -> Result<Option<T>, ApiError> {
        match self {
            Ok(found) => Ok(Some(found)),
            Err(DbError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
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
