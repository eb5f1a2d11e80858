use axum::Router;
use reel_api::ApiState;
use reel_stream::StreamState;

/// Everything `reel serve` answers on its one origin: the pages at the root, the API
/// under `/api`, the stream server's `/videos` and `/upload`, the health checks, and the
/// 404 page for any other path; observed (request ids, access logs, metrics) as a whole.
pub fn router(api: ApiState, stream: StreamState) -> Router {
    let app = Router::new()
        .nest("/api", reel_api::router(api.clone()))
        .merge(reel_stream::router(stream))
        .merge(reel_api::health_router(api))
        .merge(reel_web::router(reel_web::WebState::pages_only()))
        .fallback(reel_web::not_found_page);
    reel_core::http::observe(app, "serve")
}
