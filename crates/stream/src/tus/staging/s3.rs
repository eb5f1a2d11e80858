//! A staged upload on S3: full parts in a multipart upload of the final key, the rest
//! in a `tail` object, both counted by the state.

use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use reel_core::storage::multipart::{MultipartUpload, RECORD_SUFFIX};

use super::{AppendError, Staging, StagingError, State};
use crate::sniff::Container;

/// Every part but the last has this size: above S3's 5 MiB minimum, and equal sizes
/// keep stores that demand them (R2) happy.
const PART_SIZE: usize = 8 * 1024 * 1024;
/// The object holding staged bytes that do not fill a part yet.
const TAIL: &str = "tail";

impl Staging {
    fn record(&self) -> String {
        self.key(&format!("upload{RECORD_SUFFIX}"))
    }

    async fn read_tail(&self, state: &State) -> Result<Bytes, StagingError> {
        if state.tail_len == 0 {
            return Ok(Bytes::new());
        }
        let tail = self.storage.read_small(&self.key(TAIL)).await?;
        let len = usize::try_from(state.tail_len).unwrap_or(usize::MAX);
        if tail.len() < len {
            return Err(StagingError::Corrupt("tail shorter than recorded".into()));
        }
        Ok(tail.slice(..len))
    }

    /// The multipart upload the parts go to, started with the first full part.
    async fn upload(&self, state: &State) -> Result<MultipartUpload, StagingError> {
        let record = self.record();
        match self.storage.multipart(&record).await? {
            Some(upload) => Ok(upload),
            None if state.parts.is_empty() => Ok(self
                .storage
                .start_multipart(&record, &state.final_key, state.content_type.as_deref())
                .await?),
            None => Err(StagingError::Corrupt(
                "the multipart upload holding the stored parts is gone".into(),
            )),
        }
    }
}

/// Full parts go to the multipart upload as soon as they fill; when the source ends or
/// fails, the remainder is saved as the tail object *before* the state that counts it,
/// so a crash at any point leaves a state whose offset is fully stored.
pub(super) async fn append<S, E>(
    staging: &Staging,
    state: &mut State,
    offset: u64,
    source: S,
    sniffed: &OnceLock<Container>,
) -> Result<u64, AppendError<E>>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
{
    let actual = state.parts_bytes + state.tail_len;
    if actual != offset {
        return Err(StagingError::OffsetMismatch {
            expected: offset,
            actual,
        }
        .into());
    }
    let mut buffer = BytesMut::from(staging.read_tail(state).await?);
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
            state.learn_type(sniffed);
            let upload = staging.upload(state).await?;
            let part = buffer.split_to(PART_SIZE).freeze();
            let id = staging
                .storage
                .put_part(&upload, state.parts.len(), part)
                .await?;
            state.parts.push(id);
            state.parts_bytes += PART_SIZE as u64;
            state.tail_len = 0;
            staging.save(state).await?;
            grew = !buffer.is_empty();
        }
    }
    if grew {
        let len = buffer.len() as u64;
        staging
            .storage
            .put(&staging.key(TAIL), buffer.freeze())
            .await?;
        state.tail_len = len;
        state.learn_type(sniffed);
        staging.save(state).await?;
    }
    match failure {
        Some(e) => Err(AppendError::Source(e)),
        None => Ok(state.parts_bytes + state.tail_len),
    }
}

pub(super) async fn read_prefix(
    staging: &Staging,
    state: &State,
    len: u64,
) -> Result<Bytes, StagingError> {
    if !state.parts.is_empty() {
        return Err(StagingError::Corrupt(
            "the start of the upload is already in a part".into(),
        ));
    }
    let tail = staging.read_tail(state).await?;
    let len = usize::try_from(len).unwrap_or(usize::MAX).min(tail.len());
    Ok(tail.slice(..len))
}

/// Completes the multipart upload with the tail as its last part, or stores the tail
/// alone when the upload never filled a part.
pub(super) async fn commit(staging: &Staging, state: &State) -> Result<(), StagingError> {
    let tail = staging.read_tail(state).await?;
    let storage = &staging.storage;
    if state.parts.is_empty() {
        let mut put = storage
            .begin_put(&state.final_key, state.content_type.as_deref())
            .await?;
        put.write(tail).await?;
        put.commit().await?;
        return Ok(());
    }
    let upload = staging.upload(state).await?;
    let mut parts = state.parts.clone();
    if !tail.is_empty() {
        parts.push(storage.put_part(&upload, parts.len(), tail).await?);
    }
    storage
        .complete_multipart(&staging.record(), &upload, &parts)
        .await?;
    Ok(())
}
