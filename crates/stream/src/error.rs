//! The stream server's errors and the status and JSON body each one answers with.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reel_core::error_body::ErrorBody;
use reel_core::signing::TokenError;
use reel_core::storage::StorageError;

/// Everything a stream request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The video id in the path is not a canonical UUID.
    #[error("malformed video id")]
    BadId,
    /// No such video, rendition or resumable upload.
    #[error("not found")]
    NotFound,
    /// An upload without a token.
    #[error("an upload token is required (query `token` or `Authorization: Bearer`)")]
    MissingToken,
    /// An upload token that does not grant this upload.
    #[error("upload token refused: {0}")]
    Token(TokenError),
    /// The upload is larger than allowed.
    #[error("upload larger than {limit} bytes")]
    TooLarge {
        /// The limit that was passed.
        limit: u64,
    },
    /// The upload does not start like any accepted container.
    #[error(
        "not a video: accepted containers are MP4/MOV, Matroska/WebM, AVI, MPEG-TS, FLV and Ogg"
    )]
    NotVideo,
    /// The request is not well formed.
    #[error("{0}")]
    BadRequest(String),
    /// The request body has the wrong media type.
    #[error("{0}")]
    WrongMediaType(String),
    /// A tus `PATCH` at another offset than the stored one.
    #[error("Upload-Offset {claimed} does not match the stored offset {stored}")]
    OffsetConflict {
        /// What the client sent.
        claimed: u64,
        /// What is stored.
        stored: u64,
    },
    /// A tus request without `Tus-Resumable: 1.0.0`.
    #[error("only tus 1.0.0 is supported")]
    TusVersion,
    /// A precondition (`If-Match`, `If-Unmodified-Since`) failed.
    #[error("precondition failed")]
    PreconditionFailed,
    /// The video was deleted: it takes no more bytes and serves none.
    #[error("this video was deleted")]
    Deleted,
    /// Storage failed; details are logged, not sent.
    #[error("storage failure")]
    Storage(#[from] StorageError),
}

impl StreamError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::BadId => (StatusCode::BAD_REQUEST, "bad_id"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::MissingToken => (StatusCode::UNAUTHORIZED, "missing_token"),
            Self::Token(TokenError::WrongVideo) => (StatusCode::FORBIDDEN, "wrong_video"),
            Self::Token(TokenError::Expired) => (StatusCode::UNAUTHORIZED, "expired_token"),
            Self::Token(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Self::NotVideo => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "not_video"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            Self::WrongMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "wrong_media_type"),
            Self::OffsetConflict { .. } => (StatusCode::CONFLICT, "offset_mismatch"),
            Self::TusVersion => (StatusCode::PRECONDITION_FAILED, "tus_version"),
            Self::PreconditionFailed => (StatusCode::PRECONDITION_FAILED, "precondition_failed"),
            Self::Deleted => (StatusCode::GONE, "video_deleted"),
            Self::Storage(StorageError::NotFound) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Storage(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl IntoResponse for StreamError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self, source = ?self, "stream request failed");
            "internal error".to_owned()
        } else {
            self.to_string()
        };
        let mut response = ErrorBody::new(code, message).into_response_with(status);
        if matches!(self, Self::TusVersion) {
            response
                .headers_mut()
                .insert("tus-version", HeaderValue::from_static("1.0.0"));
        }
        response
    }
}
