//! Plain files under a root directory: `{root}/{key}`, temporaries in `{root}/.tmp`.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::{Bytes, BytesMut};
use futures::stream::{Stream, StreamExt};

use super::{ByteStream, ObjectInfo, PutError, ResumableStatus, StagedState, StorageError};

/// Where temporaries live: inside the root so that a rename never crosses filesystems,
/// behind a dot so that no valid key can name them.
const TMP_DIR: &str = ".tmp";
/// Reads are served in blocks this large.
const READ_BLOCK: usize = 256 * 1024;
/// Writes are gathered into blocks this large before one blocking write.
const WRITE_BLOCK: usize = 1024 * 1024;
/// The data file of a staged upload.
const STAGED_DATA: &str = "data";
/// The state file of a staged upload.
const STAGED_STATE: &str = "state.json";

/// Runs blocking filesystem work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)?
}

fn not_found_as_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn storage_io(e: io::Error) -> StorageError {
    if e.kind() == io::ErrorKind::NotFound {
        StorageError::NotFound
    } else {
        StorageError::Io(e)
    }
}

/// The local disk backend.
pub(super) struct LocalDisk {
    /// The directory every key is relative to.
    root: PathBuf,
}

impl LocalDisk {
    /// Creates the root and empties the temporaries left by a crash.
    pub(super) async fn open(root: PathBuf) -> Result<Self, StorageError> {
        let tmp = root.join(TMP_DIR);
        blocking(move || {
            if let Err(e) = std::fs::remove_dir_all(&tmp)
                && e.kind() != io::ErrorKind::NotFound
            {
                return Err(e);
            }
            std::fs::create_dir_all(&tmp)
        })
        .await?;
        Ok(Self { root })
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn temp_path(&self) -> PathBuf {
        self.root
            .join(TMP_DIR)
            .join(uuid::Uuid::new_v4().simple().to_string())
    }

    pub(super) async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let path = self.path(key);
        let key = key.to_owned();
        let meta = blocking(move || not_found_as_none(std::fs::metadata(path))).await?;
        Ok(meta.filter(|m| m.is_file()).map(|m| info(key, &m)))
    }

    pub(super) async fn open_first(
        &self,
        keys: Vec<String>,
    ) -> Result<Option<(ObjectInfo, File)>, StorageError> {
        let root = self.root.clone();
        let found = blocking(move || {
            for key in keys {
                let Some(file) = not_found_as_none(File::open(root.join(&key)))? else {
                    continue;
                };
                let meta = file.metadata()?;
                if meta.is_file() {
                    return Ok(Some((info(key, &meta), file)));
                }
            }
            Ok(None)
        })
        .await?;
        Ok(found)
    }

