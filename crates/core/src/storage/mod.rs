//! Where video bytes live: one interface over the local disk and any S3-compatible store.
//!
//! Both backends give the same guarantees: an upload streams into a hidden temporary
//! object that becomes visible under its key only when complete (a rename on disk, the
//! completion of a multipart upload on S3), so a reader never sees half a video; and a
//! resumable (tus) upload is staged under `videos/{vid}/tus/{upload}/` so that it can
//! be continued by any request, at the exact offset that was stored.

/// The object key layout of videos and their renditions.
pub mod keys;
/// The local disk backend: plain files under a root directory.
mod local;
/// The S3 backend, on `object_store`'s `AmazonS3`.
mod s3;

use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{BoxStream, Stream};

use crate::secret::Secret;

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// The directory under the data dir that the local backend uses by default.
pub const DEFAULT_LOCAL_DIR: &str = "storage";

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No object (or staged upload) under that key.
    #[error("object not found")]
    NotFound,
    /// A resumable append started at another offset than the stored one.
    #[error("upload offset is {actual}, not {expected}")]
    OffsetMismatch {
        /// The offset the caller claimed.
        expected: u64,
        /// The offset actually stored.
        actual: u64,
    },
    /// A key that could escape its namespace; a bug in the caller.
    #[error("invalid storage key {0:?}")]
    BadKey(String),
    /// The storage URL or its options cannot be used.
    #[error("storage configuration: {0}")]
    Config(String),
    /// A staged upload's state object cannot be read.
    #[error("staged upload state is corrupt: {0}")]
    Corrupt(String),
    /// The local filesystem failed.
    #[error("storage i/o: {0}")]
    Io(#[from] io::Error),
    /// The object store failed.
    #[error("object store: {0}")]
    ObjectStore(object_store::Error),
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Self::NotFound,
            e => Self::ObjectStore(e),
        }
    }
}

/// Why a streaming write failed: the source stream said so, or storage did.
#[derive(Debug, thiserror::Error)]
pub enum PutError<E> {
    /// The source stream yielded this error; what it yielded before is kept or discarded
    /// as the operation documents.
    #[error("upload source: {0}")]
    Source(E),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What storage knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was stored, from the backend (file mtime, S3 `Last-Modified`).
    pub last_modified: SystemTime,
    /// A strong entity tag, quoted, that changes whenever the bytes do and survives restarts.
    pub etag: String,
}

/// The state of a staged resumable upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumableStatus {
    /// The total length declared at creation.
    pub length: u64,
    /// How many bytes are durably staged.
    pub offset: u64,
    /// The client's metadata, as given at creation (tus `Upload-Metadata`).
    pub metadata: String,
}

/// Which store to use and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct StorageOptions {
    /// `file:///abs/path` or `s3://bucket[/prefix]`; `None` means `{data_dir}/storage`.
    pub url: Option<String>,
    /// The data directory, root of the default local store.
    pub data_dir: PathBuf,
    /// S3 endpoint for non-AWS stores (MinIO, Ceph, moto), e.g. `http://127.0.0.1:9002`.
    pub s3_endpoint: Option<String>,
    /// S3 region; defaults to `AWS_REGION` or `us-east-1`.
    pub s3_region: Option<String>,
    /// S3 access key id; defaults to `AWS_ACCESS_KEY_ID`.
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key; defaults to `AWS_SECRET_ACCESS_KEY`.
    pub s3_secret_access_key: Option<Secret<String>>,
}

/// The storage handle shared by every request: cheap to clone.
#[derive(Clone)]
pub struct Storage {
    /// The backend behind the one interface.
    backend: Arc<Backend>,
}

/// The two backends; an enum rather than a trait object so that generic streaming
/// methods need no boxing.
enum Backend {
    /// Files under a directory.
    Local(local::LocalDisk),
    /// An S3-compatible bucket.
    S3(s3::S3Store),
}

