mod serve;
mod timed_io;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

pub use serve::{Listener, ListenerConfig, serve};

/// The header that carries each request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Wraps a service's router with what every reel service does for every request: a
/// request id (kept from the client or made up, and echoed back), an access log line
/// (method, path, status, latency, request id; never the query string or headers, which
/// can carry tokens and session ids) and Prometheus metrics labelled by route.
pub fn observe(router: Router, service: &'static str) -> Router {
    router
        .layer(middleware::from_fn_with_state(service, record_metrics))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let request_id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %request_id,
                    )
                })
                .on_request(())
                .on_response(|res: &Response, latency: Duration, _span: &Span| {
                    tracing::info!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_secs_f64() * 1000.0,
                        "response"
                    );
                })
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn record_metrics(State(service): State<&'static str>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    // The route template, not the path, keeps the number of label values bounded.
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let res = next.run(req).await;
    let labels = [
        ("service", service.to_owned()),
        ("method", method),
        ("route", route),
        ("status", res.status().as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    res
}

/// The answer of `/readyz` for a service that needs its database: 200 `ready` while it
/// answers, 503 with a JSON error otherwise.
pub async fn readiness(db: &crate::db::Db) -> Response {
    use axum::response::IntoResponse;
    match db.ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the database does not answer");
            crate::error_body::ErrorBody::new("not_ready", "the database does not answer")
                .into_response_with(axum::http::StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// The address a request comes from: its connection's peer. The one place that decides
/// it, for every limit kept per client.
pub fn client_ip(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical())
}
