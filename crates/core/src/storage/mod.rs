//! Where video bytes live: a thin layer over `object_store`, on the local disk
//! (`LocalFileSystem`) or any S3-compatible store (`AmazonS3`), with a fast path for
//! local files.
//!
//! - **Atomic objects.** An object appears under its key only when complete: a put or a
//!   streaming write goes to a hidden staged file renamed into place on disk, or to a
//!   multipart upload completed on S3, so a reader never sees half a video. A write that
//!   fails or is dropped leaves nothing behind.
//! - **Content types.** A key with a known extension (`poster.jpg`, `hls/…/index.m3u8`)
//!   has that extension's type ([`crate::media_type`]). Any other key (an upload's
//!   `original`) has the type given when it was written, or [`OCTET_STREAM`]: on S3 it
//!   is the object's own `Content-Type`; `LocalFileSystem` keeps no attributes, so on
//!   disk it is a hidden sidecar file (`.original.type`) written just before the object
//!   is renamed into place (so a new object never shows an old type; only a rename that
//!   fails could leave the previous object with the new one) and removed with it. Either
//!   way the type is decided once, at upload time, and read back with the object.
//! - **The local fast path.** On disk an object opened for reading is an open file, read
//!   from the page cache inline when the bytes are there; processing reads
//!   originals where they lie and moves its outputs into place ([`Storage::local_path`],
//!   [`Storage::put_file`]).
//! - **Multipart uploads that outlive a request** (S3): see [`multipart`].

/// The object key layout of videos and their renditions.
pub mod keys;
/// Multipart uploads continued across requests and processes (S3).
pub mod multipart;
/// The state marker of a video, and the cache stream servers read it through.
pub mod video_state;

/// The local-disk fast path: the page-cache reader, sidecar types, moves into place.
mod disk;
/// Listing the folders under a prefix, and emptying one but for a kept object.
mod folders;
/// Reading objects.
mod read;
/// Building the S3 client from a URL and options.
mod s3;
/// Streaming writes.
mod write;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{Attribute, Attributes, ObjectMeta, ObjectStore, ObjectStoreExt, PutOptions};

pub use read::OpenObject;
pub use write::PendingPut;

use crate::secret::Secret;

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, io::Result<Bytes>>;

/// The type of an object whose type nobody knows.
pub const OCTET_STREAM: &str = "application/octet-stream";

