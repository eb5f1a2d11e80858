#![forbid(unsafe_code)]
//! reel's stream server: plays videos with seeking, takes streaming and resumable (tus)
//! uploads, and caps concurrent connections. It holds no database and no sessions:
//! uploads are authorised by the token the API signed, and the bytes live in storage.
//!
//! Routes ([`router`]):
//! - `GET|HEAD /videos/{vid}`, `/videos/{vid}/poster.jpg`, `/videos/{vid}/hls/{*path}`
//! - `POST /upload/{vid}` (multipart, field `file`), `PUT /upload/{vid}` (raw body)
//! - tus 1.0.0: `OPTIONS|POST /upload/{vid}/tus`, `OPTIONS|HEAD|PATCH|DELETE /upload/{vid}/tus/{id}`

/// The upload token extractor.
pub mod auth;
/// The stream server's settings.
pub mod config;
/// Errors and their HTTP answers.
pub mod error;
/// The multipart form of plain uploads, bounded in every part.
pub mod form;
/// The size limit and container sniffing every upload streams through.
pub mod gate;
/// The connection limiter.
pub mod limiter;
/// The scheduler notice: notifier interface, HTTP intake, durable outbox.
pub mod notifier;
/// Playback handlers.
pub mod playback;
/// Private videos: playback grants and the playlists that carry them.
pub mod private;
/// `Range` header parsing.
pub mod range;
/// tus 1.0 resumable uploads.
pub mod tus;
/// Plain uploads.
pub mod upload;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::routing::{get, head, post};
use reel_core::clock::{self, SharedClock};
use reel_core::http::Listener;
use reel_core::ids::VideoId;
use reel_core::signing::SigningKey;
use reel_core::site::Site;
use reel_core::storage::Storage;
use reel_core::storage::video_state::{VideoState, VideoStates};
use tower_http::set_header::SetResponseHeaderLayer;

pub use config::Config;
use error::StreamError;
pub use notifier::{HttpIntake, LogOnly, NotifyError, UploadNotifier};

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct StreamState {
    inner: Arc<Inner>,
}

/// The shared parts of [`StreamState`].
struct Inner {
    /// Where videos live.
    storage: Storage,
    limiter: limiter::Limiter,
    /// Verifies upload tokens.
    signing_key: SigningKey,
    /// Time for token expiry.
    clock: SharedClock,
    /// The upload size limit.
    max_upload_bytes: u64,
    /// Delivers "process this upload" to the scheduler.
    outbox: notifier::Outbox,
    /// Serialises requests to one resumable upload.
    tus_locks: tus::UploadLocks,
    /// The videos' state markers, read through a short-lived cache.
    video_states: VideoStates,
    /// Resumable uploads untouched for longer are removed.
    tus_expire_after: Duration,
    /// How often they are looked for.
    tus_sweep_every: Duration,
}

impl StreamState {
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The connection limiter.
    pub fn limiter(&self) -> &limiter::Limiter {
        &self.inner.limiter
    }

    /// The upload size limit in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.inner.max_upload_bytes
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.inner.signing_key
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub(crate) fn outbox(&self) -> &notifier::Outbox {
        &self.inner.outbox
    }

    pub(crate) fn tus_locks(&self) -> &tus::UploadLocks {
        &self.inner.tus_locks
    }

    pub(crate) fn tus_expire_after(&self) -> Duration {
        self.inner.tus_expire_after
    }

    /// [`StreamError::Deleted`] when `video` is deleted, as its marker said at most the
    /// cache TTL ago.
    pub(crate) async fn refuse_deleted(&self, video: VideoId) -> Result<(), StreamError> {
        self.live_state(video).await.map(drop)
    }

    /// The marker of `video` as read at most the cache TTL ago (`None`: a live public
    /// video); [`StreamError::Deleted`] when it is a tombstone.
    pub(crate) async fn live_state(
        &self,
        video: VideoId,
    ) -> Result<Option<Arc<VideoState>>, StreamError> {
        let state = self.inner.video_states.get(video).await?;
        deleted_is_gone(state.clone())?;
        Ok(state)
    }

