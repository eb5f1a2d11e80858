//! What storage does on local disk beyond `LocalFileSystem`: read open files from the
//! page cache without a trip to the blocking pool, keep the types of extension-less
//! objects in sidecars, move finished files into place, and remove whole trees.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::{ByteStream, StorageError};

/// Reads are served in blocks this large.
const READ_BLOCK: usize = 256 * 1024;
/// Streaming writes reach the disk in blocks this large.
pub(super) const WRITE_BLOCK: usize = 1024 * 1024;
/// Where processing keeps its working files: inside the root, so that a finished file
/// moves into place by a rename, and behind a dot, so that no key can name it.
const SCRATCH_DIR: &str = ".work";
/// The sidecar of `name` is `.{name}{TYPE_SUFFIX}`, beside it.
const TYPE_SUFFIX: &str = ".type";

/// Runs blocking filesystem work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

/// Objects as files under a root directory.
pub(super) struct Disk {
    fs: Arc<LocalFileSystem>,
    /// Canonical, as `LocalFileSystem` makes every path it hands out.
    root: PathBuf,
}

impl Disk {
    /// Opens `root`, creating it and its scratch directory if needed.
    pub(super) async fn open(root: PathBuf) -> Result<Self, StorageError> {
        let root = blocking(move || {
            std::fs::create_dir_all(root.join(SCRATCH_DIR))?;
            std::fs::canonicalize(root)
        })
        .await?;
        // Deleting the last object of a folder removes the folder; every write is synced
        // (the file, then its directory) before it is acknowledged.
        let fs = LocalFileSystem::new_with_prefix(&root)
            .map_err(|e| StorageError::Config(e.to_string()))?
            .with_automatic_cleanup(true)
            .with_fsync(true);
        Ok(Self {
            fs: Arc::new(fs),
            root,
        })
    }

    pub(super) fn store(&self) -> Arc<dyn ObjectStore> {
        self.fs.clone()
    }

    pub(super) fn root(&self) -> &FsPath {
        &self.root
    }

    pub(super) fn scratch_dir(&self) -> PathBuf {
        self.root.join(SCRATCH_DIR)
    }

    pub(super) fn file_of(&self, path: &Path) -> Option<PathBuf> {
        self.fs.path_to_filesystem(path).ok()
    }

