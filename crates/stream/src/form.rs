//! The multipart form of `POST /upload/{vid}`, read with a bound on every part of it:
//! what comes before the `file` part's bytes (the preamble, the boundaries and headers of
//! the parts before it) and what comes after them are at most [`FORM_OVERHEAD`] each, the
//! file part at most the upload limit, and the whole stream at most both together. A
//! body that never shows its boundary is refused with 413 once it passes the overhead,
//! however it is framed: `multer` alone would keep it all in memory, looking for the
//! boundary.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use futures::stream::{BoxStream, Stream, StreamExt, TryStreamExt};
use multer::{Constraints, Multipart, SizeLimit};

use crate::error::StreamError;
use crate::gate::UploadError;

/// What a form may hold besides its file's bytes, before them and after them.
pub const FORM_OVERHEAD: u64 = 64 * 1024;

/// The field that holds the video.
const FILE_FIELD: &str = "file";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The `file` part's bytes of the multipart `body`, whose own limit is `limit`. The
/// stream ends with an error when a part follows the file, so that a form of two
/// files stores neither.
pub async fn file_part(
    headers: &HeaderMap,
    body: Body,
    limit: u64,
) -> Result<BoxStream<'static, Result<Bytes, UploadError>>, StreamError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = multer::parse_boundary(content_type).map_err(|_| {
        StreamError::BadRequest("a multipart/form-data body with a boundary is required".into())
    })?;
    let budget = Arc::new(Budget {
        allowed: AtomicU64::new(FORM_OVERHEAD),
        read: AtomicU64::new(0),
        overrun: AtomicBool::new(false),
    });
    let body = Budgeted {
        inner: body.into_data_stream(),
        budget: budget.clone(),
        stash: None,
        paused: false,
    };
    let sizes = SizeLimit::new()
        .whole_stream(limit.saturating_add(2 * FORM_OVERHEAD))
        .per_field(limit);
    let mut form =
        Multipart::with_constraints(body, boundary, Constraints::new().size_limit(sizes));
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| StreamError::from(refusal(&budget, limit, e)))?
            .ok_or_else(|| StreamError::BadRequest("no `file` field in the form".into()))?;
        if field.name() != Some(FILE_FIELD) {
            // Dropped unread: the next part is looked for within the same overhead.
            continue;
        }
        budget.allowed.store(u64::MAX, Ordering::Relaxed);
        let after = budget.clone();
        let file_budget = budget.clone();
        let nothing_after = futures::stream::once(async move {
            let end = after
                .read
                .load(Ordering::Relaxed)
                .saturating_add(FORM_OVERHEAD);
            after.allowed.store(end, Ordering::Relaxed);
            match form.next_field().await {
                Ok(None) => None,
                Ok(Some(_)) => Some(Err(UploadError::BadForm(
                    "the form must end after its `file` part".into(),
                ))),
                Err(e) => Some(Err(refusal(&after, limit, e))),
            }
        })
        .filter_map(std::future::ready);
        let file = field.map_err(move |e| refusal(&file_budget, limit, e));
        return Ok(file.chain(nothing_after).boxed());
    }
}

/// Why reading the form failed, as an upload error.
fn refusal(budget: &Budget, limit: u64, e: multer::Error) -> UploadError {
    if budget.overrun.load(Ordering::Relaxed) {
        return UploadError::FormOverhead {
            limit: FORM_OVERHEAD,
        };
    }
    match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            UploadError::TooLarge { limit }
        }
        multer::Error::StreamReadFailed(e) => UploadError::Interrupted(e.to_string()),
        e => UploadError::BadForm(e.to_string()),
    }
}

/// How much of the body may be read so far, shared by the reader and the form.
struct Budget {
    /// Bytes of the body that may be read in all, for now.
    allowed: AtomicU64,
    /// Bytes read.
    read: AtomicU64,
    /// Reading stopped at `allowed`.
    overrun: AtomicBool,
}

/// The body, handed to the form parser no further than its [`Budget`] allows.
struct Budgeted<S> {
    inner: S,
    budget: Arc<Budget>,
    /// The part of a frame beyond the budget, kept for when it grows.
    stash: Option<Bytes>,
    /// The budget was reached once: the parser has had the chance to find what it
    /// looks for in what it holds.
    paused: bool,
}

impl<S> Stream for Budgeted<S>
where
    S: Stream<Item = Result<Bytes, axum::Error>> + Unpin,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let allowed = self.budget.allowed.load(Ordering::Relaxed);
        let read = self.budget.read.load(Ordering::Relaxed);
        if read >= allowed {
            if !self.paused {
                // The parser reads until nothing is ready, then parses what it holds;
                // a pause lets it parse before the budget is judged spent.
                self.paused = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.budget.overrun.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err("the form's overhead is over its limit".into())));
        }
        self.paused = false;
        let mut chunk = match self.stash.take() {
            Some(chunk) => chunk,
            None => match ready!(self.inner.poll_next_unpin(cx)) {
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                None => return Poll::Ready(None),
            },
        };
        let room = allowed - read;
        if chunk.len() as u64 > room {
            // `room` is below the chunk's length, itself a `usize`.
            self.stash = Some(chunk.split_off(room as usize));
        }
        self.budget
            .read
            .store(read + chunk.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(chunk)))
    }
}
