//! An S3-compatible bucket through `object_store`: keys live under an optional prefix,
//! uploads are multipart uploads (invisible until completed, aborted when dropped), and
//! resumable uploads stage full parts in a multipart upload plus a small "tail" object
//! for the bytes that do not fill a part yet.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::stream::{Stream, StreamExt, TryStreamExt};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload};

use super::{
    ByteStream, ObjectInfo, PutError, ResumableStatus, StagedState, StorageError, StorageOptions,
    strong_etag,
};

/// Every part but the last has this size: above S3's 5 MiB minimum, and equal sizes
/// keep stores that demand them (R2) happy.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// The state object of a staged upload.
const STAGED_STATE: &str = "state.json";
/// The object holding staged bytes that do not fill a part yet.
const STAGED_TAIL: &str = "tail";

/// The S3 backend.
pub(super) struct S3Store {
    /// The client.
    store: Arc<AmazonS3>,
    /// The bucket, for descriptions.
    bucket: String,
    /// `""` or a prefix ending in `/` that every key is stored under.
    prefix: String,
}

impl S3Store {
    /// Builds the client from `s3://bucket[/prefix]`, the options, and the usual `AWS_*`
    /// variables; options win over variables.
    pub(super) fn open(url: &str, options: &StorageOptions) -> Result<Self, StorageError> {
        let parsed = url::Url::parse(url)
            .map_err(|e| StorageError::Config(format!("bad S3 URL {url:?}: {e}")))?;
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| StorageError::Config(format!("S3 URL {url:?} names no bucket")))?
            .to_owned();
        let prefix = parsed.path().trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else if super::keys::is_valid(prefix) {
            format!("{prefix}/")
        } else {
            return Err(StorageError::Config(format!("bad S3 prefix {prefix:?}")));
        };
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(&bucket);
        if let Some(endpoint) = &options.s3_endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        if let Some(region) = &options.s3_region {
            builder = builder.with_region(region);
        }
        if let Some(id) = &options.s3_access_key_id {
            builder = builder.with_access_key_id(id);
        }
        if let Some(secret) = &options.s3_secret_access_key {
            builder = builder.with_secret_access_key(secret.expose());
        }
        let store = builder
            .build()
            .map_err(|e| StorageError::Config(e.to_string()))?;
        Ok(Self {
            store: Arc::new(store),
            bucket,
            prefix,
        })
    }

    pub(super) fn describe(&self) -> String {
        format!("S3 bucket {} prefix {:?}", self.bucket, self.prefix)
    }

    fn path(&self, key: &str) -> Result<Path, StorageError> {
        let full = format!("{}{}", self.prefix, key.trim_end_matches('/'));
        Path::parse(&full).map_err(|_| StorageError::BadKey(key.to_owned()))
    }

    fn key_of(&self, path: &Path) -> Option<String> {
        path.as_ref()
            .strip_prefix(self.prefix.as_str())
            .map(str::to_owned)
    }

    fn info(&self, key: String, meta: &object_store::ObjectMeta) -> ObjectInfo {
        let etag = match &meta.e_tag {
            Some(tag) => strong_etag(tag),
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

    pub(super) async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        match self.store.head(&self.path(key)?).await {
            Ok(meta) => Ok(Some(self.info(key.to_owned(), &meta))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        let path = self.path(key)?;
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&path, options).await?;
        Ok(result.into_stream().map_err(io::Error::from).boxed())
    }

    pub(super) async fn read_small(&self, key: &str) -> Result<Bytes, StorageError> {
        Ok(self.store.get(&self.path(key)?).await?.bytes().await?)
    }

    pub(super) async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StorageError> {
        self.store
            .put(&self.path(key)?, PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    pub(super) async fn begin_put(&self, key: &str) -> Result<S3Pending, StorageError> {
        let path = self.path(key)?;
        let id = self.store.create_multipart(&path).await?;
        Ok(S3Pending {
            store: self.store.clone(),
            path,
            id: Some(id),
            parts: Vec::new(),
            buffer: BytesMut::new(),
            written: 0,
        })
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.path(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(super) async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        let listed = self.list_prefix(prefix).await?;
        // A staged upload's multipart upload is not an object: abort it explicitly, or
        // its parts would linger (and be billed) after the video is gone.
        for object in &listed {
            if let Some(staging) = object.key.strip_suffix(STAGED_STATE)
                && staging.contains("/tus/")
            {
                self.abort_staged(staging).await?;
            }
        }
        let paths = listed
            .iter()
            .map(|o| self.path(&o.key))
            .collect::<Result<Vec<_>, _>>()?;
        let count = paths.len() as u64;
        let locations = futures::stream::iter(paths.into_iter().map(Ok)).boxed();
        self.store
            .delete_stream(locations)
            .try_for_each(|_| async { Ok(()) })
            .await?;
        Ok(count)
    }

    pub(super) async fn list_prefix(&self, prefix: &str) -> Result<Vec<ObjectInfo>, StorageError> {
        let base = if prefix.is_empty() && self.prefix.is_empty() {
            None
        } else {
            Some(self.path(prefix)?)
        };
        let metas: Vec<_> = self.store.list(base.as_ref()).try_collect().await?;
        Ok(metas
            .iter()
            .filter_map(|m| Some(self.info(self.key_of(&m.location)?, m)))
            .collect())
    }

    async fn load_state(&self, staging: &str) -> Result<Option<StagedState>, StorageError> {
        match self.read_small(&format!("{staging}{STAGED_STATE}")).await {
            Ok(bytes) => Ok(Some(StagedState::parse(&bytes)?)),
            Err(StorageError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn save_state(&self, staging: &str, state: &StagedState) -> Result<(), StorageError> {
        self.put(&format!("{staging}{STAGED_STATE}"), state.to_bytes())
            .await
    }

    async fn read_tail(&self, staging: &str, state: &StagedState) -> Result<Bytes, StorageError> {
        if state.tail_len == 0 {
            return Ok(Bytes::new());
        }
        let tail = self.read_small(&format!("{staging}{STAGED_TAIL}")).await?;
        let len = usize::try_from(state.tail_len).unwrap_or(usize::MAX);
        if tail.len() < len {
            return Err(StorageError::Corrupt("tail shorter than recorded".into()));
        }
        Ok(tail.slice(..len))
    }

    pub(super) async fn resumable_create(
        &self,
        staging: &str,
        final_key: &str,
        length: u64,
        metadata: &str,
    ) -> Result<(), StorageError> {
        let state = StagedState::new(final_key, length, metadata);
        self.save_state(staging, &state).await
    }

    pub(super) async fn resumable_status(
        &self,
        staging: &str,
    ) -> Result<Option<ResumableStatus>, StorageError> {
        Ok(self.load_state(staging).await?.map(|s| ResumableStatus {
            length: s.length,
            offset: s.parts_bytes + s.tail_len,
            metadata: s.metadata,
        }))
    }

    /// Full parts go to the multipart upload as soon as they fill; when the source ends
    /// or fails, the remainder is saved as the tail object *before* the state that
    /// counts it, so a crash at any point leaves a state whose offset is fully stored.
    pub(super) async fn resumable_append<S, E>(
        &self,
        staging: &str,
        offset: u64,
        source: S,
    ) -> Result<u64, PutError<E>>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
    {
        let mut state = self
            .load_state(staging)
            .await?
            .ok_or(StorageError::NotFound)?;
        let actual = state.parts_bytes + state.tail_len;
        if actual != offset {
            return Err(StorageError::OffsetMismatch {
                expected: offset,
                actual,
            }
            .into());
        }
        let final_path = self.path(&state.final_key)?;
        let mut buffer = BytesMut::from(self.read_tail(staging, &state).await?);
        let mut grew = false;
        let mut failure = None;
        let mut source = std::pin::pin!(source);
        while let Some(item) = source.next().await {
            let bytes = match item {
                Ok(bytes) => bytes,
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            };
            grew |= !bytes.is_empty();
            buffer.extend_from_slice(&bytes);
            while buffer.len() >= PART_SIZE {
                let part = buffer.split_to(PART_SIZE).freeze();
                let id = match &state.multipart_id {
                    Some(id) => id.clone(),
                    None => {
                        let id = self
                            .store
                            .create_multipart(&final_path)
                            .await
                            .map_err(StorageError::from)?;
                        state.multipart_id = Some(id.clone());
                        id
                    }
                };
                let part_id = self
                    .store
                    .put_part(&final_path, &id, state.parts.len(), PutPayload::from(part))
                    .await
                    .map_err(StorageError::from)?;
                state.parts.push(part_id.content_id);
                state.parts_bytes += PART_SIZE as u64;
                state.tail_len = 0;
                self.save_state(staging, &state).await?;
                grew = !buffer.is_empty();
            }
        }
        if grew {
            let len = buffer.len() as u64;
            self.put(&format!("{staging}{STAGED_TAIL}"), buffer.freeze())
                .await?;
            state.tail_len = len;
            self.save_state(staging, &state).await?;
        }
        match failure {
            Some(e) => Err(PutError::Source(e)),
            None => Ok(state.parts_bytes + state.tail_len),
        }
    }

    pub(super) async fn resumable_read_prefix(
        &self,
        staging: &str,
        len: u64,
    ) -> Result<Bytes, StorageError> {
        let state = self
            .load_state(staging)
            .await?
            .ok_or(StorageError::NotFound)?;
        if !state.parts.is_empty() {
            return Err(StorageError::Corrupt(
                "the start of the upload is already in a part".into(),
            ));
        }
        let tail = self.read_tail(staging, &state).await?;
        let len = usize::try_from(len).unwrap_or(usize::MAX).min(tail.len());
        Ok(tail.slice(..len))
    }

    pub(super) async fn resumable_commit(&self, staging: &str) -> Result<(), StorageError> {
        let state = self
            .load_state(staging)
            .await?
            .ok_or(StorageError::NotFound)?;
        let offset = state.parts_bytes + state.tail_len;
        if offset != state.length {
            return Err(StorageError::OffsetMismatch {
                expected: state.length,
                actual: offset,
            });
        }
        let final_path = self.path(&state.final_key)?;
        let tail = self.read_tail(staging, &state).await?;
        match &state.multipart_id {
            None => {
                self.store.put(&final_path, PutPayload::from(tail)).await?;
            }
            Some(id) => {
                let mut parts: Vec<PartId> = state
                    .parts
                    .iter()
                    .map(|c| PartId {
                        content_id: c.clone(),
                    })
                    .collect();
                if !tail.is_empty() {
                    parts.push(
                        self.store
                            .put_part(&final_path, id, parts.len(), PutPayload::from(tail))
                            .await?,
                    );
                }
                self.store
                    .complete_multipart(&final_path, id, parts)
                    .await?;
            }
        }
        self.delete(&format!("{staging}{STAGED_TAIL}")).await?;
        self.delete(&format!("{staging}{STAGED_STATE}")).await
    }

    async fn abort_staged(&self, staging: &str) -> Result<(), StorageError> {
        if let Some(state) = self.load_state(staging).await?
            && let Some(id) = &state.multipart_id
        {
            let final_path = self.path(&state.final_key)?;
            match self.store.abort_multipart(&final_path, id).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    pub(super) async fn resumable_delete(&self, staging: &str) -> Result<(), StorageError> {
        self.abort_staged(staging).await?;
        self.delete(&format!("{staging}{STAGED_TAIL}")).await?;
        self.delete(&format!("{staging}{STAGED_STATE}")).await
    }
}

/// A multipart upload being written; completed at commit, aborted if dropped.
pub(super) struct S3Pending {
    /// The client.
    store: Arc<AmazonS3>,
    /// The destination.
    path: Path,
    /// The multipart upload; `None` once completed or aborted.
    id: Option<String>,
    /// Parts stored so far.
    parts: Vec<PartId>,
    /// Bytes not yet in a part.
    buffer: BytesMut,
    /// Bytes accepted so far.
    written: u64,
}

impl S3Pending {
    pub(super) async fn write(&mut self, bytes: Bytes) -> Result<(), StorageError> {
        self.written += bytes.len() as u64;
        self.buffer.extend_from_slice(&bytes);
        while self.buffer.len() >= PART_SIZE {
            let part = self.buffer.split_to(PART_SIZE).freeze();
            self.put_part(part).await?;
        }
        Ok(())
    }

    async fn put_part(&mut self, part: Bytes) -> Result<(), StorageError> {
        let id = self
            .id
            .as_ref()
            .ok_or_else(|| StorageError::Io(io::Error::other("upload already finished")))?;
        let part_id = self
            .store
            .put_part(&self.path, id, self.parts.len(), PutPayload::from(part))
            .await?;
        self.parts.push(part_id);
        Ok(())
    }

    pub(super) fn written(&self) -> u64 {
        self.written
    }

    pub(super) async fn commit(mut self) -> Result<(), StorageError> {
        if !self.buffer.is_empty() || self.parts.is_empty() {
            let last = self.buffer.split().freeze();
            self.put_part(last).await?;
        }
        let id = self
            .id
            .clone()
            .ok_or_else(|| StorageError::Io(io::Error::other("upload already finished")))?;
        let parts = std::mem::take(&mut self.parts);
        self.store
            .complete_multipart(&self.path, &id, parts)
            .await?;
        self.id = None;
        Ok(())
    }

    pub(super) async fn abort(mut self) {
        if let Some(id) = self.id.take()
            && let Err(e) = self.store.abort_multipart(&self.path, &id).await
        {
            tracing::warn!(error = %e, "could not abort a multipart upload");
        }
    }
}

impl Drop for S3Pending {
    fn drop(&mut self) {
        if let Some(id) = self.id.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            // Dropped mid-upload (the client went away): abort in the background, as
            // nothing can be awaited here.
            let (store, path) = (self.store.clone(), self.path.clone());
            runtime.spawn(async move {
                if let Err(e) = store.abort_multipart(&path, &id).await {
                    tracing::warn!(error = %e, "could not abort a dropped multipart upload");
                }
            });
        }
    }
}