    /// The type recorded for the extension-less object `key`, if any.
    pub(super) async fn recorded_type(
        &self,
        store: &Arc<dyn ObjectStore>,
        key: &str,
    ) -> Result<Option<String>, StorageError> {
        match store.get(&sidecar(key)?).await {
            Ok(got) => {
                let bytes = got.bytes().await?;
                Ok(Some(String::from_utf8_lossy(&bytes).trim().to_owned()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Records `content_type` as the type of the extension-less object `key`, or forgets
    /// the recorded one when there is none; keys with a known extension need no record.
    pub(super) async fn record_type(
        &self,
        store: &Arc<dyn ObjectStore>,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<(), StorageError> {
        if crate::media_type::by_extension(key).is_some() {
            return Ok(());
        }
        let sidecar = sidecar(key)?;
        match content_type {
            Some(content_type) => {
                store
                    .put(
                        &sidecar,
                        Bytes::copy_from_slice(content_type.as_bytes()).into(),
                    )
                    .await?;
            }
            None => match store.delete(&sidecar).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            },
        }
        Ok(())
    }

    /// Moves the finished file `from` onto the object `path`: synced, then renamed (so
    /// `from` must be on this filesystem: see [`Disk::scratch_dir`]).
    pub(super) async fn move_into_place(
        &self,
        from: PathBuf,
        path: &Path,
    ) -> Result<(), StorageError> {
        let target = self
            .file_of(path)
            .ok_or_else(|| StorageError::BadKey(path.to_string()))?;
        blocking(move || {
            File::open(&from)?.sync_all()?;
            let parent = target
                .parent()
                .ok_or_else(|| io::Error::other("no parent"))?;
            std::fs::create_dir_all(parent)?;
            std::fs::rename(&from, &target)?;
            File::open(parent)?.sync_all()
        })
        .await?;
        Ok(())
    }

    /// Removes the folder of `prefix` whole, then the folders it leaves empty.
    pub(super) async fn remove_tree(&self, prefix: &Path) -> Result<(), StorageError> {
        let dir = self
            .file_of(prefix)
            .ok_or_else(|| StorageError::BadKey(prefix.to_string()))?;
        let root = self.root.clone();
        blocking(move || {
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            }
            let mut parent = dir.parent();
            while let Some(d) = parent {
                if d == root || std::fs::remove_dir(d).is_err() {
                    break;
                }
                parent = d.parent();
            }
            Ok(())
        })
        .await?;
        Ok(())
    }
}

/// The sidecar object of an extension-less key: hidden beside it, so that no listing of
/// keys shows it and deleting its folder removes it.
fn sidecar(key: &str) -> Result<Path, StorageError> {
    let (dir, name) = key.rsplit_once('/').unwrap_or(("", key));
    let hidden = format!(".{name}{TYPE_SUFFIX}");
    let full = if dir.is_empty() {
        hidden
    } else {
        format!("{dir}/{hidden}")
    };
    Path::parse(&full).map_err(|_| StorageError::BadKey(key.to_owned()))
}

/// Reads up to `len` bytes at `pos` only if they are in the page cache, without ever
/// blocking (`preadv2` with `RWF_NOWAIT`): a hot video is then served with no trip to
/// the blocking pool, as nginx serves it from its event loop.
#[cfg(target_os = "linux")]
fn read_cached(file: &File, pos: u64, len: usize) -> Option<Bytes> {
    use rustix::io::{ReadWriteFlags, preadv2};
    let mut buf = vec![0u8; len];
    let read = preadv2(
        file,
        &mut [io::IoSliceMut::new(&mut buf)],
        pos,
        ReadWriteFlags::NOWAIT,
    );
    match read {
        Ok(n) if n > 0 => {
            buf.truncate(n);
            metrics::counter!("reel_storage_reads_total", "from" => "page_cache").increment(1);
            Some(Bytes::from(buf))
        }
        _ => None,
    }
}

#[cfg(not(target_os = "linux"))]
fn read_cached(_file: &File, _pos: u64, _len: usize) -> Option<Bytes> {
    None
}

/// Streams `range` of `file` in `READ_BLOCK` blocks: from the page cache inline when the
/// bytes are there, else by a blocking task.
pub(super) fn file_stream(file: File, range: Range<u64>) -> ByteStream {
    futures::stream::try_unfold(
        (Some(file), range.start, range.end),
        |(file, pos, end)| async move {
            let Some(mut file) = file else {
                return Ok(None);
            };
            if pos >= end {
                return Ok(None);
            }
            let len = usize::try_from(end - pos).map_or(READ_BLOCK, |n| n.min(READ_BLOCK));
            if let Some(block) = read_cached(&file, pos, len) {
                let next = pos + block.len() as u64;
                return Ok(Some((block, (Some(file), next, end))));
            }
            let (file, block) = blocking(move || {
                // `read_to_end` fills spare capacity without zeroing it first.
                let mut buf = Vec::with_capacity(len);
                file.seek(SeekFrom::Start(pos))?;
                (&mut file).take(len as u64).read_to_end(&mut buf)?;
                if buf.len() < len {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                }
                Ok((file, buf))
            })
            .await?;
            metrics::counter!("reel_storage_reads_total", "from" => "disk").increment(1);
            let next = pos + len as u64;
            Ok(Some((Bytes::from(block), (Some(file), next, end))))
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecars_hide_beside_their_object() {
        assert_eq!(
            sidecar("videos/v/original").unwrap().as_ref(),
            "videos/v/.original.type"
        );
        assert_eq!(sidecar("note").unwrap().as_ref(), ".note.type");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hot_files_are_read_from_the_page_cache_inline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hot");
        let data: Vec<u8> = (0..3 * READ_BLOCK + 5).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let file = File::open(&path).unwrap();
        // Just written, so in the page cache: the fast path must serve it.
        let block = read_cached(&file, 10, 100).expect("a hot block is read inline");
        assert_eq!(block, data[10..110]);
        let streamed: Vec<Bytes> =
            futures::TryStreamExt::try_collect(file_stream(file, 7..data.len() as u64))
                .await
                .unwrap();
        assert_eq!(streamed.concat(), data[7..]);
    }
}