    pub(super) async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        let path = self.path(key);
        let file = blocking(move || File::open(path))
            .await
            .map_err(storage_io)?;
        Ok(file_stream(file, range))
    }

    pub(super) async fn read_small(&self, key: &str) -> Result<Bytes, StorageError> {
        let path = self.path(key);
        let bytes = blocking(move || std::fs::read(path))
            .await
            .map_err(storage_io)?;
        Ok(Bytes::from(bytes))
    }

    pub(super) async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        let mut pending = self.begin_put(key).await?;
        pending.write(bytes).await?;
        pending.commit().await
    }

    pub(super) async fn begin_put(&self, key: &str) -> Result<LocalPending, StorageError> {
        let temp = self.temp_path();
        let path = temp.clone();
        let file = blocking(move || File::create_new(path)).await?;
        Ok(LocalPending {
            temp,
            target: self.path(key),
            file: Some(file),
            buffer: BytesMut::new(),
            written: 0,
            finished: false,
        })
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key);
        let root = self.root.clone();
        blocking(move || {
            not_found_as_none(std::fs::remove_file(&path))?;
            remove_empty_parents(&root, &path);
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub(super) async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let listed = self.list_prefix(prefix).await?;
        let dir = self.path(prefix);
        let root = self.root.clone();
        let whole_root = prefix.is_empty();
        blocking(move || {
            if whole_root {
                for entry in std::fs::read_dir(&dir)? {
                    let entry = entry?;
                    if entry.file_name() != TMP_DIR {
                        remove_any(&entry.path())?;
                    }
                }
            } else {
                not_found_as_none(std::fs::remove_dir_all(&dir))?;
                remove_empty_parents(&root, &dir);
            }
            Ok(())
        })
        .await?;
        Ok(listed.len() as u64)
    }

    pub(super) async fn list_prefix(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let dir = self.path(prefix);
        let prefix = prefix.to_owned();
        let list = blocking(move || {
            let mut out = Vec::new();
            walk(&dir, &prefix, &mut out)?;
            Ok(out)
        })
        .await?;
        Ok(list)
    }

    pub(super) async fn resumable_create(
        &self,
        staging: &str,
        final_key: &str,
        length: u64,
        metadata: &str,
    ) -> Result<(), StorageError> {
        let dir = self.path(staging);
        let state = StagedState::new(final_key, length, metadata);
        blocking(move || {
            std::fs::create_dir_all(&dir)?;
            File::create(dir.join(STAGED_DATA))?;
            std::fs::write(dir.join(STAGED_STATE), state.to_bytes())
        })
        .await?;
        Ok(())
    }

    async fn staged_state(
        &self,
        staging: &str,
    ) -> Result<Option<(StagedState, u64)>, StorageError> {
        let dir = self.path(staging);
        let found = blocking(move || {
            let Some(state) = not_found_as_none(std::fs::read(dir.join(STAGED_STATE)))? else {
                return Ok(None);
            };
            let offset = std::fs::metadata(dir.join(STAGED_DATA))?.len();
            Ok(Some((state, offset)))
        })
        .await?;
        match found {
            None => Ok(None),
            Some((state, offset)) => Ok(Some((StagedState::parse(&state)?, offset))),
        }
    }

    pub(super) async fn resumable_status(
        &self,
        staging: &str,
    ) -> Result<Option<ResumableStatus>, StorageError> {
        Ok(self
            .staged_state(staging)
            .await?
            .map(|(state, offset)| ResumableStatus {
                length: state.length,
                offset,
                metadata: state.metadata,
            }))
    }

    pub(super) async fn resumable_append<S, E>(
        &self,
        staging: &str,
        offset: u64,
        source: S,
    ) -> Result<u64, PutError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        let data = self.path(staging).join(STAGED_DATA);
        let file = blocking(move || {
            not_found_as_none(std::fs::OpenOptions::new().append(true).open(data))
        })
        .await
        .map_err(StorageError::Io)?
        .ok_or(StorageError::NotFound)?;
        let (mut file, actual) = blocking(move || {
            let len = file.metadata()?.len();
            Ok((file, len))
        })
        .await
        .map_err(StorageError::Io)?;
        if actual != offset {
            return Err(StorageError::OffsetMismatch {
                expected: offset,
                actual,
            }
            .into());
        }
        let mut written = offset;
        let mut buffer = BytesMut::new();
        let mut source = std::pin::pin!(source);
        let mut failure = None;
        while let Some(item) = source.next().await {
            match item {
                Ok(bytes) => {
                    buffer.extend_from_slice(&bytes);
                    if buffer.len() >= WRITE_BLOCK {
                        let block = buffer.split().freeze();
                        written += block.len() as u64;
                        file = write_block(file, block).await.map_err(StorageError::Io)?;
                    }
                }
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
        }
        if !buffer.is_empty() {
            let block = buffer.split().freeze();
            written += block.len() as u64;
            file = write_block(file, block).await.map_err(StorageError::Io)?;
        }
        drop(file);
        match failure {
            Some(e) => Err(PutError::Source(e)),
            None => Ok(written),
        }
    }

    pub(super) async fn resumable_read_prefix(
        &self,
        staging: &str,
        len: u64,
    ) -> Result<Bytes, StorageError> {
        let data = self.path(staging).join(STAGED_DATA);
        let bytes = blocking(move || {
            let mut buf = Vec::new();
            File::open(data)?.take(len).read_to_end(&mut buf)?;
            Ok(buf)
        })
        .await
        .map_err(storage_io)?;
        Ok(Bytes::from(bytes))
    }

    pub(super) async fn resumable_commit(&self, staging: &str) -> Result<(), StorageError> {
        let (state, offset) = self
            .staged_state(staging)
            .await?
            .ok_or(StorageError::NotFound)?;
        if offset != state.length {
            return Err(StorageError::OffsetMismatch {
                expected: state.length,
                actual: offset,
            });
        }
        let dir = self.path(staging);
        let target = self.path(&state.final_key);
        let root = self.root.clone();
        blocking(move || {
            let data = dir.join(STAGED_DATA);
            File::open(&data)?.sync_all()?;
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(&data, &target)?;
            std::fs::remove_dir_all(&dir)?;
            remove_empty_parents(&root, &dir);
            Ok(())
        })
        .await?;
        Ok(())
    }

    pub(super) async fn resumable_delete(&self, staging: &str) -> Result<(), StorageError> {
        let dir = self.path(staging);
        let root = self.root.clone();
        blocking(move || {
            not_found_as_none(std::fs::remove_dir_all(&dir))?;
            remove_empty_parents(&root, &dir);
            Ok(())
        })
        .await?;
        Ok(())
    }
}

