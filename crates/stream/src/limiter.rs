//! The connection limiter: a semaphore of N permits, one held by each playback or upload
//! from the moment its request arrives until its response body has been sent or the
//! client has gone away, and at most M of them per client address (an IPv6 /64, since
//! one host commonly holds a whole /64). Over either, an immediate 429 that does no
//! other work.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
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
    /// Permits held per client key ([`client_key`]); keys holding none are removed.
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    /// How many one client key may hold.
    per_client: usize,
    /// What `Retry-After` tells a refused client, in seconds.
    retry_after_secs: u32,
}

impl Limiter {
    /// A limiter of `capacity` concurrent connections, `per_client` of them per client.
    pub fn new(capacity: usize, per_client: usize, retry_after_secs: u32) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
            clients: Arc::default(),
            per_client,
            retry_after_secs,
        }
    }

    /// How many permits are held right now.
    pub fn in_use(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }

    /// How many permits the client at `ip` holds right now.
    pub fn in_use_by(&self, ip: IpAddr) -> usize {
        self.lock_clients()
            .get(&client_key(ip))
            .copied()
            .unwrap_or(0)
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        // The map holds plain counts: a panic elsewhere cannot leave it torn.
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One of the client's slots, unless it holds all it may.
    fn client_slot(&self, key: IpAddr) -> Option<ClientSlot> {
        let mut clients = self.lock_clients();
        let held = clients.entry(key).or_insert(0);
        if *held >= self.per_client {
            return None;
        }
        *held += 1;
        Some(ClientSlot {
            clients: self.clients.clone(),
            key,
        })
    }

    /// The refusal: no handler runs, no storage is touched.
    fn too_busy(&self, why: &str) -> Response {
        metrics::counter!("reel_stream_refused_total").increment(1);
        let mut response = ErrorBody::new("too_many_connections", why)
            .into_response_with(StatusCode::TOO_MANY_REQUESTS);
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after_secs),
        );
        response
    }
}

/// What the per-client count is kept by: the address, or its /64 for IPv6.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !(u128::MAX >> 64);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// One permit of a client's share, given back when dropped.
struct ClientSlot {
    clients: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(held) = clients.get_mut(&self.key) {
            *held -= 1;
            if *held == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

/// What a playback or upload holds while it streams.
struct Permit {
    _global: OwnedSemaphorePermit,
    _client: Option<ClientSlot>,
}

/// The middleware: take a permit (and one of the client's) or refuse; the permit then
/// travels with the response body, so that it is held while the body streams and
/// dropped when it ends or is dropped.
pub async fn limit(State(limiter): State<Limiter>, request: Request, next: Next) -> Response {
    let client = match reel_core::http::client_ip(&request).map(client_key) {
        Some(key) => match limiter.client_slot(key) {
            Some(slot) => Some(slot),
            None => {
                return limiter.too_busy(
                    "this client is at its connection limit; retry once a playback ends",
                );
            }
        },
        None => None,
    };
    let Ok(global) = limiter.permits.clone().try_acquire_owned() else {
        return limiter.too_busy("the stream server is at its connection limit; retry shortly");
    };
    let permit = Permit {
        _global: global,
        _client: client,
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
    permit: Option<Permit>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_key(a), client_key(b));
        assert_ne!(client_key(a), client_key(other));
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_key(v4), v4);
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(client_key(mapped), v4);
    }

    #[test]
    fn a_client_holds_at_most_its_share() {
        let limiter = Limiter::new(10, 2, 1);
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let first = limiter.client_slot(client_key(a)).unwrap();
        let _second = limiter.client_slot(client_key(a)).unwrap();
        assert!(limiter.client_slot(client_key(a)).is_none());
        let other: IpAddr = "192.0.2.1".parse().unwrap();
        assert!(limiter.client_slot(client_key(other)).is_some());
        drop(first);
        assert_eq!(limiter.in_use_by(a), 1);
        assert!(limiter.client_slot(client_key(a)).is_some());
    }
}
