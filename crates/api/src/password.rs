use std::sync::{Arc, LazyLock};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use reel_core::domain::Password;
use tokio::sync::Semaphore;

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

/// Runs argon2id on the blocking pool, at most `permits` at a time: each hash takes tens
/// of milliseconds of CPU and 19 MiB, which must not stall the async workers or let a
/// flood of log-ins exhaust memory.
#[derive(Clone)]
pub struct Hasher {
    /// One permit per concurrent hash.
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// A hasher running at most one hash per core.
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| ApiError::Internal(e.into()))?;
        tokio::task::spawn_blocking(job)
            .await
            .map_err(|e| ApiError::Internal(e.into()))
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
