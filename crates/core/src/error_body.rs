use std::fmt;

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
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
    pub fn new(code: impl Into<String>, error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            code: code.into(),
        }
    }

    pub fn into_response_with(self, status: StatusCode) -> Response {
        (status, Json(self)).into_response()
    }
}

/// An error a service answers a request with. Each service's error enum says its status
/// and code; the answer itself is built here, the same way everywhere: the message is
/// the error's `Display`, except for server errors, whose details (the whole `source`
/// chain) are logged and answered only as "internal error" (or, for a 507, as storage
/// being full).
///
/// `IntoResponse` cannot be implemented here for every such type (both are foreign to
/// the services' crates), so each enum's `into_response` calls [`Self::to_response`].
pub trait ErrorResponse: std::error::Error {
    fn status(&self) -> StatusCode;

    /// The stable machine-readable code of the body.
    fn code(&self) -> &'static str;

    /// Headers that come with this error, such as `Retry-After`.
    fn add_headers(&self, _headers: &mut HeaderMap) {}

    fn to_response(&self) -> Response {
        let status = self.status();
        let message = if status == StatusCode::INSUFFICIENT_STORAGE {
            // Not a fault of ours to hide, but an operator's to fix: named as it is.
            tracing::error!(error = %SourceChain(self), "storage is full");
            "the server's storage is full".to_owned()
        } else if status.is_server_error() {
            tracing::error!(error = %SourceChain(self), "request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = ErrorBody::new(self.code(), message).into_response_with(status);
        self.add_headers(response.headers_mut());
        response
    }
}

/// An error and its sources, `outer: inner: innermost`, for logs.
struct SourceChain<'a, E: ?Sized>(&'a E);

impl<E: std::error::Error + ?Sized> fmt::Display for SourceChain<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(e) = source {
            write!(f, ": {e}")?;
            source = e.source();
        }
        Ok(())
    }
}

/// The answer for a known path with a method it does not take.
pub async fn method_not_allowed() -> Response {
    ErrorBody::new("method_not_allowed", "method not allowed on this path")
        .into_response_with(StatusCode::METHOD_NOT_ALLOWED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Failure {
        #[error("the name is taken")]
        Taken,
        #[error("storage failure")]
        Storage(#[source] std::io::Error),
    }

    impl ErrorResponse for Failure {
        fn status(&self) -> StatusCode {
            match self {
                Self::Taken => StatusCode::CONFLICT,
                Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }

        fn code(&self) -> &'static str {
            match self {
                Self::Taken => "conflict",
                Self::Storage(_) => "internal",
            }
        }
    }

    async fn body(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn client_errors_say_what_went_wrong() {
        let response = Failure::Taken.to_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(
            body(response).await,
            serde_json::json!({"error": "the name is taken", "code": "conflict"})
        );
    }

    #[tokio::test]
    async fn server_errors_never_leak_their_details() {
        let secret = std::io::Error::other("disk /srv/secret is full");
        let response = Failure::Storage(secret).to_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            body(response).await,
            serde_json::json!({"error": "internal error", "code": "internal"})
        );
    }

    #[test]
    fn logs_show_the_whole_chain() {
        let failure = Failure::Storage(std::io::Error::other("disk full"));
        assert_eq!(
            SourceChain(&failure).to_string(),
            "storage failure: disk full"
        );
    }
}