/// The directory under the data dir that the local store uses by default.
pub const DEFAULT_LOCAL_DIR: &str = "storage";

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No object under that key.
    #[error("object not found")]
    NotFound,
    /// A key that could escape its namespace; a bug in the caller.
    #[error("invalid storage key {0:?}")]
    BadKey(String),
    /// The storage URL or its options cannot be used.
    #[error("storage configuration: {0}")]
    Config(String),
    /// This store cannot do that (multipart uploads on disk, for instance).
    #[error("not supported by this store: {0}")]
    Unsupported(&'static str),
    /// A record this layer wrote cannot be read back.
    #[error("corrupt storage record: {0}")]
    Corrupt(String),
    /// The local filesystem failed.
    #[error("storage i/o: {0}")]
    Io(#[from] io::Error),
    /// The object store failed.
    #[error("object store: {0}")]
    ObjectStore(object_store::Error),
}

impl StorageError {
    /// Whether the store ran out of room (a full disk, a spent quota), an error the
    /// caller can name rather than hide as an internal one. The `io::Error` may lie
    /// deep in an object store's error chain.
    pub fn is_out_of_space(&self) -> bool {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = match self {
            Self::Io(e) => Some(e),
            Self::ObjectStore(e) => Some(e),
            _ => None,
        };
        while let Some(e) = cause {
            if let Some(io) = e.downcast_ref::<io::Error>()
                && matches!(
                    io.kind(),
                    io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
                )
            {
                return true;
            }
            cause = e.source();
        }
        false
    }
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
    /// The source stream yielded this error; nothing was stored.
    #[error("upload source: {0}")]
    Source(E),
    /// Storage failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What storage knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
    /// From the store: the file's mtime, or S3's `Last-Modified`.
    pub last_modified: SystemTime,
    /// A strong entity tag, quoted, that changes whenever the bytes do and survives
    /// restarts: inode, mtime and size on disk, the object's ETag on S3.
    pub etag: String,
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
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    /// The same bucket through S3's multipart API; `None` on disk.
    multipart: Option<Arc<dyn MultipartStore>>,
    /// The local fast path; `None` on S3.
    disk: Option<disk::Disk>,
    /// The size of a streaming write's blocks (S3 parts, or disk writes).
    block_size: usize,
    /// For logs: the root directory, or the bucket and prefix.
    description: String,
}

impl Storage {
    /// Opens the store that `options` names, creating the local root if needed.
    pub async fn open(options: &StorageOptions) -> Result<Self, StorageError> {
        let inner = match options.url.as_deref() {
            None => local(options.data_dir.join(DEFAULT_LOCAL_DIR)).await?,
            Some(url) if url.starts_with("file://") => {
                let path = url::Url::parse(url)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .ok_or_else(|| StorageError::Config(format!("bad file URL {url:?}")))?;
                local(path).await?
            }
            Some(url) if url.starts_with("s3://") => s3::open(url, options)?,
            Some(url) => {
                return Err(StorageError::Config(format!(
                    "storage URL {url:?} must start with file:// or s3://"
                )));
            }
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// A short description for logs, without credentials.
    pub fn describe(&self) -> String {
        self.inner.description.clone()
    }

    /// Where the object under `key` lives on local disk; `None` on S3.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let path = object_path(key).ok()?;
        self.inner.disk.as_ref()?.file_of(&path)
    }

    /// A directory for working files that [`Storage::put_file`] can move into place
    /// without copying (the same filesystem as the objects); `None` on S3, where any
    /// directory will do.
    pub fn scratch_dir(&self) -> Option<PathBuf> {
        self.inner.disk.as_ref().map(disk::Disk::scratch_dir)
    }

    /// The object's size, date and tag, or `None` when there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        match self.inner.store.head(&object_path(key)?).await {
            Ok(meta) => Ok(Some(info(key.to_owned(), &meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a whole small object (notes, records, test fixtures).
    pub async fn read_small(&self, key: &str) -> Result<Bytes, StorageError> {
        let got = self.inner.store.get(&object_path(key)?).await?;
        Ok(got.bytes().await?)
    }

    /// Stores a small object in one request, visible atomically.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let path = object_path(key)?;
        let content_type = write::type_of(key, None);
        self.before_commit(key, content_type).await?;
        let options = PutOptions {
            attributes: self.attributes(content_type),
            ..PutOptions::default()
        };
        self.inner
            .store
            .put_opts(&path, bytes.into(), options)
            .await?;
        Ok(())
    }

    /// Deletes one object; deleting a missing object succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = object_path(key)?;
        match self.inner.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(disk) = &self.inner.disk {
            disk.record_type(&self.inner.store, key, None).await?;
        }
        Ok(())
    }

    /// Deletes every object under `prefix` (a valid key followed by `/`), and aborts the
    /// multipart uploads recorded there; returns how many objects there were.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let folder = prefix
            .strip_suffix('/')
            .ok_or_else(|| StorageError::BadKey(prefix.to_owned()))?;
        let folder = object_path(folder)?;
        let listed = self.list_prefix(prefix).await?;
        let count = listed.len() as u64;
        if let Some(disk) = &self.inner.disk {
            // Sidecars and the staged files of writes cut off by a crash go too.
            disk.remove_tree(&folder).await?;
            return Ok(count);
        }
        self.delete_listed(&listed).await?;
        Ok(count)
    }

    /// Deletes the objects `listed` from the object store, aborting the multipart
    /// uploads recorded among them.
    async fn delete_listed(&self, listed: &[ObjectInfo]) -> Result<(), StorageError> {
        for record in listed.iter().filter(|o| multipart::is_record(&o.key)) {
            self.abort_recorded(&record.key).await?;
        }
        let paths = listed
            .iter()
            .map(|o| object_path(&o.key))
            .collect::<Result<Vec<_>, _>>()?;
        let locations = futures::stream::iter(paths.into_iter().map(Ok)).boxed();
        self.inner
            .store
            .delete_stream(locations)
            .try_for_each(|_| async { Ok(()) })
            .await?;
        Ok(())
    }

    /// Every object under `prefix` (empty or ending in `/`), sorted by key.
    pub async fn list_prefix(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        if !keys::is_valid_prefix(prefix) {
            return Err(StorageError::BadKey(prefix.to_owned()));
        }
        let base = match prefix.strip_suffix('/') {
            Some(dir) => Some(object_path(dir)?),
            None => None,
        };
        let metas: Vec<ObjectMeta> = self.inner.store.list(base.as_ref()).try_collect().await?;
        let mut list: Vec<ObjectInfo> = metas
            .iter()
            .filter(|m| keys::is_valid(m.location.as_ref()))
            .map(|m| info(m.location.to_string(), m))
            .collect();
        list.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(list)
    }

    /// The attributes a write of `content_type` stores: S3 keeps the type with the
    /// object; `LocalFileSystem` refuses attributes (hence the sidecar).
    fn attributes(&self, content_type: &str) -> Attributes {
        let mut attributes = Attributes::new();
        if self.inner.disk.is_none() {
            attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        }
        attributes
    }

    /// What must be in place before an object becomes visible under `key`: on disk, the
    /// sidecar that records its type (none for [`OCTET_STREAM`]).
    async fn before_commit(&self, key: &str, content_type: &str) -> Result<(), StorageError> {
        match &self.inner.disk {
            Some(disk) => {
                let recorded = (content_type != OCTET_STREAM).then_some(content_type);
                disk.record_type(&self.inner.store, key, recorded).await
            }
            None => Ok(()),
        }
    }
}

/// Every file under the directory `dir`, as `/`-separated paths relative to it, sorted:
/// for working directories that are not a store.
pub async fn files_under(dir: &std::path::Path) -> Result<Vec<String>, StorageError> {
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
    let metas: Vec<ObjectMeta> = fs.list(None).try_collect().await?;
    let mut files: Vec<String> = metas.iter().map(|m| m.location.to_string()).collect();
    files.sort();
    Ok(files)
}

async fn local(root: PathBuf) -> Result<Inner, StorageError> {
    let disk = disk::Disk::open(root).await?;
    Ok(Inner {
        store: disk.store(),
        multipart: None,
        description: format!("local disk {}", disk.root().display()),
        disk: Some(disk),
        block_size: disk::WRITE_BLOCK,
    })
}

/// The object path of a valid key.
fn object_path(key: &str) -> Result<Path, StorageError> {
    if keys::is_valid(key) {
        Path::parse(key).map_err(|_| StorageError::BadKey(key.to_owned()))
    } else {
        Err(StorageError::BadKey(key.to_owned()))
    }
}

fn info(key: String, meta: &ObjectMeta) -> ObjectInfo {
    let etag = match &meta.e_tag {
        Some(tag) => format!("\"{}\"", tag.trim_start_matches("W/").trim_matches('"')),
        None => format!(
            "\"{:x}-{:x}\"",
            meta.size,
            meta.last_modified.timestamp_nanos_opt().unwrap_or(0)
        ),
    };
    ObjectInfo {
        key,
        size: meta.size,
        last_modified: meta.last_modified.into(),
        etag,
    }
}
