//! Telling the scheduler that an upload awaits processing.
//!
//! A finished upload first leaves a durable note in storage (`outbox/process/{vid}`),
//! then a background task delivers it through an [`UploadNotifier`], retrying with
//! exponential backoff until the scheduler accepts it; the note is removed only then,
//! and notes left by a stopped server are delivered again at the next start. So the
//! upload response never waits for the scheduler, and no upload is ever forgotten.

use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use futures::future::BoxFuture;
use reel_core::clock::SharedClock;
use reel_core::ids::VideoId;
use reel_core::signing::{SigningKey, service};
use reel_core::storage::{Storage, StorageError, keys};

/// A delivery that did not succeed and should be retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotifyError(pub String);

/// One way to deliver "this video awaits processing"; retries are the caller's job.
pub trait UploadNotifier: Send + Sync + 'static {
    /// Delivers one notice; must be idempotent, as a notice may be delivered twice.
    fn deliver(&self, video: VideoId) -> BoxFuture<'_, Result<(), NotifyError>>;
}

/// The scheduler's HTTP intake: `POST {base}/tasks/process/{vid}`, signed with the
/// service key.
pub struct HttpIntake {
    client: reqwest::Client,
    /// The scheduler's base URL, without a trailing slash.
    base_url: String,
    key: SigningKey,
    /// The clock the signature's expiry is based on.
    clock: SharedClock,
}

impl HttpIntake {
    /// An intake at `base_url` (`http://127.0.0.1:9001`).
    pub fn new(base_url: &str, key: SigningKey, clock: SharedClock) -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a default HTTP client builds"),
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            clock,
        }
    }
}

impl UploadNotifier for HttpIntake {
    fn deliver(&self, video: VideoId) -> BoxFuture<'_, Result<(), NotifyError>> {
        Box::pin(async move {
            let path = format!("/tasks/process/{video}");
            let auth = service::authorization(&self.key, "POST", &path, self.clock.now_ms());
            let response = self
                .client
                .post(format!("{}{path}", self.base_url))
                .header(reqwest::header::AUTHORIZATION, auth)
                .send()
                .await
                .map_err(|e| NotifyError(e.to_string()))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(NotifyError(format!(
                    "scheduler answered {}",
                    response.status()
                )))
            }
        })
    }
}

/// Used when no scheduler is configured: the notice is only logged.
pub struct LogOnly;

impl UploadNotifier for LogOnly {
    fn deliver(&self, video: VideoId) -> BoxFuture<'_, Result<(), NotifyError>> {
        tracing::info!(%video, "upload complete; no scheduler configured to process it");
        Box::pin(async { Ok(()) })
    }
}

/// The durable outbox in front of a notifier.
#[derive(Clone)]
pub struct Outbox {
    /// Where notes are kept.
    storage: Storage,
    /// How they are delivered.
    notifier: Arc<dyn UploadNotifier>,
    /// The waits between attempts: doubling from the first up to the longest, forever.
    backoff: ExponentialBuilder,
}

impl Outbox {
    /// An outbox delivering through `notifier`, waiting `first` after the first failed
    /// attempt and doubling the wait up to `longest`.
    pub fn new(
        storage: Storage,
        notifier: Arc<dyn UploadNotifier>,
        first: Duration,
        longest: Duration,
    ) -> Self {
        Self {
            storage,
            notifier,
            backoff: ExponentialBuilder::new()
                .with_min_delay(first)
                .with_max_delay(longest)
                .without_max_times(),
        }
    }

    /// Records that `video` awaits processing and starts delivering the notice.
    pub async fn upload_completed(&self, video: VideoId) {
        if let Err(e) = self
            .storage
            .put(&keys::outbox_process(video), bytes::Bytes::new())
            .await
        {
            // Delivery is still attempted; only a restart before it succeeds could lose it.
            tracing::error!(%video, error = %e, "could not record the processing notice");
        }
        self.spawn_delivery(video);
    }

    /// Starts delivering every notice a previous run left undelivered; returns how many.
    pub async fn resume_pending(&self) -> Result<usize, StorageError> {
        let pending = self
            .storage
            .list_prefix(keys::OUTBOX_PROCESS_PREFIX)
            .await?;
        let mut count = 0;
        for note in pending {
            let id = note.key.trim_start_matches(keys::OUTBOX_PROCESS_PREFIX);
            match VideoId::parse(id) {
                Ok(video) => {
                    self.spawn_delivery(video);
                    count += 1;
                }
                Err(_) => tracing::warn!(key = %note.key, "ignoring a malformed outbox note"),
            }
        }
        Ok(count)
    }

    fn spawn_delivery(&self, video: VideoId) {
        let outbox = self.clone();
        tokio::spawn(async move {
            let mut attempt = 1u32;
            // With no limit on attempts this ends only once a delivery succeeded.
            let delivered = (|| outbox.notifier.deliver(video))
                .retry(outbox.backoff)
                .notify(|e, retry_in| {
                    tracing::warn!(%video, attempt, ?retry_in, error = %e,
                        "could not tell the scheduler about an upload");
                    attempt += 1;
                })
                .await;
            if delivered.is_err() {
                return;
            }
            tracing::info!(%video, attempt, "scheduler told about the upload");
            if let Err(e) = outbox.storage.delete(&keys::outbox_process(video)).await {
                tracing::warn!(%video, error = %e, "could not remove a delivered outbox note");
            }
        });
    }
}
