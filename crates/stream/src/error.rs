//! The stream server's errors and the status and JSON body each one answers with.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reel_core::error_body::ErrorResponse;
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
    /// A multipart form holds too much besides its file.
    #[error("the form holds more than {limit} bytes besides its `file` part")]
    FormOverhead {
        /// The bound.
        limit: u64,
    },
    /// The upload would pass what its owner's quota left when the upload URL was signed.
    #[error("upload larger than the {allowance} bytes your quota leaves")]
    QuotaExceeded {
        /// The bytes the quota left.
        allowance: u64,
    },
    /// A private video's bytes asked for without a playback grant.
    #[error("this video is private: its URLs carry a playback grant")]
    PrivateVideo,
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

impl ErrorResponse for StreamError {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadId | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound | Self::Storage(StorageError::NotFound) => StatusCode::NOT_FOUND,
            Self::Token(TokenError::WrongVideo) => StatusCode::FORBIDDEN,
            Self::MissingToken | Self::Token(_) => StatusCode::UNAUTHORIZED,
            Self::TooLarge { .. } | Self::FormOverhead { .. } | Self::QuotaExceeded { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::PrivateVideo => StatusCode::FORBIDDEN,
            Self::NotVideo | Self::WrongMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::OffsetConflict { .. } => StatusCode::CONFLICT,
            Self::TusVersion | Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Deleted => StatusCode::GONE,
            Self::Storage(e) if e.is_out_of_space() => StatusCode::INSUFFICIENT_STORAGE,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::BadId => "bad_id",
            Self::NotFound | Self::Storage(StorageError::NotFound) => "not_found",
            Self::MissingToken => "missing_token",
            Self::Token(TokenError::WrongVideo) => "wrong_video",
            Self::Token(TokenError::Expired) => "expired_token",
            Self::Token(_) => "invalid_token",
            Self::TooLarge { .. } | Self::FormOverhead { .. } => "too_large",
            Self::QuotaExceeded { .. } => "quota_exceeded",
            Self::PrivateVideo => "private_video",
            Self::NotVideo => "not_video",
            Self::BadRequest(_) => "bad_request",
            Self::WrongMediaType(_) => "wrong_media_type",
            Self::OffsetConflict { .. } => "offset_mismatch",
            Self::TusVersion => "tus_version",
            Self::PreconditionFailed => "precondition_failed",
            Self::Deleted => "video_deleted",
            Self::Storage(e) if e.is_out_of_space() => "insufficient_storage",
            Self::Storage(_) => "internal",
        }
    }

    fn add_headers(&self, headers: &mut HeaderMap) {
        if matches!(self, Self::TusVersion) {
            headers.insert("tus-version", HeaderValue::from_static("1.0.0"));
        }
    }
}

impl IntoResponse for StreamError {
    fn into_response(self) -> Response {
        self.to_response()
    }
}
