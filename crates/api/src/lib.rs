#![forbid(unsafe_code)]
//! The API service: users, sessions, videos and comments over JSON (docs/architecture.md).
//!
//! `router` gives the routes at the first design's root paths; `reel api` serves them as they
//! are and `reel serve` nests them under `/api`.

/// What the API needs to run.
mod config;
/// The error type every handler returns, and its JSON form.
mod error;
/// Request extractors: JSON, path and query with JSON errors, and the session user.
mod extract;
/// Log-ins and registrations per client address, and the backoff per account.
mod limits;
/// Public listings kept briefly as ready-made JSON.
mod listing_cache;
/// The JSON shapes of reports, account administration and the audit log.
mod moderation_wire;
/// The OpenAPI document generated from the handlers.
mod openapi;
/// argon2id hashing on a bounded pool of its own.
mod password;
/// The watch page's reads (video records, first comment pages) kept briefly.
mod record_cache;
/// The handlers, one module per resource.
mod routes;
/// The state shared by every handler.
mod state;
/// The JSON shapes on the wire.
mod wire;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use reel_core::http::Listener;

pub use config::{Config, Registration};
pub use password::hash_now as hash_password;
pub use state::ApiState;

/// The API's routes at the first design's paths, with `/openapi.json`, JSON 404/405 answers
/// and the 64 KiB body limit.
pub fn router(state: ApiState) -> Router {
    let (router, api) = routes::router().split_for_parts();
    let api = openapi::finish(api);
    router
        .route("/openapi.json", get(move || async move { axum::Json(api) }))
        .fallback(error::not_found)
        .method_not_allowed_fallback(reel_core::error_body::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(config::MAX_BODY_BYTES))
        .with_state(state)
}

/// The OpenAPI document of [`router`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi::finish(routes::router().into_openapi())
}

/// `/healthz` (the process is up) and `/readyz` (the database answers).
pub fn health_router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(state)
}

async fn ready(State(state): State<ApiState>) -> axum::response::Response {
    reel_core::http::readiness(state.db()).await
}

/// Serves the API alone on `listener` (as `reel api` does) until `shutdown` resolves.
pub async fn serve(
    listener: impl Into<Listener>,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = reel_core::http::observe(router(state.clone()).merge(health_router(state)), "api");
    reel_core::http::serve(listener, app, shutdown).await
}
