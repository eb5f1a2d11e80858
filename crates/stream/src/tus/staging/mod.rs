//! Where a resumable upload waits until its last byte arrives, under
//! `videos/{vid}/tus/{upload}/` (so that deleting the video deletes it too).
//!
//! Its state (`state.json`: the final key, the declared length, the client's metadata,
//! the sniffed content type) is an object of its own, replaced atomically. The bytes are
//! kept as each store does appends best:
//! - on local disk, one file (`data`) appended to; the offset is its size, and the last
//!   byte moves it onto the final key (a rename, no copy);
//! - on S3, full 8 MiB parts go straight into a multipart upload of the final key, and
//!   the bytes that do not fill a part yet into a `tail` object, written before the
//!   state that counts them; the last byte completes the multipart upload.
//!
//! Either way, when a source fails midway, every byte it yielded is kept: the offset
//! reported afterwards is exactly what is durably stored, and the upload continues
//! from there, whichever node the client comes back to.

/// Staging on local disk.
mod disk;
/// Staging on S3.
mod s3;

use std::sync::OnceLock;

use bytes::Bytes;
use futures::Stream;
use reel_core::ids::VideoId;
use reel_core::storage::{Storage, StorageError, keys};
use serde::{Deserialize, Serialize};

use crate::error::StreamError;
use crate::sniff::Container;

/// The state object of a staged upload.
const STATE: &str = "state.json";

/// The staging prefix of upload `upload` of `video`, or `None` when `upload` cannot be
/// part of a key.
pub fn staging_prefix(video: VideoId, upload: &str) -> Option<String> {
    let prefix = format!("{}tus/{upload}/", keys::video_prefix(video));
    keys::is_valid_prefix(&prefix).then_some(prefix)
}

/// Why a staged upload could not be read or changed.
#[derive(Debug, thiserror::Error)]
pub enum StagingError {
    #[error("no such staged upload")]
    NotFound,
    /// An append or a commit at another offset than the stored one.
    #[error("upload offset is {actual}, not {expected}")]
    OffsetMismatch { expected: u64, actual: u64 },
    #[error("staged upload is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<StagingError> for StreamError {
    fn from(e: StagingError) -> Self {
        match e {
            StagingError::NotFound => Self::NotFound,
            StagingError::OffsetMismatch { expected, actual } => Self::OffsetConflict {
                claimed: expected,
                stored: actual,
            },
            StagingError::Corrupt(why) => Self::Storage(StorageError::Corrupt(why)),
            StagingError::Storage(e) => Self::Storage(e),
        }
    }
}

/// Why an append stopped: its source failed (what it yielded before is kept), or the
/// staging did.
#[derive(Debug, thiserror::Error)]
pub enum AppendError<E> {
    #[error("upload source: {0}")]
    Source(E),
    #[error(transparent)]
    Staging(#[from] StagingError),
}

impl<E> From<StorageError> for AppendError<E> {
    fn from(e: StorageError) -> Self {
        Self::Staging(e.into())
    }
}

/// The state of a staged upload, as a client asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedStatus {
    /// The total length declared at creation.
    pub length: u64,
    /// How many bytes are durably staged.
    pub offset: u64,
    /// The client's metadata, as given at creation (tus `Upload-Metadata`).
    pub metadata: String,
}

/// One staged upload.
pub struct Staging {
    storage: Storage,
    /// Ends in `/`.
    prefix: String,
}

/// The state object's contents.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct State {
    /// Where the bytes go when complete.
    final_key: String,
    /// The declared total length.
    length: u64,
    metadata: String,
    /// The container's type, once the first bytes were sniffed.
    #[serde(default)]
    content_type: Option<String>,
    /// S3 only: the ids of the parts stored so far, in order.
    #[serde(default)]
    parts: Vec<String>,
    /// S3 only: bytes in the stored parts.
    #[serde(default)]
    parts_bytes: u64,
    /// S3 only: bytes in the tail object.
    #[serde(default)]
    tail_len: u64,
}

impl State {
    /// Records the type sniffed from the first bytes; true when that changed the state.
    fn learn_type(&mut self, sniffed: &OnceLock<Container>) -> bool {
        match (&self.content_type, sniffed.get()) {
            (None, Some(container)) => {
                self.content_type = Some(container.content_type().to_owned());
                true
            }
            _ => false,
        }
    }
}