/// An upload in progress into a hidden temporary object; dropping it without
/// [`PendingPut::commit`] removes the temporary object.
pub struct PendingPut {
    /// The backend's half of the upload.
    inner: PendingInner,
}

/// The backend's half of a [`PendingPut`].
enum PendingInner {
    /// A temp file that will be renamed.
    Local(local::LocalPending),
    /// A multipart upload that will be completed.
    S3(s3::S3Pending),
}

impl PendingPut {
    /// Appends bytes; they are buffered and written in large blocks.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), StorageError> {
        match &mut self.inner {
            PendingInner::Local(p) => p.write(bytes).await,
            PendingInner::S3(p) => p.write(bytes).await,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        match &self.inner {
            PendingInner::Local(p) => p.written(),
            PendingInner::S3(p) => p.written(),
        }
    }

    /// Makes the object visible under its key, atomically replacing any previous one.
    pub async fn commit(self) -> Result<(), StorageError> {
        match self.inner {
            PendingInner::Local(p) => p.commit().await,
            PendingInner::S3(p) => p.commit().await,
        }
    }

    /// Discards the temporary object now rather than at drop.
    pub async fn abort(self) {
        match self.inner {
            PendingInner::Local(p) => p.abort().await,
            PendingInner::S3(p) => p.abort().await,
        }
    }
}

/// An object opened for reading: its metadata now, its bytes on demand. On disk the
/// file is already open, so a playback costs one blocking call to open and stat and then
/// only the reads.
pub struct OpenObject {
    /// What storage knows about it.
    pub info: ObjectInfo,
    /// Where its bytes come from.
    source: OpenSource,
}

/// Where an [`OpenObject`]'s bytes come from.
enum OpenSource {
    /// An open file.
    File(std::fs::File),
    /// A remote store, read by key.
    Store(Storage),
}

impl OpenObject {
    /// Streams bytes `range`, which must lie within the object's size.
    pub async fn read_range(self, range: Range<u64>) -> Result<ByteStream, StorageError> {
        match self.source {
            OpenSource::File(file) => Ok(local::file_stream(file, range)),
            OpenSource::Store(storage) => storage.read_range(&self.info.key, range).await,
        }
    }
}

impl Storage {
    /// Opens the store that `options` names, creating the local root if needed.
    pub async fn open(options: &StorageOptions) -> Result<Self, StorageError> {
        let backend = match options.url.as_deref() {
            None => Backend::Local(
                local::LocalDisk::open(options.data_dir.join(DEFAULT_LOCAL_DIR)).await?,
            ),
            Some(url) if url.starts_with("file://") => {
                let path = url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .ok_or_else(|| StorageError::Config(format!("bad file URL {url:?}")))?;
                Backend::Local(local::LocalDisk::open(path).await?)
            }
            Some(url) if url.starts_with("s3://") => Backend::S3(s3::S3Store::open(url, options)?),
            Some(url) => {
                return Err(StorageError::Config(format!(
                    "storage URL {url:?} must start with file:// or s3://"
                )));
            }
        };
        Ok(Self {
            backend: Arc::new(backend),
        })
    }

    /// A short description for logs, without credentials.
    pub fn describe(&self) -> String {
        match &*self.backend {
            Backend::Local(l) => format!("local disk {}", l.root().display()),
            Backend::S3(s) => s.describe(),
        }
    }

