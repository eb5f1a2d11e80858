//! Who may upload: the signed upload token the API put in `upload_url`, checked without
//! a database before a byte of the body is read, for a video that is not deleted.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use reel_core::ids::VideoId;
use reel_core::signing::UploadGrant;

use crate::StreamState;
use crate::error::StreamError;
use crate::gate::refuse_unread;

/// An upload request whose token grants the video in its path.
#[derive(Debug, Clone)]
pub struct UploadAuth {
    /// The video being uploaded.
    pub video: VideoId,
    /// The token when it came in the query string, so that tus `Location`s can carry it
    /// on for clients that only keep URLs.
    pub query_token: Option<String>,
    /// The most bytes the upload may have by its owner's quota; `None`: no quota.
    pub allowance: Option<u64>,
}

/// The most bytes an upload may have, and which rule sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimit {
    /// The bytes.
    pub bytes: u64,
    /// Whether the owner's quota sets it (else the server's `--max-upload-bytes`).
    pub by_quota: bool,
}

impl UploadLimit {
    /// The refusal of an upload that would pass this limit.
    pub fn refusal(self) -> StreamError {
        if self.by_quota {
            StreamError::QuotaExceeded {
                allowance: self.bytes,
            }
        } else {
            StreamError::TooLarge { limit: self.bytes }
        }
    }

    /// `error`, telling a refusal by size as this limit's.
    pub fn explain(self, error: StreamError) -> StreamError {
        match error {
            StreamError::TooLarge { .. } => self.refusal(),
            other => other,
        }
    }
}

impl UploadAuth {
    /// The limit of this upload: the grant's allowance or `max_upload_bytes`, the
    /// smaller.
    pub fn limit(&self, max_upload_bytes: u64) -> UploadLimit {
        match self.allowance {
            Some(allowance) if allowance < max_upload_bytes => UploadLimit {
                bytes: allowance,
                by_quota: true,
            },
            _ => UploadLimit {
                bytes: max_upload_bytes,
                by_quota: false,
            },
        }
    }

    /// The grant of an upload whose body is `body`, noted on the request's span; when it
    /// was refused, what the client is still sending is read and dropped first (within
    /// bounds), so that it sees the refusal rather than a reset connection.
    pub(crate) async fn or_refuse(
        auth: Result<Self, StreamError>,
        body: Body,
    ) -> Result<(Self, Body), StreamError> {
        match auth {
            Ok(auth) => {
                tracing::Span::current().record("video", tracing::field::display(auth.video));
                Ok((auth, body))
            }
            Err(refusal) => Err(refuse_unread(refusal, body).await),
        }
    }
}

impl FromRequestParts<StreamState> for UploadAuth {
    type Rejection = StreamError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &StreamState,
    ) -> Result<Self, StreamError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| StreamError::BadId)?;
        let video = params
            .get("vid")
            .and_then(|v| VideoId::parse(v).ok())
            .ok_or(StreamError::BadId)?;
        let query_token = Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
            .ok()
            .and_then(|Query(mut q)| q.remove("token"));
        let header_token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_owned());
        let token = query_token
            .as_deref()
            .or(header_token.as_deref())
            .ok_or(StreamError::MissingToken)?;
        let grant = UploadGrant::verify(token, state.signing_key(), video, state.now_ms())
            .map_err(StreamError::Token)?;
        // A token outlives the video it was signed for when the video is deleted.
        state.refuse_deleted(video).await?;
        Ok(Self {
            video,
            query_token,
            allowance: grant.allowance,
        })
    }
}
