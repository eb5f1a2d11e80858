//! The accept loop every reel listener runs, with the limits a server facing strangers
//! needs (see "Hostile traffic" in `docs/architecture.md`): a header-read timeout, a
//! keep-alive idle timeout, bounded request heads, a request body that stalls is
//! dropped, and so is a response the client stops reading.
//!
//! `axum::serve` has none of these settings, so this loop drives hyper's HTTP/1
//! connection itself, as `axum::serve` does inside.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use clap::Args;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use super::timed_io::{Activity, InFlight, Patience, TimedIo};

/// How long a listener waits on its clients, and how large a request head may be.
#[derive(Debug, Clone, Args)]
#[group(skip)]
pub struct ListenerConfig {
    /// Longest a client may take to send a request's head (line and headers), from its
    /// first byte.
    #[arg(long, env = "REEL_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// How long a connection may wait for its next request (or its first).
    #[arg(long, env = "REEL_IDLE_TIMEOUT", default_value = "60s", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// A request body that sends nothing for this long is dropped (a resumable
    /// upload then resumes from the bytes stored).
    #[arg(long, env = "REEL_BODY_STALL_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub body_stall_timeout: Duration,
    /// A response the client reads nothing of for this long is dropped, with the
    /// connection slot it held.
    #[arg(long, env = "REEL_SEND_STALL_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub send_stall_timeout: Duration,
    /// The largest request head (request line and headers) accepted, at least 8KiB;
    /// larger ones are answered 431.
    #[arg(long, env = "REEL_MAX_HEADER_BYTES", default_value = "64KiB", value_parser = header_bytes)]
    pub max_header_bytes: usize,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        crate::config::defaults()
    }
}

/// hyper's smallest read buffer; it refuses a smaller bound.
const MIN_HEADER_BYTES: usize = 8 * 1024;

fn header_bytes(text: &str) -> Result<usize, String> {
    let bytes = text.parse::<bytesize::ByteSize>().map(|b| b.as_u64())?;
    match usize::try_from(bytes) {
        Ok(n) if n >= MIN_HEADER_BYTES => Ok(n),
        _ => Err(format!("at least {MIN_HEADER_BYTES} bytes")),
    }
}

/// A bound socket and the limits its connections are served with. A bare
/// [`TcpListener`] converts into one with the default limits.
#[derive(Debug)]
pub struct Listener {
    tcp: TcpListener,
    config: ListenerConfig,
}

impl Listener {
    pub fn new(tcp: TcpListener, config: ListenerConfig) -> Self {
        Self { tcp, config }
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

impl From<TcpListener> for Listener {
    fn from(tcp: TcpListener) -> Self {
        Self::new(tcp, ListenerConfig::default())
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets the requests in
/// flight finish. Every request carries its peer's [`ConnectInfo<SocketAddr>`].
pub async fn serve(
    listener: impl Into<Listener>,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let Listener { tcp, config } = listener.into();
    let config = Arc::new(config);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = tcp.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        spawn_connection(stream, peer, app.clone(), &config, &graceful);
    }
    drop(tcp);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one connection with the limits of `config`, in a task of its own.
fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    config: &ListenerConfig,
    graceful: &GracefulShutdown,
) {
    // Small answers (304s, 416s, tus replies, JSON) must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    let activity = Activity::new();
    let patience = Patience {
        header: config.header_read_timeout,
        idle: config.idle_timeout,
        send: config.send_stall_timeout,
    };
    let io = TokioIo::new(TimedIo::new(stream, activity.clone(), patience));
    let body_stall = config.body_stall_timeout;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let in_flight = activity.begin();
        let mut request = request.map(|body| Body::new(TimeoutBody::new(body_stall, body)));
        request.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        async move {
            let response = app.oneshot(request).await?;
            Ok::<_, Infallible>(response.map(|body| {
                Body::new(Finishing {
                    body,
                    _in_flight: in_flight,
                })
            }))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        // The header timeout is the socket's: hyper's would also end idle connections.
        .header_read_timeout(None)
        .max_buf_size(config.max_header_bytes)
        .serve_connection(io, service);
    let watched = graceful.watch(connection);
    tokio::spawn(async move {
        // An error here is the client's: a reset, a timeout, a malformed request.
        if let Err(e) = watched.await {
            tracing::debug!(%peer, error = %e, "connection ended");
        }
    });
}

/// A response body that keeps its request in flight until it is finished or dropped.
struct Finishing {
    body: Body,
    _in_flight: InFlight,
}

impl http_body::Body for Finishing {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Waits after a failed accept, as `axum::serve` does: errors of one connection are
/// skipped, others (out of file descriptors) are logged and retried after a pause.
async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