    /// [`StreamError::Deleted`] when `video` is deleted, as its marker says now: the
    /// last check before an upload becomes the video's original.
    pub(crate) async fn refuse_deleted_now(&self, video: VideoId) -> Result<(), StreamError> {
        deleted_is_gone(self.inner.video_states.get_fresh(video).await?)
    }

    /// Removes the resumable uploads left untouched for longer than `tus_expire_after`,
    /// every `tus_sweep_every`, until `shutdown` resolves. Every stream node may run it:
    /// removing what another node removed already is harmless.
    pub fn spawn_upkeep(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            let every = state.inner.tus_sweep_every;
            clock::every(every, shutdown, || async {
                match tus::sweep::expired(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "expired resumable uploads removed"),
                    Err(e) => tracing::warn!(error = %e, "sweeping resumable uploads failed"),
                }
            })
            .await;
        })
    }
}

fn deleted_is_gone(state: Option<Arc<VideoState>>) -> Result<(), StreamError> {
    match state {
        Some(state) if state.is_deleted() => Err(StreamError::Deleted),
        _ => Ok(()),
    }
}

impl StreamState {
    /// Opens the site's storage and builds the state. `notifier` tells the scheduler
    /// about finished uploads; notices a previous run left undelivered are sent again.
    pub async fn build(
        config: Config,
        site: &Site,
        notifier: Arc<dyn UploadNotifier>,
    ) -> anyhow::Result<Self> {
        let storage = site.storage().await?;
        let outbox = notifier::Outbox::new(
            storage.clone(),
            notifier,
            config.notify_backoff,
            config.notify_backoff_max,
        );
        let resumed = outbox.resume_pending().await?;
        tracing::info!(storage = %storage.describe(), resumed, "stream server ready");
        Ok(Self {
            inner: Arc::new(Inner {
                storage: storage.clone(),
                limiter: limiter::Limiter::new(
                    config.max_connections,
                    config.max_connections_per_client,
                    config.retry_after_secs,
                ),
                signing_key: site.signing_key().await?,
                clock: site.clock(),
                max_upload_bytes: config.max_upload_bytes,
                outbox,
                tus_locks: tus::UploadLocks::default(),
                video_states: VideoStates::new(storage, config.video_state_ttl),
                tus_expire_after: config.tus_expire_after,
                tus_sweep_every: config.tus_sweep_every,
            }),
        })
    }
}

/// The stream server's routes, ready to serve alone or to be merged into `reel serve`.
pub fn router(state: StreamState) -> Router {
    let tus_routes = Router::new()
        .route("/upload/{vid}/tus", post(tus::create).options(tus::options))
        .route(
            "/upload/{vid}/tus/{upload}",
            head(tus::status)
                .patch(tus::append)
                .delete(tus::terminate)
                .options(tus::options),
        )
        .layer(SetResponseHeaderLayer::overriding(
            axum::http::HeaderName::from_static("tus-resumable"),
            HeaderValue::from_static(tus::TUS_VERSION),
        ));
    Router::new()
        .route("/videos/{vid}", get(playback::video))
        .route("/videos/{vid}/poster.jpg", get(playback::poster))
        .route("/videos/{vid}/hls/{*path}", get(playback::hls))
        .route("/upload/{vid}", post(upload::multipart).put(upload::raw))
        .merge(tus_routes)
        .route_layer(axum::middleware::from_fn_with_state(
            state.limiter().clone(),
            limiter::limit,
        ))
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Serves the stream routes on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish.
pub async fn serve(
    listener: impl Into<Listener>,
    state: StreamState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_upkeep, upkeep_stopped) = tokio::sync::oneshot::channel::<()>();
    let upkeep = state.spawn_upkeep(async {
        let _ = upkeep_stopped.await;
    });
    let app = router(state).route("/healthz", get(|| async { "ok" }));
    let served =
        reel_core::http::serve(listener, reel_core::http::observe(app, "stream"), shutdown).await;
    drop(stop_upkeep);
    let _ = upkeep.await;
    served
}