fn info(key: String, meta: &std::fs::Metadata) -> ObjectInfo {
    let last_modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let nanos = last_modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    ObjectInfo {
        key,
        size: meta.len(),
        last_modified,
        // Every commit renames a fresh file into place, so its inode, size and mtime
        // together change with the bytes (mtime alone may not: its granularity is the
        // kernel tick) and, unlike an in-memory counter, survive restarts.
        etag: format!("\"{:x}-{:x}-{:x}\"", inode(meta), meta.len(), nanos),
    }
}

#[cfg(unix)]
fn inode(meta: &std::fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn inode(_meta: &std::fs::Metadata) -> u64 {
    0
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
        &mut [std::io::IoSliceMut::new(&mut buf)],
        pos,
        ReadWriteFlags::NOWAIT,
    );
    match read {
        Ok(n) if n > 0 => {
            buf.truncate(n);
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
            let next = pos + len as u64;
            Ok(Some((Bytes::from(block), (Some(file), next, end))))
        },
    )
    .boxed()
}

async fn write_block(mut file: File, block: Bytes) -> io::Result<File> {
    blocking(move || {
        file.write_all(&block)?;
        Ok(file)
    })
    .await
}

/// Removes now-empty directories from `path`'s parent up to (not including) `root`.
fn remove_empty_parents(root: &Path, path: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) || std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

fn remove_any(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    }
}

fn walk(dir: &Path, key_prefix: &str, out: &mut Vec<ObjectInfo>) -> io::Result<()> {
    let Some(entries) = not_found_as_none(std::fs::read_dir(dir))? else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let key = format!("{key_prefix}{name}");
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(&entry.path(), &format!("{key}/"), out)?;
        } else if meta.is_file() {
            out.push(info(key, &meta));
        }
    }
    Ok(())
}

/// A temp file being written; renamed onto its key at commit, removed if dropped.
pub(super) struct LocalPending {
    /// The temp file's path.
    temp: PathBuf,
    /// Where it goes at commit.
    target: PathBuf,
    /// The open temp file; `None` only while a blocking write holds it.
    file: Option<File>,
    /// Bytes not yet written.
    buffer: BytesMut,
    /// Bytes accepted so far.
    written: u64,
    /// Committed or aborted: nothing left for `Drop` to clean.
    finished: bool,
}

impl LocalPending {
    pub(super) async fn write(&mut self, bytes: Bytes) -> Result<(), StorageError> {
        self.written += bytes.len() as u64;
        if self.buffer.is_empty() && bytes.len() >= WRITE_BLOCK {
            return self.flush_block(bytes).await;
        }
        self.buffer.extend_from_slice(&bytes);
        if self.buffer.len() >= WRITE_BLOCK {
            let block = self.buffer.split().freeze();
            self.flush_block(block).await?;
        }
        Ok(())
    }

    async fn flush_block(&mut self, block: Bytes) -> Result<(), StorageError> {
        let file = self.file.take().ok_or_else(|| {
            StorageError::Io(io::Error::other("an earlier write to this upload failed"))
        })?;
        self.file = Some(write_block(file, block).await?);
        Ok(())
    }

    pub(super) fn written(&self) -> u64 {
        self.written
    }

    pub(super) async fn commit(mut self) -> Result<(), StorageError> {
        if !self.buffer.is_empty() {
            let block = self.buffer.split().freeze();
            self.flush_block(block).await?;
        }
        let file = self.file.take().ok_or_else(|| {
            StorageError::Io(io::Error::other("an earlier write to this upload failed"))
        })?;
        let (temp, target) = (self.temp.clone(), self.target.clone());
        blocking(move || {
            file.sync_all()?;
            drop(file);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(temp, target)
        })
        .await?;
        self.finished = true;
        Ok(())
    }

    pub(super) async fn abort(mut self) {
        self.file = None;
        let temp = self.temp.clone();
        self.finished = true;
        if let Err(e) = blocking(move || std::fs::remove_file(temp)).await {
            tracing::warn!(error = %e, "could not remove an aborted upload's temp file");
        }
    }
}

impl Drop for LocalPending {
    fn drop(&mut self) {
        if !self.finished {
            // A dropped upload (client gone, handler cancelled) must leave no temp file;
            // unlinking is quick enough to do inline.
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn etags_differ_for_same_size_files_written_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let (p, q) = (dir.path().join("p"), dir.path().join("q"));
        std::fs::write(&p, b"abc").unwrap();
        std::fs::write(&q, b"xyz").unwrap();
        let a = info("p".into(), &std::fs::metadata(&p).unwrap());
        let b = info("q".into(), &std::fs::metadata(&q).unwrap());
        assert_ne!(a.etag, b.etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
        assert!(a.last_modified > SystemTime::UNIX_EPOCH);
    }
}