    /// The object's size, date and tag, or `None` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.head(key).await,
            Backend::S3(s) => s.head(key).await,
        }
    }

    /// Opens the first of `keys` that exists, or `None` when none does.
    pub async fn open_first(&self, keys: &[String]) -> Result<Option<OpenObject>, StorageError> {
        for key in keys {
            check_key(key)?;
        }
        match &*self.backend {
            Backend::Local(l) => {
                Ok(l.open_first(keys.to_vec())
                    .await?
                    .map(|(info, file)| OpenObject {
                        info,
                        source: OpenSource::File(file),
                    }))
            }
            Backend::S3(s) => {
                for key in keys {
                    if let Some(info) = s.head(key).await? {
                        return Ok(Some(OpenObject {
                            info,
                            source: OpenSource::Store(self.clone()),
                        }));
                    }
                }
                Ok(None)
            }
        }
    }

    /// Streams bytes `range` of the object; the range must lie within its size.
    pub async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.read_range(key, range).await,
            Backend::S3(s) => s.read_range(key, range).await,
        }
    }

    /// Reads a whole small object (state files, test fixtures).
    pub async fn read_small(&self, key: &str) -> Result<Bytes, StorageError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.read_small(key).await,
            Backend::S3(s) => s.read_small(key).await,
        }
    }

    /// Stores a small object in one request, visible atomically.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.put(key, bytes).await,
            Backend::S3(s) => s.put(key, bytes).await,
        }
    }

    /// Starts a streaming upload into a hidden temporary object destined for `key`.
    pub async fn begin_put(&self, key: &str) -> Result<PendingPut, StorageError> {
        check_key(key)?;
        let inner = match &*self.backend {
            Backend::Local(l) => PendingInner::Local(l.begin_put(key).await?),
            Backend::S3(s) => PendingInner::S3(s.begin_put(key).await?),
        };
        Ok(PendingPut { inner })
    }

    /// Streams `source` into `key`: visible only if the whole stream was stored, and
    /// nothing left behind otherwise. Returns the number of bytes stored.
    pub async fn put_stream<S, E>(&self, key: &str, source: S) -> Result<u64, PutError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        use futures::StreamExt;
        let mut pending = self.begin_put(key).await?;
        let mut source = std::pin::pin!(source);
        while let Some(item) = source.next().await {
            match item {
                Ok(bytes) => {
                    if let Err(e) = pending.write(bytes).await {
                        pending.abort().await;
                        return Err(e.into());
                    }
                }
                Err(e) => {
                    pending.abort().await;
                    return Err(PutError::Source(e));
                }
            }
        }
        let written = pending.written();
        pending.commit().await?;
        Ok(written)
    }

    /// Deletes one object; deleting a missing object succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        check_key(key)?;
        match &*self.backend {
            Backend::Local(l) => l.delete(key).await,
            Backend::S3(s) => s.delete(key).await,
        }
    }

    /// Deletes every object under `prefix` (empty or ending in `/`); returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        check_prefix(prefix)?;
        match &*self.backend {
            Backend::Local(l) => l.delete_prefix(prefix).await,
            Backend::S3(s) => s.delete_prefix(prefix).await,
        }
    }

    /// Every object under `prefix` (empty or ending in `/`), sorted by key.
    pub async fn list_prefix(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        check_prefix(prefix)?;
        let mut list = match &*self.backend {
            Backend::Local(l) => l.list_prefix(prefix).await?,
            Backend::S3(s) => s.list_prefix(prefix).await?,
        };
        list.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(list)
    }

    /// Creates a resumable upload staged under `staging` (a prefix ending in `/`) that
    /// will become `final_key` when all `length` bytes are stored.
    pub async fn resumable_create(
        &self,
        staging: &str,
        final_key: &str,
        length: u64,
        metadata: &str,
    ) -> Result<(), StorageError> {
        check_prefix(staging)?;
        check_key(final_key)?;
        match &*self.backend {
            Backend::Local(l) => {
                l.resumable_create(staging, final_key, length, metadata)
                    .await
            }
            Backend::S3(s) => {
                s.resumable_create(staging, final_key, length, metadata)
                    .await
            }
        }
    }

    /// The declared length and stored offset of a staged upload, `None` if there is none.
    pub async fn resumable_status(
        &self,
        staging: &str,
    ) -> Result<Option<ResumableStatus>, StorageError> {
        check_prefix(staging)?;
        match &*self.backend {
            Backend::Local(l) => l.resumable_status(staging).await,
            Backend::S3(s) => s.resumable_status(staging).await,
        }
    }

    /// Appends `source` at `offset`, which must be the stored offset. Every byte the
    /// source yields is kept, even when it then fails (a client that went away resumes
    /// from there). Returns the new offset. The caller must serialise appends to one upload.
    pub async fn resumable_append<S, E>(
        &self,
        staging: &str,
        offset: u64,
        source: S,
    ) -> Result<u64, PutError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        check_prefix(staging)?;
        match &*self.backend {
            Backend::Local(l) => l.resumable_append(staging, offset, source).await,
            Backend::S3(s) => s.resumable_append(staging, offset, source).await,
        }
    }

    /// The first `len` staged bytes (fewer if fewer are stored); only valid while the
    /// offset is below 5 MiB, which is all that content sniffing needs.
    pub async fn resumable_read_prefix(
        &self,
        staging: &str,
        len: u64,
    ) -> Result<Bytes, StorageError> {
        check_prefix(staging)?;
        match &*self.backend {
            Backend::Local(l) => l.resumable_read_prefix(staging, len).await,
            Backend::S3(s) => s.resumable_read_prefix(staging, len).await,
        }
    }

    /// Makes a fully staged upload visible under its final key and removes the staging.
    pub async fn resumable_commit(&self, staging: &str) -> Result<(), StorageError> {
        check_prefix(staging)?;
        match &*self.backend {
            Backend::Local(l) => l.resumable_commit(staging).await,
            Backend::S3(s) => s.resumable_commit(staging).await,
        }
    }

    /// Discards a staged upload; discarding a missing one succeeds.
    pub async fn resumable_delete(&self, staging: &str) -> Result<(), StorageError> {
        check_prefix(staging)?;
        match &*self.backend {
            Backend::Local(l) => l.resumable_delete(staging).await,
            Backend::S3(s) => s.resumable_delete(staging).await,
        }
    }
}

