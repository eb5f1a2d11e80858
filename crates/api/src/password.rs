//! argon2id on a pool of its own (docs/architecture.md, "Hostile traffic").
//!
//! Each hash takes tens of milliseconds of CPU and 19 MiB of memory, so a flood of
//! log-ins must neither stall the async workers nor run more hashes at once than the
//! machine can hold. A fixed set of threads takes jobs from a bounded queue: the
//! thread is the slot, held by the hashing itself from start to end, so a client that
//! hangs up frees nothing early (and a job whose client left while it waited is
//! skipped). A full queue is answered at once with 503, never by waiting. Storage and
//! database I/O run on tokio's blocking pool; hashing never does.
//!
//! Hand-written over a crate: the whole pool is a `sync_channel` and a few threads,
//! and thread pools from crates (rayon) queue without bound.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, LazyLock, Mutex};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use reel_core::domain::Password;
use tokio::sync::oneshot;

use crate::error::ApiError;

/// A hash to verify against when the user does not exist, so that a wrong name takes as
/// long as a wrong password and names cannot be probed by timing.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    Argon2::default()
        .hash_password(b"decoy password")
        .expect("argon2 hashes a fixed input")
        .to_string()
});

/// The argon2id PHC string of a password, with a fresh random salt, on this thread:
/// the one hashing of the site, for the API's pool and for `reel user add`.
pub fn hash_now(password: &Password) -> Result<String, argon2::password_hash::Error> {
    Argon2::default()
        .hash_password(password.expose())
        .map(|h| h.to_string())
}

/// A unit of work for the pool's threads.
type Job = Box<dyn FnOnce() + Send>;

/// The hashing pool. Cheap to clone; its threads end once every clone is dropped.
#[derive(Clone)]
pub struct Hasher {
    /// The bounded queue in front of the threads.
    jobs: SyncSender<Job>,
}

impl Hasher {
    /// Starts `threads` hashing threads (at least one) behind a queue of `queue` jobs.
    pub fn new(threads: usize, queue: usize) -> Self {
        let (jobs, waiting) = std::sync::mpsc::sync_channel::<Job>(queue);
        let waiting = Arc::new(Mutex::new(waiting));
        for i in 0..threads.max(1) {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("reel-hash-{i}"))
                .spawn(move || work(&waiting))
                .expect("the hashing threads start");
        }
        Self { jobs }
    }

    /// Queues `job`, or answers 503 when the queue is full; the answer arrives when a
    /// thread has run it.
    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (reply, answer) = oneshot::channel();
        let wrapped: Job = Box::new(move || {
            // The client hung up while the job waited: nobody needs the hash.
            if reply.is_closed() {
                return;
            }
            let _ = reply.send(job());
        });
        match self.jobs.try_send(wrapped) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ApiError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::Internal(anyhow::anyhow!(
                    "the hashing threads are gone"
                )));
            }
        }
        answer
            .await
            .map_err(|_| ApiError::Internal(anyhow::anyhow!("a hashing job failed")))
    }

    /// The argon2id PHC string of a password, with a fresh random salt.
    pub async fn hash(&self, password: Password) -> Result<String, ApiError> {
        self.run(move || hash_now(&password))
            .await?
            .map_err(|e| ApiError::Internal(anyhow::anyhow!("argon2: {e}")))
    }

    /// Whether `password` matches `stored` (a PHC string); `None` checks against a decoy
    /// and is always false.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, ApiError> {
        self.run(move || {
            let exists = stored.is_some();
            let text = stored.unwrap_or_else(|| DECOY_HASH.clone());
            let Ok(parsed) = PasswordHash::new(&text) else {
                return false;
            };
            let matches = Argon2::default()
                .verify_password(password.expose(), &parsed)
                .is_ok();
            exists && matches
        })
        .await
    }
}

/// A hashing thread: runs jobs until the queue's sender is gone. A job that panics
/// loses its answer (the request gets a 500), not the thread.
fn work(waiting: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held while waiting for a job only, never while running one.
        let next = match waiting.lock() {
            Ok(queue) => queue.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = next else {
            return;
        };
        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_full_queue_is_refused_and_abandoned_jobs_are_skipped() {
        let pool = Hasher::new(1, 1);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let ran = Arc::new(AtomicUsize::new(0));
        // One job occupies the thread until released.
        let (busy_tx, busy) = oneshot::channel();
        let occupy: Job = Box::new(move || {
            let _ = busy_tx.send(hold.recv().is_ok());
        });
        assert!(pool.jobs.try_send(occupy).is_ok());
        // Once the thread has taken it, the queue has room for a job nobody waits for.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let counter = ran.clone();
            let (tx, rx) = oneshot::channel::<()>();
            drop(rx);
            let abandoned: Job = Box::new(move || {
                if !tx.is_closed() {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
            });
            if pool.jobs.try_send(abandoned).is_ok() {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the thread never took the job"
            );
            tokio::task::yield_now().await;
        }
        // Now the queue holds the abandoned job and the thread is busy: a third is refused.
        let refused = pool.run(|| ()).await;
        assert!(matches!(refused, Err(ApiError::Busy)), "{refused:?}");
        release.send(()).unwrap();
        assert!(busy.await.unwrap());
        // The pool still works, and the abandoned job did not run its work.
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn hashes_verify_and_a_missing_user_never_matches() {
        let pool = Hasher::new(2, 4);
        let pwd = || Password::parse("correct horse battery").unwrap();
        let stored = pool.hash(pwd()).await.unwrap();
        assert!(pool.verify(pwd(), Some(stored.clone())).await.unwrap());
        let wrong = Password::parse("incorrect horse").unwrap();
        assert!(!pool.verify(wrong, Some(stored)).await.unwrap());
        assert!(!pool.verify(pwd(), None).await.unwrap());
    }
}