impl Staging {
    /// The staged upload under `prefix` (see [`staging_prefix`]).
    pub fn new(storage: &Storage, prefix: String) -> Self {
        Self {
            storage: storage.clone(),
            prefix,
        }
    }

    fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    async fn load(&self) -> Result<Option<State>, StagingError> {
        match self.storage.read_small(&self.key(STATE)).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StagingError::Corrupt(e.to_string())),
            Err(StorageError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn load_existing(&self) -> Result<State, StagingError> {
        self.load().await?.ok_or(StagingError::NotFound)
    }

    async fn save(&self, state: &State) -> Result<(), StagingError> {
        let bytes = serde_json::to_vec(state).expect("the state serialises");
        self.storage
            .put(&self.key(STATE), Bytes::from(bytes))
            .await?;
        Ok(())
    }

    /// Where the bytes of this upload are appended on local disk; `None` on S3.
    fn local_data(&self) -> Option<std::path::PathBuf> {
        self.storage.local_path(&self.key(disk::DATA))
    }

    /// Starts an upload of `length` bytes that will become `final_key`.
    pub async fn create(
        &self,
        final_key: &str,
        length: u64,
        metadata: &str,
    ) -> Result<(), StagingError> {
        if let Some(data) = self.local_data() {
            disk::create(&data).await?;
        }
        let state = State {
            final_key: final_key.to_owned(),
            length,
            metadata: metadata.to_owned(),
            ..State::default()
        };
        self.save(&state).await
    }

    /// The declared length and stored offset, or `None` when there is no such upload.
    pub async fn status(&self) -> Result<Option<StagedStatus>, StagingError> {
        let Some(state) = self.load().await? else {
            return Ok(None);
        };
        let offset = match self.local_data() {
            Some(data) => disk::stored(&data).await?,
            None => state.parts_bytes + state.tail_len,
        };
        Ok(Some(StagedStatus {
            length: state.length,
            offset,
            metadata: state.metadata,
        }))
    }

    /// Appends `source` at `offset`, which must be the stored offset, and keeps every
    /// byte the source yields, even when it then fails; `sniffed` is where the
    /// container of the first bytes is recorded once known. Returns the new offset. The
    /// caller serialises appends to one upload.
    pub async fn append<S, E>(
        &self,
        offset: u64,
        source: S,
        sniffed: &OnceLock<Container>,
    ) -> Result<u64, AppendError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        let mut state = self.load_existing().await?;
        let appended = match self.local_data() {
            Some(data) => disk::append(&data, offset, source).await,
            None => s3::append(self, &mut state, offset, source, sniffed).await,
        };
        if state.learn_type(sniffed) {
            self.save(&state).await?;
        }
        appended
    }

    /// The first `len` staged bytes (fewer if fewer are stored); only valid while the
    /// offset is below 5 MiB, which is all that content sniffing needs.
    pub async fn read_prefix(&self, len: u64) -> Result<Bytes, StagingError> {
        match self.local_data() {
            Some(data) => disk::read_prefix(&data, len).await,
            None => s3::read_prefix(self, &self.load_existing().await?, len).await,
        }
    }

    /// Makes a complete upload its final object and removes the staging.
    pub async fn commit(&self) -> Result<(), StagingError> {
        let state = self.load_existing().await?;
        let offset = self.status().await?.map_or(0, |s| s.offset);
        if offset != state.length {
            return Err(StagingError::OffsetMismatch {
                expected: state.length,
                actual: offset,
            });
        }
        let content_type = state.content_type.as_deref();
        match self.local_data() {
            Some(data) => {
                self.storage
                    .put_file(&state.final_key, &data, content_type)
                    .await?;
            }
            None => s3::commit(self, &state).await?,
        }
        self.storage.delete_prefix(&self.prefix).await?;
        Ok(())
    }

    /// Discards the upload; discarding a missing one succeeds.
    pub async fn delete(&self) -> Result<(), StagingError> {
        self.storage.delete_prefix(&self.prefix).await?;
        Ok(())
    }
}
