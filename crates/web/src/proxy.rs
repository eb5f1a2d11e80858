//! Split mode (`reel web`): the browser talks to one origin, and this forwards
//! `/api/*` to the API (without the `/api` prefix) and `/videos/*`, `/upload/*` to the
//! stream server (paths unchanged).
//!
//! Bodies stream both ways through hyper: an upload goes on to the stream server as it
//! arrives, a video plays back as the stream server sends it, and neither is ever held
//! whole in memory. Where to connect comes from [`Config`] only: the request's URI
//! authority, `Host` header, path and body are never used to pick a host (the first
//! design's proxy took the URL from the request body, which let anyone reach any host;
//! see "Compatibility with the first design" in docs/architecture.md).
//!
//! The client's `Host` header is kept, because the API's CSRF check compares it with
//! the `Origin` of cookie-authenticated writes; `X-Forwarded-For` (the peer appended
//! last, which the API believes from the proxies of its `--trusted-proxies`: loopback
//! by default), `X-Forwarded-Proto` and `X-Forwarded-Host` are added. Hop-by-hop headers are dropped both ways.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version, header};
use axum::response::Response;
use axum::routing::any;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reel_core::error_body::ErrorBody;

use crate::config::{Config, Upstream};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus
/// `Expect`, which this hop has already answered.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// The proxy's shared parts.
pub(crate) struct Proxy {
    /// The HTTP/1.1 client, with its connection pool.
    client: Client<HttpConnector, Body>,
    /// Where `/api/*` goes.
    api: Upstream,
    /// Where `/videos/*` and `/upload/*` go.
    stream: Upstream,
}

/// Which upstream a route forwards to.
#[derive(Clone, Copy)]
enum Target {
    /// The API, with the `/api` prefix removed.
    Api,
    /// The stream server, path unchanged.
    Stream,
}

impl Proxy {
    pub(crate) fn new(config: &Config) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            api: config.api.clone(),
            stream: config.stream.clone(),
        }
    }
}

/// The forwarding routes: `/api/{*path}`, `/videos/{*path}`, `/upload/{*path}`.
pub(crate) fn router(proxy: Arc<Proxy>) -> Router {
    let to = |target: Target| {
        any(
            move |State(proxy): State<Arc<Proxy>>, req: Request| async move {
                forward(&proxy, target, req).await
            },
        )
    };
    Router::new()
        .route("/api/{*path}", to(Target::Api))
        .route("/videos/{*path}", to(Target::Stream))
        .route("/upload/{*path}", to(Target::Stream))
        .with_state(proxy)
}

async fn forward(proxy: &Proxy, target: Target, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let (upstream, name, path_and_query) = match target {
        // The route guarantees the `/api/` prefix; the `/` after it stays.
        Target::Api => (&proxy.api, "api", &path_and_query["/api".len()..]),
        Target::Stream => (&proxy.stream, "stream server", path_and_query),
    };
    let uri = match upstream.uri_for(path_and_query) {
        Ok(uri) => uri,
        Err(_) => {
            return ErrorBody::new("bad_request", "malformed request path")
                .into_response_with(StatusCode::BAD_REQUEST);
        }
    };
    // HTTP/2 puts the host in the URI, not in a header: the upstream needs the header.
    if !parts.headers.contains_key(header::HOST)
        && let Some(value) = parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        parts.headers.insert(header::HOST, value);
    }
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.remove(header::EXPECT);
    add_forwarded(&mut parts.headers, peer);
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    match proxy.client.request(Request::from_parts(parts, body)).await {
        Ok(response) => {
            let mut response = response.map(Body::new);
            strip_hop_by_hop(response.headers_mut());
            response
        }
        Err(e) => {
            // The upstream's base URL only: paths and queries can carry upload tokens.
            tracing::warn!(upstream = %upstream, error = %e, "upstream unreachable");
            ErrorBody::new(
                "bad_gateway",
                format!("the {name} is not answering; try again in a moment"),
            )
            .into_response_with(StatusCode::BAD_GATEWAY)
        }
    }
}

/// Removes the hop-by-hop headers, including those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
}

/// Appends the peer to `X-Forwarded-For` and fills in `X-Forwarded-Proto` and
/// `X-Forwarded-Host` unless a proxy in front already did.
fn add_forwarded(headers: &mut HeaderMap, peer: Option<std::net::IpAddr>) {
    const FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
    const FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
    const FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
    if let Some(ip) = peer {
        let chain = match headers.get(&FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
            Some(earlier) if !earlier.trim().is_empty() => format!("{earlier}, {ip}"),
            _ => ip.to_string(),
        };
        if let Ok(value) = HeaderValue::from_str(&chain) {
            headers.insert(FORWARDED_FOR, value);
        }
    }
    if !headers.contains_key(&FORWARDED_PROTO) {
        headers.insert(FORWARDED_PROTO, HeaderValue::from_static("http"));
    }
    if !headers.contains_key(&FORWARDED_HOST)
        && let Some(host) = headers.get(header::HOST).cloned()
    {
        headers.insert(FORWARDED_HOST, host);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_are_dropped_with_those_connection_names() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert(header::RANGE, HeaderValue::from_static("bytes=0-1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key(header::RANGE));
    }

    #[test]
    fn forwarded_headers_extend_what_a_front_proxy_set() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("site.example"));
        h.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        add_forwarded(&mut h, Some("10.0.0.2".parse().unwrap()));
        assert_eq!(h["x-forwarded-for"], "203.0.113.9, 10.0.0.2");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "site.example");
    }
}
