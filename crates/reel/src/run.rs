use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use reel_api::ApiState;
use reel_core::http::{Listener, ListenerConfig};
use reel_core::ids::VideoId;
use reel_core::site::Site;
use reel_scheduler::SchedulerState;
use reel_stream::{HttpIntake, LogOnly, NotifyError, StreamState, UploadNotifier};
use reel_web::WebState;
use tokio_util::sync::CancellationToken;

use crate::cli::{
    ApiArgs, MetricsArgs, MigrateArgs, SchedulerArgs, ServeArgs, Service, StreamArgs, WebArgs,
};
use crate::observability;

/// Runs one command to its end.
pub async fn run(service: Service) -> anyhow::Result<()> {
    match service {
        Service::Serve(args) => serve(args).await,
        Service::Api(args) => api(args).await,
        Service::Stream(args) => stream(args).await,
        Service::Web(args) => web(args).await,
        Service::Scheduler(args) => scheduler(args).await,
        Service::Migrate(args) => migrate(args).await,
        Service::Doctor(args) => crate::doctor::run(args).await,
        Service::Backup(args) => crate::backup::backup(args).await,
        Service::Restore(args) => crate::backup::restore(args).await,
    }
}

/// A token cancelled on Ctrl-C or SIGTERM, so every server stops gracefully.
fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
        tracing::info!("shutting down");
        cancel.cancel();
    });
    token
}

/// Binds `addr` for connections served with `connections`' limits, once the open-files
/// limit is raised for them: `needed` is what the service's connection limits take.
async fn bind(
    addr: SocketAddr,
    connections: ListenerConfig,
    needed: u64,
) -> anyhow::Result<Listener> {
    reel_core::open_files::raise_to_hard_limit(needed);
    let tcp = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    Ok(Listener::new(tcp, connections))
}

/// Descriptors a process needs besides its connections: database pool, storage,
/// logs, ffmpeg's pipes.
const BASE_OPEN_FILES: u64 = 256;

/// What the stream server's connection cap needs: a socket and a file per playback.
fn stream_open_files(config: &reel_stream::Config) -> u64 {
    BASE_OPEN_FILES + 2 * config.max_connections as u64
}

async fn start_metrics(metrics: &MetricsArgs, shutdown: &CancellationToken) -> anyhow::Result<()> {
    if let Some(addr) = metrics.metrics_listen {
        observability::serve_metrics(addr, shutdown.clone()).await?;
    }
    Ok(())
}

/// The stream server tells the scheduler of finished uploads by a direct call when both
/// run in one process.
struct InProcessIntake(SchedulerState);

impl UploadNotifier for InProcessIntake {
    fn deliver(&self, video: VideoId) -> BoxFuture<'_, Result<(), NotifyError>> {
        Box::pin(async move {
            self.0
                .enqueue_process(video)
                .await
                .map(|_| ())
                .map_err(|e| NotifyError(e.to_string()))
        })
    }
}

/// `reel serve`: every service in one process on one origin: the pages at the root, the
/// API under `/api`, the stream server's `/videos` and `/upload`, and the scheduler's
/// runner in the background.
async fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.metrics, &shutdown).await?;
    let token_ttl = args.api.upload_token_ttl;
    at_least_token_ttl(
        &mut args.scheduler.keep_tombstones_for,
        token_ttl,
        "--keep-tombstones-for",
    );
    at_least_token_ttl(
        &mut args.stream.tus_expire_after,
        token_ttl,
        "--tus-expire-after",
    );
    let grace = args.scheduler.shutdown_grace;
    let site = Site::new(args.site);
    let scheduler = SchedulerState::build(args.scheduler, &site).await?;
    let running = scheduler.spawn(shutdown.clone().cancelled_owned());
    let api = ApiState::build(args.api, &site).await?;
    let upkeep = api.spawn_upkeep(shutdown.clone().cancelled_owned());
    let intake = Arc::new(InProcessIntake(scheduler));
    let open_files = stream_open_files(&args.stream);
    let stream = StreamState::build(args.stream, &site, intake).await?;
    let stream_upkeep = stream.spawn_upkeep(shutdown.clone().cancelled_owned());
    let app = crate::site::router(api, stream);
    let listener = bind(args.listen, args.connections, open_files).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        data_dir = %site.config().db.data_dir.display(),
        "reel is serving"
    );
    let served = reel_core::http::serve(listener, app, shutdown.clone().cancelled_owned());
    // Requests in flight get the grace to finish; past it, a stalled upload or a slow
    // viewer no longer keeps the process up: they are cut (an upload so cut is either
    // resumable or was never visible).
    let past_grace = async {
        shutdown.cancelled().await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        served = served => served?,
        () = past_grace => tracing::warn!("requests still running past the shutdown grace were cut"),
    }
    shutdown.cancel();
    upkeep.await?;
    stream_upkeep.await?;
    running.await?;
    Ok(())
}

