use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use reel_core::clock;
use reel_core::signing::SigningKey;
use tokio_util::sync::CancellationToken;

use futures::future::BoxFuture;
use reel_core::ids::VideoId;
use reel_stream::{NotifyError, UploadNotifier};

use crate::cli::{
    ApiArgs, ApiOptions, Command, CommonArgs, DbArgs, SchedulerArgs, SchedulerOptions, ServeArgs,
    StreamArgs, StreamOptions, WebArgs,
};
use crate::observability;

/// Runs one command to its end.
pub async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Api(args) => api(args).await,
        Command::Stream(args) => stream(args).await,
        Command::Web(args) => web(args).await,
        Command::Scheduler(args) => scheduler(args).await,
        Command::Migrate(args) => migrate(args).await,
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

fn signing_key(common: &CommonArgs) -> anyhow::Result<SigningKey> {
    match &common.signing_key {
        Some(text) => SigningKey::from_base64(text).context("REEL_SIGNING_KEY"),
        None => SigningKey::load_or_generate(&common.db.data_dir).context("the signing key"),
    }
}

fn api_config(
    common: &CommonArgs,
    options: &ApiOptions,
    stream_public_url: String,
) -> anyhow::Result<reel_api::Config> {
    let mut config = reel_api::Config::new(common.db.database_url()?, signing_key(common)?);
    config.redis_url = options.redis_url.clone();
    config.session_ttl = options.session_ttl;
    config.secure_cookies = options.secure_cookies;
    config.login_attempts_per_minute = options.login_attempts_per_minute;
    config.trust_forwarded_for = options.trust_forwarded_for;
    config.allowed_origins = options.allowed_origins.clone();
    config.upload_token_ttl = options.upload_token_ttl;
    config.listing_cache_ttl = options.listing_cache_ttl;
    config.stream_public_url = stream_public_url;
    Ok(config)
}

async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))
}

async fn start_metrics(common: &CommonArgs, shutdown: &CancellationToken) -> anyhow::Result<()> {
    if let Some(addr) = common.metrics_listen {
        observability::serve_metrics(addr, shutdown.clone()).await?;
    }
    Ok(())
}

/// The stream server tells the scheduler of finished uploads by a direct call when both
/// run in one process.
struct InProcessIntake(reel_scheduler::Scheduler);

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

fn stream_config(
    common: &CommonArgs,
    options: &StreamOptions,
    scheduler_url: Option<String>,
) -> anyhow::Result<reel_stream::Config> {
    let mut config = reel_stream::Config::new(&common.db.data_dir, signing_key(common)?);
    config.storage = common.storage();
    config.max_upload_bytes = options.max_upload_bytes.as_u64();
    config.max_connections = options.max_connections;
    config.scheduler_url = scheduler_url;
    Ok(config)
}

/// `reel serve`: every service in one process on one origin: the pages at the root, the
/// API under `/api`, the stream server's `/videos` and `/upload`, and the scheduler's
/// runner in the background.
async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.common, &shutdown).await?;
    let api_config = api_config(&args.common, &args.api, String::new())?;
    let db = reel_core::db::Db::connect(&reel_core::db::DbOptions::new(&api_config.database_url))
        .await
        .context("opening the database")?;
    let scheduler_config = scheduler_config(&args.common, &args.tasks)?;
    let storage = reel_core::storage::Storage::open(&scheduler_config.storage)
        .await
        .context("opening the video storage")?;
    let scheduler =
        reel_scheduler::Scheduler::with_parts(scheduler_config, db.clone(), storage).await;
    let running = scheduler.spawn(shutdown.clone().cancelled_owned());
    let api = reel_api::ApiState::with_db(api_config, db, clock::system()).await?;
    let upkeep = api.spawn_upkeep(shutdown.clone().cancelled_owned());
    let stream = reel_stream::build_state(
        &stream_config(&args.common, &args.stream, None)?,
        Some(Arc::new(InProcessIntake(scheduler))),
    )
    .await?;
    let app = crate::site::router(api, stream);
    let listener = bind(args.listen).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        data_dir = %args.common.db.data_dir.display(),
        "reel is serving"
    );
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .await?;
    shutdown.cancel();
    upkeep.await?;
    running.await?;
    Ok(())
}

