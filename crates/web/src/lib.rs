#![forbid(unsafe_code)]
//! reel's web front end (DESIGN.md §7): pages rendered from templates compiled into the
//! binary, and plain JavaScript modules (embedded too) that call the API from the
//! browser. The service touches nothing but HTTP: it holds no database and no sessions.
//!
//! Routes of [`router`]: `/`, `/login`, `/register`, `/u/{name}`, `/watch/{name}/{vid}`
//! and `/static/{version}/{*path}`; [`not_found_page`] is the fallback for whatever
//! router they are merged into. In split mode ([`serve`], `reel web`), [`proxy_router`]
//! forwards `/api/*` to the API and `/videos/*`, `/upload/*` to the stream server, so
//! the browser sees one origin either way.

/// The embedded static files: versioned URLs, content types, caching and gzip.
mod assets;
/// The web service's settings and its upstreams.
mod config;
/// The page handlers and their templates.
mod pages;
/// Split mode: streaming forwarding to the API and the stream server.
mod proxy;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;

pub use config::{Config, ConfigError, Upstream};
pub use pages::not_found_page;
pub use proxy::proxy_router;

/// What the page handlers share; cheap to clone.
#[derive(Clone)]
pub struct WebState {
    /// The embedded static files and their compressed forms.
    assets: &'static assets::Assets,
}

impl WebState {
    /// The state of the pages; the first call indexes the embedded static files
    /// (hashing them for their versioned URLs).
    pub fn new() -> Self {
        Self {
            assets: &pages::ASSETS,
        }
    }

    /// The URL prefix of the static files of this build, such as `/static/3fa9c0d1e2b4`.
    pub fn asset_base(&self) -> &str {
        self.assets.base()
    }
}

impl Default for WebState {
    fn default() -> Self {
        Self::new()
    }
}

/// The page and static-file routes, to be merged at the root of a site whose `/api`,
/// `/videos` and `/upload` are served by other routers. It has no fallback, since a
/// merged router may have only one: set [`not_found_page`] on the merged router.
pub fn router(state: WebState) -> Router {
    pages::routes().with_state(state)
}

/// Serves `reel web` on `listener` until `shutdown` resolves: the pages, the proxy to
/// the configured API and stream server, `/healthz`, and the 404 page.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(WebState::new())
        .merge(proxy_router(&config))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found_page);
    let app = reel_core::http::observe(app, "web");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
