//! The connection limiter: a semaphore of N permits, one held by each playback or upload
//! from the moment its request arrives until its response body has been sent or the
//! client has gone away. Over N, an immediate 429 that does no other work.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use reel_core::error_body::ErrorBody;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A cheap handle on the shared permits.
#[derive(Clone, Debug)]
pub struct Limiter {
    permits: Arc<Semaphore>,
    /// How many there are in all.
    capacity: usize,
    /// What `Retry-After` tells a refused client, in seconds.
    retry_after_secs: u32,
}

impl Limiter {
    /// A limiter of `capacity` concurrent connections.
    pub fn new(capacity: usize, retry_after_secs: u32) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            retry_after_secs,
        }
    }

    /// How many permits are held right now.
    pub fn in_use(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }

    /// The refusal: no handler runs, no storage is touched.
    fn too_busy(&self) -> Response {
        metrics::counter!("reel_stream_refused_total").increment(1);
        let mut response = ErrorBody::new(
            "too_many_connections",
            "the stream server is at its connection limit; retry shortly",
        )
        .into_response_with(StatusCode::TOO_MANY_REQUESTS);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        response
    }
}

/// The middleware: take a permit or refuse; the permit then travels with the response
/// body, so that it is held while the body streams and dropped when it ends or is dropped.
pub async fn limit(State(limiter): State<Limiter>, request: Request, next: Next) -> Response {
    let Ok(permit) = limiter.permits.clone().try_acquire_owned() else {
        return limiter.too_busy();
    };
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(
        parts,
        Body::new(PermitBody {
            inner: body,
            permit: Some(permit),
        }),
    )
    .into_response()
}

/// A response body that holds a connection permit until it is finished or dropped.
struct PermitBody {
    /// The real body.
    inner: Body,
    /// Released at the end of the stream, or when hyper drops the body because the
    /// client went away.
    permit: Option<OwnedSemaphorePermit>,
}

impl HttpBody for PermitBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.permit = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
