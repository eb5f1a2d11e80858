//! Plain uploads: `POST /upload/{vid}` (multipart, field `file`, as the first design's
//! page sent it) and `PUT /upload/{vid}` (the raw body). The body streams through an
//! [`UploadGate`] (size limit and container sniffing) into `videos/{vid}/original`,
//! stored with the sniffed type and visible only when complete, and only if the video was
//! not deleted meanwhile.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use reel_core::ids::VideoId;
use reel_core::storage::{OCTET_STREAM, PutError, keys};
use serde::Serialize;

use crate::StreamState;
use crate::auth::{UploadAuth, UploadLimit};
use crate::error::StreamError;
use crate::form::{self, FORM_OVERHEAD};
use crate::gate::{UploadError, UploadGate};

/// The answer to a finished upload.
#[derive(Debug, Serialize)]
struct Uploaded {
    /// The video.
    video_id: VideoId,
    /// Bytes stored.
    size: u64,
    /// The detected container's media type.
    content_type: &'static str,
}

/// `PUT /upload/{vid}`: the body is the video.
#[tracing::instrument(skip_all, fields(video = tracing::field::Empty))]
pub async fn raw(
    State(state): State<StreamState>,
    auth: Result<UploadAuth, StreamError>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, StreamError> {
    let (auth, body) = UploadAuth::or_refuse(auth, body).await?;
    let limit = auth.limit(state.max_upload_bytes());
    refuse_declared_oversize(&headers, limit.bytes, limit)?;
    let source = body
        .into_data_stream()
        .map_err(|e| UploadError::Interrupted(e.to_string()))
        .boxed();
    store(&state, auth.video, limit, source).await
}

/// `POST /upload/{vid}`: a `multipart/form-data` body whose `file` field is the video.
#[tracing::instrument(skip_all, fields(video = tracing::field::Empty))]
pub async fn multipart(
    State(state): State<StreamState>,
    auth: Result<UploadAuth, StreamError>,
    request: Request,
) -> Result<Response, StreamError> {
    let (parts, body) = request.into_parts();
    let (auth, body) = UploadAuth::or_refuse(auth, body).await?;
    let limit = auth.limit(state.max_upload_bytes());
    refuse_declared_oversize(&parts.headers, limit.bytes + 2 * FORM_OVERHEAD, limit)?;
    let source = form::file_part(&parts.headers, body, limit.bytes)
        .await
        .map_err(|e| limit.explain(e))?;
    store(&state, auth.video, limit, source).await
}

/// A 413 before reading the body when `Content-Length` already says it is too big.
pub(crate) fn refuse_declared_oversize(
    headers: &HeaderMap,
    allowed: u64,
    limit: UploadLimit,
) -> Result<(), StreamError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > allowed => Err(limit.refusal()),
        _ => Ok(()),
    }
}

async fn store(
    state: &StreamState,
    video: VideoId,
    limit: UploadLimit,
    source: BoxStream<'_, Result<Bytes, UploadError>>,
) -> Result<Response, StreamError> {
    let mut gate = UploadGate::new(source, limit.bytes, 0, Bytes::new(), None);
    // The gate yields nothing before it recognised the container (or refused the body),
    // so the type is known before the first byte is stored, and stored with the object.
    let first = gate.next().await;
    let content_type = gate
        .detected()
        .get()
        .map_or(OCTET_STREAM, |c| c.content_type());
    // The last word before the upload becomes the original: a video deleted while its
    // upload streamed gets none.
    let still_wanted = futures::stream::once(state.refuse_deleted_now(video))
        .filter_map(|checked| std::future::ready(checked.err().map(Err::<Bytes, _>)));
    let body = futures::stream::iter(first)
        .chain(&mut gate)
        .map_err(|e| limit.explain(StreamError::from(e)))
        .chain(still_wanted);
    let size = match state
        .storage()
        .put_stream(&keys::original(video), Some(content_type), body)
        .await
    {
        Ok(size) => size,
        Err(PutError::Source(e)) => {
            gate.linger().await;
            return Err(e);
        }
        Err(PutError::Storage(e)) => return Err(e.into()),
    };
    upload_finished(state, video).await;
    tracing::info!(size, content_type, "upload stored");
    let body = Uploaded {
        video_id: video,
        size,
        content_type,
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// After a new original is in place: renditions of an earlier upload no longer match
/// it, so they go, and the scheduler is told to make new ones.
pub(crate) async fn upload_finished(state: &StreamState, video: VideoId) {
    let storage = state.storage();
    let stale = async {
        storage.delete(&keys::playable(video)).await?;
        storage.delete(&keys::poster(video)).await?;
        storage.delete_prefix(&keys::hls_prefix(video)).await
    };
    if let Err(e) = stale.await {
        tracing::warn!(%video, error = %e, "could not remove renditions of an earlier upload");
    }
    state.outbox().upload_completed(video).await;
}