fn check_key(key: &str) -> Result<(), StorageError> {
    if keys::is_valid(key) {
        Ok(())
    } else {
        Err(StorageError::BadKey(key.to_owned()))
    }
}

fn check_prefix(prefix: &str) -> Result<(), StorageError> {
    if keys::is_valid_prefix(prefix) {
        Ok(())
    } else {
        Err(StorageError::BadKey(prefix.to_owned()))
    }
}

/// The state of a staged resumable upload, kept as JSON next to its bytes.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct StagedState {
    /// Where the bytes go when complete.
    final_key: String,
    /// The declared total length.
    length: u64,
    /// The client's metadata.
    metadata: String,
    /// S3 only: the multipart upload receiving full parts, once one was needed.
    #[serde(default)]
    multipart_id: Option<String>,
    /// S3 only: the parts stored so far, in order.
    #[serde(default)]
    parts: Vec<String>,
    /// S3 only: bytes in the stored parts.
    #[serde(default)]
    parts_bytes: u64,
    /// S3 only: bytes in the tail object that does not fill a part yet.
    #[serde(default)]
    tail_len: u64,
}

impl StagedState {
    /// The state of a new upload of `length` bytes to `final_key`, nothing stored yet.
    fn new(final_key: &str, length: u64, metadata: &str) -> Self {
        Self {
            final_key: final_key.to_owned(),
            length,
            metadata: metadata.to_owned(),
            multipart_id: None,
            parts: Vec::new(),
            parts_bytes: 0,
            tail_len: 0,
        }
    }

    fn parse(bytes: &[u8]) -> Result<Self, StorageError> {
        serde_json::from_slice(bytes).map_err(|e| StorageError::Corrupt(e.to_string()))
    }

    fn to_bytes(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("state serialises"))
    }
}

/// A quoted strong entity tag from a backend's tag, whatever its quoting.
fn strong_etag(raw: &str) -> String {
    let bare = raw.trim_start_matches("W/").trim_matches('"');
    format!("\"{bare}\"")
}