/// `reel stream`: playback and uploads alone; finished uploads are announced to the
/// scheduler's intake.
async fn stream(args: StreamArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.common, &shutdown).await?;
    let config = stream_config(&args.common, &args.stream, args.scheduler_url.clone())?;
    let state = reel_stream::build_state(&config, None).await?;
    let listener = bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "stream is serving");
    reel_stream::serve(listener, state, shutdown.cancelled_owned()).await?;
    Ok(())
}

/// `reel api`: the API alone at the root paths.
async fn api(args: ApiArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.common, &shutdown).await?;
    let config = api_config(&args.common, &args.api, args.stream_public_url.clone())?;
    let state = reel_api::ApiState::build(config, clock::system()).await?;
    let upkeep = state.spawn_upkeep(shutdown.clone().cancelled_owned());
    let listener = bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "api is serving");
    reel_api::serve(listener, state, shutdown.clone().cancelled_owned()).await?;
    shutdown.cancel();
    upkeep.await?;
    Ok(())
}

/// `reel web`: the pages, and a proxy to the API and the stream server.
async fn web(args: WebArgs) -> anyhow::Result<()> {
    let config = reel_web::Config::new(&args.api_url, &args.stream_url)
        .context("--api-url / --stream-url")?;
    let shutdown = shutdown_on_signal();
    if let Some(addr) = args.metrics_listen {
        observability::serve_metrics(addr, shutdown.clone()).await?;
    }
    let listener = bind(args.listen).await?;
    tracing::info!(
        addr = %listener.local_addr()?,
        api = %config.api,
        stream = %config.stream,
        "web is serving"
    );
    reel_web::serve(listener, config, shutdown.cancelled_owned()).await?;
    Ok(())
}

fn scheduler_config(
    common: &CommonArgs,
    options: &SchedulerOptions,
) -> anyhow::Result<reel_scheduler::Config> {
    let mut config = reel_scheduler::Config::new(
        common.db.database_url()?,
        &common.db.data_dir,
        signing_key(common)?,
    );
    config.storage = common.storage();
    config.concurrency = options.task_concurrency;
    if let Some(jobs) = options.ffmpeg_jobs {
        config.ffmpeg_jobs = jobs;
    }
    config.max_attempts = options.task_max_attempts;
    config.retry_backoff = options.task_backoff;
    config.retry_backoff_max = options.task_backoff_max;
    config.lease = options.task_lease;
    config.batch_size = options.task_batch_size;
    config.tick = options.task_tick;
    config.reconcile_every = options.reconcile_every;
    config.ffmpeg = options.ffmpeg.clone();
    config.ffprobe = options.ffprobe.clone();
    if let Some(dir) = &options.work_dir {
        config.work_dir = dir.clone();
    }
    Ok(config)
}

/// `reel scheduler`: the task intake and the runner.
async fn scheduler(args: SchedulerArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    start_metrics(&args.common, &shutdown).await?;
    let config = scheduler_config(&args.common, &args.tasks)?;
    let scheduler = reel_scheduler::Scheduler::build(config).await?;
    let listener = bind(args.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "scheduler is serving");
    reel_scheduler::serve(listener, scheduler, shutdown.clone().cancelled_owned()).await?;
    shutdown.cancel();
    Ok(())
}

/// `reel migrate`.
async fn migrate(args: DbArgs) -> anyhow::Result<()> {
    let url = args.database_url()?;
    let db = reel_core::db::Db::connect(&reel_core::db::DbOptions::new(url))
        .await
        .context("migrating the database")?;
    db.close().await;
    println!("database schema is up to date");
    Ok(())
}