/// `reel stream`: playback and uploads alone; finished uploads are announced to the
/// scheduler's intake.
async fn stream(args: StreamArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.metrics, &shutdown).await?;
    let site = Site::new(args.site);
    let notifier: Arc<dyn UploadNotifier> = match &args.scheduler_url {
        Some(url) => Arc::new(HttpIntake::new(
            url,
            site.signing_key().await?,
            site.clock(),
        )),
        None => Arc::new(LogOnly),
    };
    let open_files = stream_open_files(&args.stream);
    let state = StreamState::build(args.stream, &site, notifier).await?;
    let listener = bind(args.listen, args.connections, open_files).await?;
    tracing::info!(addr = %listener.local_addr()?, "stream is serving");
    reel_stream::serve(listener, state, shutdown.cancelled_owned()).await?;
    Ok(())
}

/// `reel api`: the API alone at the root paths.
async fn api(args: ApiArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.metrics, &shutdown).await?;
    let state = ApiState::build(args.api, &Site::new(args.site)).await?;
    let upkeep = state.spawn_upkeep(shutdown.clone().cancelled_owned());
    let listener = bind(args.listen, args.connections, BASE_OPEN_FILES).await?;
    tracing::info!(addr = %listener.local_addr()?, "api is serving");
    reel_api::serve(listener, state, shutdown.clone().cancelled_owned()).await?;
    shutdown.cancel();
    upkeep.await?;
    Ok(())
}

/// `reel web`: the pages, and a proxy to the API and the stream server.
async fn web(args: WebArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.metrics, &shutdown).await?;
    let (api, stream) = (args.web.api.clone(), args.web.stream.clone());
    let state = WebState::build(args.web);
    let listener = bind(args.listen, args.connections, BASE_OPEN_FILES).await?;
    tracing::info!(addr = %listener.local_addr()?, %api, %stream, "web is serving");
    reel_web::serve(listener, state, shutdown.cancelled_owned()).await?;
    Ok(())
}

/// Raises `kept` to the upload token TTL when shorter: what outlives a token must not
/// go before it (a tombstone, a resumable upload).
fn at_least_token_ttl(kept: &mut Duration, token_ttl: Duration, what: &str) {
    if *kept < token_ttl {
        tracing::warn!(
            option = what,
            raised_to = %humantime::format_duration(token_ttl),
            "shorter than the upload token TTL; raised to it"
        );
        *kept = token_ttl;
    }
}

/// `reel scheduler`: the task intake and the runner.
async fn scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.metrics, &shutdown).await?;
    let state = SchedulerState::build(args.scheduler, &Site::new(args.site)).await?;
    let listener = bind(args.listen, args.connections, BASE_OPEN_FILES).await?;
    tracing::info!(addr = %listener.local_addr()?, "scheduler is serving");
    reel_scheduler::serve(listener, state, shutdown.clone().cancelled_owned()).await?;
    shutdown.cancel();
    Ok(())
}

/// `reel migrate`.
async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let url = args.db.database_url()?;
    let db = reel_core::db::Db::connect(&reel_core::db::DbOptions::new(url))
        .await
        .context("migrating the database")?;
    db.close().await;
    println!("database schema is up to date");
    Ok(())
}
