#![forbid(unsafe_code)]
//! reel's scheduler (docs/architecture.md): the third service. An HTTP intake accepts
//! tasks that cannot finish within a request and stores them before answering; a timer
//! wakes a dispatcher that claims due tasks as leases and hands them through a bounded
//! channel to executors. Tasks: delete a deleted video's files, and make every upload
//! playable in every browser with ffmpeg (MP4, HLS ladder, poster). A periodic sweep
//! removes stored files of videos that do not exist, and tombstones past their time.
//!
//! Several schedulers can share one PostgreSQL or MariaDB: a task is leased to one at a
//! time, and taken over when its scheduler dies and the lease expires.

/// The scheduler's settings.
pub mod config;
/// Errors and their HTTP answers.
pub mod error;
/// ffmpeg and ffprobe: probing, planning, running.
pub mod ffmpeg;
/// The HTTP intake.
pub mod intake;
/// The task queue the runner draws from.
pub mod queue;
/// The periodic pass that queues uploads nobody queued.
pub mod reconcile;
/// Timer, dispatcher, bounded channel and executors.
pub mod runner;
/// The periodic pass that removes files of videos that do not exist, and old tombstones.
pub mod sweep;
/// The work behind each kind of task.
pub mod tasks;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use reel_core::clock::{self, SharedClock};
use reel_core::db::{Db, DbError, TaskKind, TaskRecord};
use reel_core::http::Listener;
use reel_core::ids::VideoId;
use reel_core::signing::SigningKey;
use reel_core::site::Site;
use reel_core::storage::{Storage, keys};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::SchedulerError;
pub use reconcile::Reconciled;
pub use sweep::Swept;

use crate::queue::DbQueue;
use crate::runner::{RetryPolicy, Runner, RunnerSettings};
use crate::tasks::Tasks;

/// The scheduler: cheap to clone, shared by the intake's handlers and the runner.
#[derive(Clone)]
pub struct SchedulerState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    /// Tasks and videos.
    db: Db,
    storage: Storage,
    /// Verifies the signatures of the other services' calls to the intake.
    signing_key: SigningKey,
    /// The time of schedules and leases.
    clock: SharedClock,
    /// This scheduler's name in its leases.
    instance: String,
    /// What runs the tasks.
    tasks: Arc<Tasks>,
    /// Wakes the dispatcher when a task is queued in this process.
    wake: Arc<Notify>,
}

