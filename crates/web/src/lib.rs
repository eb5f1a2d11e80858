#![forbid(unsafe_code)]
//! reel's web front end (docs/architecture.md): pages rendered from templates compiled
//! into the binary, and plain JavaScript modules (embedded too) that call the API from
//! the browser. The service touches nothing but HTTP: it holds no database and no
//! sessions.
//!
//! Routes of [`router`]: `/`, `/login`, `/register`, `/u/{name}`, `/watch/{name}/{vid}`
//! and `/static/{version}/{*path}`; [`not_found_page`] is the fallback for whatever
//! router they are merged into. In split mode ([`serve`], `reel web`), the router also
//! forwards `/api/*` to the API and `/videos/*`, `/upload/*` to the stream server, so
//! the browser sees one origin either way.

/// The embedded static files: versioned URLs, content types, caching and gzip.
mod assets;
/// The web service's settings and its upstreams.
mod config;
/// Where the log-in and registration pages may send the visitor afterwards.
mod next;
/// The page handlers and their templates.
mod pages;
/// Split mode: streaming forwarding to the API and the stream server.
mod proxy;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use reel_core::http::Listener;

pub use config::{Config, ConfigError, Upstream};
pub use pages::not_found_page;

/// What the page handlers share; cheap to clone.
#[derive(Clone)]
pub struct WebState {
    /// The embedded static files and their compressed forms.
    assets: &'static assets::Assets,
    /// Forwarding to the API and the stream server; `None` where the same process
    /// serves them (`reel serve`).
    proxy: Option<Arc<proxy::Proxy>>,
}

impl WebState {
    /// `reel web`: the pages, and the proxy to the API and the stream server that
    /// `config` names.
    pub fn build(config: Config) -> Self {
        Self {
            proxy: Some(Arc::new(proxy::Proxy::new(&config))),
            ..Self::pages_only()
        }
    }

    /// The pages alone, for a process that serves `/api`, `/videos` and `/upload`
    /// itself. The first call indexes the embedded static files (hashing them for
    /// their versioned URLs).
    pub fn pages_only() -> Self {
        Self {
            assets: &pages::ASSETS,
            proxy: None,
        }
    }

    /// The URL prefix of the static files of this build, such as `/static/3fa9c0d1e2b4`.
    pub fn asset_base(&self) -> &str {
        self.assets.base()
    }
}

/// The page and static-file routes, and the forwarding routes when the state has a
/// proxy, to be merged at the root of a site. It has no fallback, since a merged
/// router may have only one: set [`not_found_page`] on the merged router.
pub fn router(state: WebState) -> Router {
    let proxy = state.proxy.clone();
    let pages = pages::routes().with_state(state);
    match proxy {
        Some(proxy) => pages.merge(proxy::router(proxy)),
        None => pages,
    }
}

/// Serves `reel web` on `listener` until `shutdown` resolves: the pages, the proxy,
/// `/healthz`, and the 404 page.
pub async fn serve(
    listener: impl Into<Listener>,
    state: WebState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state)
        .route("/healthz", get(|| async { "ok" }))
        .fallback(not_found_page);
    let app = reel_core::http::observe(app, "web");
    reel_core::http::serve(listener, app, shutdown).await
}
