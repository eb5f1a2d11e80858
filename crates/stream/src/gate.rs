//! The gate every upload streams through: the size limit, enforced as bytes arrive,
//! and container sniffing, which holds the first bytes back until they are known to
//! start a video, so that a refused body stores nothing.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use futures::stream::{BoxStream, Stream, StreamExt};

use reel_core::sniff::{self, Container, SNIFF_LEN};

use crate::error::StreamError;

/// After a body is refused midway, at most this much more of it is read and dropped...
const LINGER_BYTES: u64 = 16 * 1024 * 1024;
/// ...for at most this long, before the refusal is sent.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Why an upload's body was refused while it streamed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UploadError {
    /// The body passed the size limit.
    #[error("upload larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: u64,
    },
    /// The first bytes are not a video container.
    #[error("not a video")]
    NotVideo,
    /// The video was deleted while its upload streamed.
    #[error("video deleted")]
    Deleted,
    /// What surrounds the file in a multipart form passed its bound.
    #[error("the form holds more than {limit} bytes besides its file")]
    FormOverhead {
        /// The bound.
        limit: u64,
    },
    /// A multipart form that is not one `file` part.
    #[error("{0}")]
    BadForm(String),
    /// The body could not be read: the client went away or sent garbage.
    #[error("upload interrupted: {0}")]
    Interrupted(String),
}

impl From<UploadError> for StreamError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::TooLarge { limit } => Self::TooLarge { limit },
            UploadError::NotVideo => Self::NotVideo,
            UploadError::FormOverhead { limit } => Self::FormOverhead { limit },
            UploadError::BadForm(why) => Self::BadRequest(why),
            UploadError::Deleted => Self::Deleted,
            UploadError::Interrupted(why) => Self::BadRequest(format!("upload interrupted: {why}")),
        }
    }
}

/// Reads and drops what is left of `body` within bounds (see [`UploadGate::linger`]).
async fn linger<S, E>(mut body: S)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let drain = async {
        let mut left = LINGER_BYTES;
        while left > 0
            && let Some(Ok(bytes)) = body.next().await
        {
            left = left.saturating_sub(bytes.len() as u64);
        }
    };
    let _ = tokio::time::timeout(LINGER_TIME, drain).await;
}

/// An upload refused before its body was read (no valid grant, a deleted video): what
/// the client is still sending is read and dropped first, within the same bounds, so
/// that it sees `refusal` rather than a reset connection.
pub async fn refuse_unread(refusal: StreamError, body: Body) -> StreamError {
    linger(body.into_data_stream()).await;
    refusal
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

    /// Reads and drops what the client is still sending of a refused body (within
    /// bounds), so that it sees the refusal: answering while it still writes would make
    /// the connection close with unread bytes, which resets it, answer included (what
    /// nginx avoids by a lingering close).
    pub async fn linger(&mut self) {
        linger(&mut self.source).await;
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
        let mut v = b"\0\0\0\x10ftypisom\0\0\x02\0\0\0\0\0mdat".to_vec();
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