impl SchedulerState {
    /// Opens the site's database (running migrations) and storage, and looks for
    /// ffmpeg. Without ffmpeg it still works, with a warning, and serves uploads as
    /// they came.
    pub async fn build(config: Config, site: &Site) -> anyhow::Result<Self> {
        let db = site.db().await?;
        let storage = site.storage().await?;
        let instance = config.instance();
        tracing::info!(storage = %storage.describe(), %instance, "scheduler ready");
        let clock = site.clock();
        let tasks = Tasks::new(
            db.clone(),
            storage.clone(),
            config.ffmpeg_settings(),
            config.work_dir(),
            clock.clone(),
        );
        // Running ffmpeg and ffprobe once takes a while: it is done beside the start,
        // not before it; a task that needs them first waits for the answer.
        let detecting = tasks.clone();
        tokio::spawn(async move {
            let found = detecting.ffmpeg().await.is_some();
            tracing::info!(ffmpeg = found, "looked for ffmpeg");
        });
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                db,
                storage,
                signing_key: site.signing_key().await?,
                clock,
                instance,
                tasks: Arc::new(tasks),
                wake: Arc::new(Notify::new()),
            }),
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether uploads are processed (ffmpeg works) or served as they came.
    pub async fn processes_uploads(&self) -> bool {
        self.inner.tasks.ffmpeg().await.is_some()
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.inner.signing_key
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// Queues the processing of `video`'s upload (stored before this returns), after
    /// recording the size of the original that landed, which counts towards its owner's
    /// quota from then on. Idempotent: queuing it again while it waits or runs changes
    /// nothing.
    pub async fn enqueue_process(&self, video: VideoId) -> Result<TaskRecord, DbError> {
        match self.storage().head(&keys::original(video)).await {
            Ok(Some(original)) => {
                let size = i64::try_from(original.size).unwrap_or(i64::MAX);
                self.db().record_upload(video, size, self.now_ms()).await?;
            }
            Ok(None) => {}
            // Processing records the size again; the task matters more.
            Err(e) => tracing::warn!(%video, error = %e, "could not read the upload's size"),
        }
        let task = self
            .db()
            .enqueue_task(TaskKind::ProcessVideo, video, self.now_ms())
            .await?;
        self.inner.wake.notify_one();
        Ok(task)
    }

    /// Queues the removal of a deleted video's files (the API's delete queues it
    /// itself; this is for operators). Idempotent. Refused while the video exists: its
    /// files are still in use.
    pub async fn enqueue_delete(&self, video: VideoId) -> Result<TaskRecord, SchedulerError> {
        if self.db().video_exists(video).await? {
            return Err(SchedulerError::Conflict(
                "the video still exists: delete it through the API",
            ));
        }
        let task = self
            .db()
            .enqueue_task(TaskKind::DeleteVideo, video, self.now_ms())
            .await?;
        self.inner.wake.notify_one();
        Ok(task)
    }

    /// One reconciliation pass (it also runs every `reconcile_every` while the runner
    /// runs).
    pub async fn reconcile(&self) -> Result<Reconciled, SchedulerError> {
        let done = reconcile::pass(self).await?;
        if done.queued_uploads + done.requeued_unprocessed > 0 {
            self.inner.wake.notify_one();
        }
        Ok(done)
    }

    /// One storage sweep (it also runs every `sweep_every` while the runner runs).
    pub async fn sweep(&self) -> Result<Swept, SchedulerError> {
        sweep::pass(self).await
    }

    /// Runs the tasks, the periodic reconciliation and the storage sweep until
    /// `shutdown` resolves, then finishes or hands back what was claimed.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) {
        let config = self.config();
        let settings = RunnerSettings {
            owner: self.inner.instance.clone(),
            concurrency: config.concurrency,
            batch_size: config.batch_size,
            tick: config.tick,
            lease: config.lease,
            shutdown_grace: config.shutdown_grace,
            retry: RetryPolicy {
                max_attempts: config.max_attempts,
                first_backoff: config.retry_backoff,
                max_backoff: config.retry_backoff_max,
            },
        };
        let runner = Runner::new(
            Arc::new(DbQueue::new(self.db().clone())),
            self.inner.tasks.clone(),
            settings,
            self.inner.clock.clone(),
            self.inner.wake.clone(),
        );
        let stop = CancellationToken::new();
        let reconciling = clock::every(config.reconcile_every, stop.cancelled(), || async {
            match self.reconcile().await {
                Ok(done) if done != Reconciled::default() => tracing::info!(?done, "reconciled"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reconciliation failed; trying again later"),
            }
        });
        let sweeping = clock::every(config.sweep_every, stop.cancelled(), || async {
            match self.sweep().await {
                Ok(swept) if swept != Swept::default() => tracing::info!(?swept, "storage swept"),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the storage sweep failed; trying again later")
                }
            }
        });
        let stopping = async {
            shutdown.await;
            stop.cancel();
        };
        tokio::join!(
            runner.run(stop.clone().cancelled_owned()),
            reconciling,
            sweeping,
            stopping
        );
    }

    /// [`Self::run`] on a task of its own.
    pub fn spawn(
        &self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let scheduler = self.clone();
        tokio::spawn(async move { scheduler.run(shutdown).await })
    }
}

/// The intake's routes, to serve alone or to merge into another router.
pub fn router(state: SchedulerState) -> Router {
    intake::router(state)
}

/// Serves the intake on `listener` and runs the tasks (as `reel scheduler` does) until
/// `shutdown` resolves; then stops taking requests, and finishes or hands back the
/// tasks it claimed.
pub async fn serve(
    listener: impl Into<Listener>,
    scheduler: SchedulerState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stop = CancellationToken::new();
    let running = scheduler.spawn(stop.clone().cancelled_owned());
    let app = reel_core::http::observe(router(scheduler.clone()), "scheduler");
    let served = reel_core::http::serve(listener, app, shutdown).await;
    stop.cancel();
    if let Err(e) = running.await {
        tracing::error!(error = %e, "the task runner panicked");
    }
    served
}
