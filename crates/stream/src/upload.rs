//! Plain uploads: `POST /upload/{vid}` (multipart, field `file`, as the first design's page sent
//! it) and `PUT /upload/{vid}` (the raw body). The body streams through an
//! [`UploadGate`] (size limit and container sniffing) into a temporary object that
//! becomes `videos/{vid}/original` only when complete.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use reel_core::ids::VideoId;
use reel_core::storage::{PutError, keys};
use serde::Serialize;

use crate::StreamState;
use crate::auth::UploadAuth;
use crate::error::StreamError;
use crate::sniff::{self, Container, SNIFF_LEN};

/// Room for multipart boundaries and part headers around the file itself.
const MULTIPART_OVERHEAD: u64 = 64 * 1024;

/// Why an upload's body was refused while it streamed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UploadError {
    /// The body passed the size limit.
    #[error("upload larger than {limit} bytes")]
    TooLarge { limit: u64 },
    /// The first bytes are not a video container.
    #[error("not a video")]
    NotVideo,
    /// The body could not be read: the client went away or sent garbage.
    #[error("upload interrupted: {0}")]
    Interrupted(String),
}

impl From<UploadError> for StreamError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::TooLarge { limit } => Self::TooLarge { limit },
            UploadError::NotVideo => Self::NotVideo,
            UploadError::Interrupted(why) => Self::BadRequest(format!("upload interrupted: {why}")),
        }
    }
}

/// The answer to a finished upload.
#[derive(Debug, Serialize)]
struct Uploaded {
    video_id: VideoId,
    /// Bytes stored.
    size: u64,
    /// The detected container's media type.
    content_type: &'static str,
}

/// `PUT /upload/{vid}`: the body is the video.
#[tracing::instrument(skip_all, fields(video = %auth.video))]
pub async fn raw(
    State(state): State<StreamState>,
    auth: UploadAuth,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, StreamError> {
    let limit = state.max_upload_bytes();
    refuse_declared_oversize(&headers, limit, limit)?;
    let source = body
        .into_data_stream()
        .map_err(|e| UploadError::Interrupted(e.to_string()))
        .boxed();
    store(&state, auth.video, source).await
}

/// `POST /upload/{vid}`: a `multipart/form-data` body whose `file` field is the video.
#[tracing::instrument(skip_all, fields(video = %auth.video))]
pub async fn multipart(
    State(state): State<StreamState>,
    auth: UploadAuth,
    request: Request,
) -> Result<Response, StreamError> {
    let limit = state.max_upload_bytes();
    refuse_declared_oversize(request.headers(), limit + MULTIPART_OVERHEAD, limit)?;
    let mut form = Multipart::from_request(request, &state)
        .await
        .map_err(|e| StreamError::BadRequest(e.body_text()))?;
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| StreamError::BadRequest(e.body_text()))?
            .ok_or_else(|| StreamError::BadRequest("no `file` field in the form".into()))?;
        if field.name() == Some("file") {
            let source = field
                .map_err(|e| UploadError::Interrupted(e.body_text()))
                .boxed();
            return store(&state, auth.video, source).await;
        }
    }
}

/// A 413 before reading the body when `Content-Length` already says it is too big.
pub(crate) fn refuse_declared_oversize(
    headers: &HeaderMap,
    allowed: u64,
    limit: u64,
) -> Result<(), StreamError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > allowed => Err(StreamError::TooLarge { limit }),
        _ => Ok(()),
    }
}

async fn store(
    state: &StreamState,
    video: VideoId,
    source: BoxStream<'_, Result<Bytes, UploadError>>,
) -> Result<Response, StreamError> {
    let limit = state.max_upload_bytes();
    let gate = UploadGate::new(source, limit, 0, Bytes::new(), None);
    let detected = gate.detected();
    let size = match state
        .storage()
        .put_stream(&keys::original(video), gate)
        .await
    {
        Ok(size) => size,
        Err(PutError::Source(e)) => return Err(e.into()),
        Err(PutError::Storage(e)) => return Err(e.into()),
    };
    upload_finished(state, video).await;
    let content_type = detected
        .get()
        .map_or("application/octet-stream", |c| c.content_type());
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

/// A stream adapter over an upload body that enforces the size limit as bytes arrive
/// and holds back the first `SNIFF_LEN` bytes until they are known to start a video
/// container, so that a refused body stores nothing.
pub struct UploadGate<'a> {
    /// The body.
    source: BoxStream<'a, Result<Bytes, UploadError>>,
    /// The most bytes the whole upload may have.
    limit: u64,
    /// Bytes of the whole upload seen so far, including those stored earlier.
    position: u64,
    /// The total length when known in advance (tus); reaching it completes the upload.
    total: Option<u64>,
    /// While undecided: the upload's first bytes, starting with `stored_prefix`.
    pending: Option<BytesMut>,
    /// How many bytes at the start of `pending` were stored before (and must not be
    /// yielded again).
    stored_prefix: usize,
    /// The container, once recognised.
    detected: Arc<OnceLock<Container>>,
    /// Items ready to be yielded.
    queue: VecDeque<Result<Bytes, UploadError>>,
    /// The source is finished or refused.
    done: bool,
}

