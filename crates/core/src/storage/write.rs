//! Streaming writes: `object_store`'s `BufWriter` (one put for a small object, a
//! multipart upload for a large one), completed only at commit and aborted when dropped.

use std::path::Path as FsPath;

use bytes::Bytes;
use futures::stream::{Stream, StreamExt};
use object_store::buffered::BufWriter;
use tokio::io::AsyncWriteExt;

use super::{OCTET_STREAM, PutError, Storage, StorageError, object_path};

/// Blocks of a streaming write in flight at once, at most.
const WRITES_IN_FLIGHT: usize = 2;

/// The type `key` has once written with `given`: its extension's when it has a known
/// one, else `given`, else [`OCTET_STREAM`].
pub(super) fn type_of<'a>(key: &str, given: Option<&'a str>) -> &'a str {
    crate::media_type::by_extension(key)
        .or(given)
        .unwrap_or(OCTET_STREAM)
}

/// A write in progress: invisible until [`PendingPut::commit`]; dropping it without a
/// commit discards what was written.
pub struct PendingPut {
    storage: Storage,
    key: String,
    content_type: String,
    /// `None` once committed or aborted.
    writer: Option<BufWriter>,
    written: u64,
}

impl PendingPut {
    /// Appends bytes; they are gathered and stored in large blocks.
    pub async fn write(&mut self, bytes: Bytes) -> Result<(), StorageError> {
        let writer = self
            .writer
            .as_mut()
            .ok_or(StorageError::Unsupported("writing to a finished upload"))?;
        self.written += bytes.len() as u64;
        writer.put(bytes).await?;
        Ok(())
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Makes the object visible under its key, atomically replacing any previous one.
    pub async fn commit(mut self) -> Result<(), StorageError> {
        let mut writer = self
            .writer
            .take()
            .ok_or(StorageError::Unsupported("committing a finished upload"))?;
        let ready = self
            .storage
            .before_commit(&self.key, &self.content_type)
            .await;
        if let Err(e) = ready {
            let _ = writer.abort().await;
            return Err(e);
        }
        // A failed completion discards the upload itself.
        writer.shutdown().await?;
        Ok(())
    }

    /// Discards what was written, now rather than in the background.
    pub async fn abort(mut self) {
        if let Some(mut writer) = self.writer.take()
            && let Err(e) = writer.abort().await
        {
            tracing::warn!(error = %e, "could not discard an unfinished upload");
        }
    }
}

impl Drop for PendingPut {
    fn drop(&mut self) {
        if let Some(mut writer) = self.writer.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            // Dropped mid-upload (the client went away): nothing can be awaited here.
            runtime.spawn(async move {
                if let Err(e) = writer.abort().await {
                    tracing::warn!(error = %e, "could not discard a dropped upload");
                }
            });
        }
    }
}

impl Storage {
    /// Starts a streaming write to `key`, of type `content_type` unless its extension
    /// says otherwise.
    pub async fn begin_put(
        &self,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<PendingPut, StorageError> {
        let path = object_path(key)?;
        let content_type = type_of(key, content_type);
        let writer =
            BufWriter::with_capacity(self.inner.store.clone(), path, self.inner.block_size)
                .with_max_concurrency(WRITES_IN_FLIGHT)
                .with_attributes(self.attributes(content_type));
        Ok(PendingPut {
            storage: self.clone(),
            key: key.to_owned(),
            content_type: content_type.to_owned(),
            writer: Some(writer),
            written: 0,
        })
    }

    /// Streams `source` into `key`: visible only if the whole stream was stored, and
    /// nothing left behind otherwise. Returns the number of bytes stored.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        content_type: Option<&str>,
        source: S,
    ) -> Result<u64, PutError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        let mut pending = self.begin_put(key, content_type).await?;
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

    /// Stores the finished file at `file` under `key`. On disk it is moved there, so it
    /// must lie under [`Storage::scratch_dir`] (or anywhere on that filesystem); on S3
    /// it is uploaded, and left where it is.
    pub async fn put_file(
        &self,
        key: &str,
        file: &FsPath,
        content_type: Option<&str>,
    ) -> Result<(), StorageError> {
        let content_type = type_of(key, content_type);
        if let Some(disk) = &self.inner.disk {
            let path = object_path(key)?;
            self.before_commit(key, content_type).await?;
            return disk.move_into_place(file.to_owned(), &path).await;
        }
        let opened = tokio::fs::File::open(file).await?;
        let body = tokio_util::io::ReaderStream::with_capacity(opened, self.inner.block_size);
        match self.put_stream(key, Some(content_type), body).await {
            Ok(_) => Ok(()),
            Err(PutError::Source(e)) => Err(e.into()),
            Err(PutError::Storage(e)) => Err(e),
        }
    }
}