impl<'a> UploadGate<'a> {
    /// Gates `source`, whose first byte is byte `stored` of the upload; `prefix` holds
    /// the stored bytes before it when `stored < SNIFF_LEN` (a resumed upload that was
    /// interrupted before the container could be recognised).
    pub fn new(
        source: BoxStream<'a, Result<Bytes, UploadError>>,
        limit: u64,
        stored: u64,
        prefix: Bytes,
        total: Option<u64>,
    ) -> Self {
        let pending = (stored < SNIFF_LEN as u64).then(|| BytesMut::from(prefix.as_ref()));
        Self {
            source,
            limit,
            position: stored,
            total,
            stored_prefix: prefix.len(),
            pending,
            detected: Arc::new(OnceLock::new()),
            queue: VecDeque::new(),
            done: false,
        }
    }

    /// Where the recognised container will be recorded.
    pub fn detected(&self) -> Arc<OnceLock<Container>> {
        self.detected.clone()
    }

    /// Decides on the held-back bytes: release them, or refuse the upload.
    fn decide(&mut self) {
        let Some(mut head) = self.pending.take() else {
            return;
        };
        match sniff::detect(&head) {
            Some(container) => {
                let _ = self.detected.set(container);
                self.release(head.split_off(self.stored_prefix));
            }
            None => {
                self.done = true;
                self.queue.clear();
                self.queue.push_back(Err(UploadError::NotVideo));
            }
        }
    }

    /// Passes held-back bytes on undecided, for an upload that will continue later.
    fn defer(&mut self) {
        if let Some(mut head) = self.pending.take() {
            self.release(head.split_off(self.stored_prefix));
        }
    }

    fn release(&mut self, bytes: BytesMut) {
        if !bytes.is_empty() {
            self.queue.push_back(Ok(bytes.freeze()));
        }
    }
}

impl Stream for UploadGate<'_> {
    type Item = Result<Bytes, UploadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(item) = self.queue.pop_front() {
                return Poll::Ready(Some(item));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match ready!(self.source.poll_next_unpin(cx)) {
                Some(Ok(bytes)) => {
                    self.position += bytes.len() as u64;
                    if self.position > self.limit {
                        self.done = true;
                        let limit = self.limit;
                        self.queue.push_back(Err(UploadError::TooLarge { limit }));
                    } else if let Some(head) = &mut self.pending {
                        head.extend_from_slice(&bytes);
                        if head.len() >= SNIFF_LEN {
                            self.decide();
                        }
                    } else if !bytes.is_empty() {
                        self.queue.push_back(Ok(bytes));
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    self.defer();
                    self.queue.push_back(Err(e));
                }
                None => {
                    self.done = true;
                    if self.total.is_none_or(|t| self.position >= t) {
                        self.decide();
                    } else {
                        self.defer();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mp4(len: usize) -> Vec<u8> {
        let mut v = b"\0\0\0\x20ftypisom".to_vec();
        v.resize(len, 7);
        v
    }

    async fn run(
        chunks: Vec<Result<Vec<u8>, UploadError>>,
        limit: u64,
        stored: u64,
        prefix: &[u8],
        total: Option<u64>,
    ) -> Vec<Result<Vec<u8>, UploadError>> {
        let source = futures::stream::iter(
            chunks
                .into_iter()
                .map(|c| c.map(Bytes::from))
                .collect::<Vec<_>>(),
        )
        .boxed();
        UploadGate::new(source, limit, stored, Bytes::copy_from_slice(prefix), total)
            .map(|r| r.map(|b| b.to_vec()))
            .collect()
            .await
    }

    #[tokio::test]
    async fn videos_pass_whole_and_in_order() {
        let data = mp4(2000);
        let chunks = data.chunks(100).map(|c| Ok(c.to_vec())).collect();
        let out = run(chunks, 10_000, 0, &[], None).await;
        let joined: Vec<u8> = out.into_iter().flat_map(Result::unwrap).collect();
        assert_eq!(joined, data);
    }

    #[tokio::test]
    async fn non_videos_yield_nothing_but_the_refusal() {
        let out = run(vec![Ok(vec![b'x'; 4000])], 10_000, 0, &[], None).await;
        assert!(matches!(out.as_slice(), [Err(UploadError::NotVideo)]));
        let tiny = run(vec![Ok(b"hello".to_vec())], 10_000, 0, &[], None).await;
        assert!(matches!(tiny.as_slice(), [Err(UploadError::NotVideo)]));
    }

    #[tokio::test]
    async fn the_limit_stops_the_stream() {
        let out = run(vec![Ok(mp4(600)), Ok(vec![0; 600])], 1000, 0, &[], None).await;
        assert!(matches!(
            out.last(),
            Some(Err(UploadError::TooLarge { limit: 1000 }))
        ));
    }

    #[tokio::test]
    async fn a_resumed_upload_sniffs_across_the_break() {
        let data = mp4(1000);
        let first = run(vec![Ok(data[..10].to_vec())], 1000, 0, &[], Some(1000)).await;
        assert_eq!(first.len(), 1, "short first part passes undecided");
        let rest = run(
            vec![Ok(data[10..].to_vec())],
            1000,
            10,
            &data[..10],
            Some(1000),
        )
        .await;
        let joined: Vec<u8> = rest.into_iter().flat_map(Result::unwrap).collect();
        assert_eq!(joined, data[10..]);
        let bad = run(vec![Ok(vec![1; 990])], 1000, 10, &[9; 10], Some(1000)).await;
        assert!(matches!(bad.as_slice(), [Err(UploadError::NotVideo)]));
    }
}
