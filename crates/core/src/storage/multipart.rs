//! Multipart uploads continued across requests and processes: S3's way of assembling a
//! large object from parts sent at different times, by whichever node the client comes
//! back to. Each upload is noted in a small object, its *record* (a key ending in
//! [`RECORD_SUFFIX`]), written when the upload starts and removed when it completes or
//! is aborted, so that deleting the folder that holds the record
//! ([`Storage::delete_prefix`]) aborts the upload too rather than leaving its parts
//! stored (and billed). Local disk has no such uploads: appending to a file does the
//! same there.

use std::sync::Arc;

use bytes::Bytes;
use object_store::multipart::{MultipartStore, PartId};
use object_store::{PutMultipartOptions, PutPayload};
use serde::{Deserialize, Serialize};

use super::{Storage, StorageError, keys, object_path, write};

/// Records of multipart uploads end with this.
pub const RECORD_SUFFIX: &str = ".multipart";

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultipartUpload {
    /// The object it becomes when completed.
    pub key: String,
    /// S3's id of the upload.
    pub upload_id: String,
}

/// Whether `key` is the record of a multipart upload.
pub fn is_record(key: &str) -> bool {
    key.ends_with(RECORD_SUFFIX)
}

impl Storage {
    /// Whether this store has multipart uploads (S3 does, disk does not).
    pub fn has_multipart(&self) -> bool {
        self.inner.multipart.is_some()
    }

    fn multipart_store(&self) -> Result<&Arc<dyn MultipartStore>, StorageError> {
        self.inner
            .multipart
            .as_ref()
            .ok_or(StorageError::Unsupported("multipart uploads"))
    }

    /// The upload noted in `record`, if one is in progress.
    pub async fn multipart(&self, record: &str) -> Result<Option<MultipartUpload>, StorageError> {
        check_record(record)?;
        match self.read_small(record).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StorageError::Corrupt(format!("{record}: {e}"))),
            Err(StorageError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Starts a multipart upload to `key`, noted in `record`; the object will have
    /// `content_type` unless its extension says otherwise.
    pub async fn start_multipart(
        &self,
        record: &str,
        key: &str,
        content_type: Option<&str>,
    ) -> Result<MultipartUpload, StorageError> {
        check_record(record)?;
        let options = PutMultipartOptions {
            attributes: self.attributes(write::type_of(key, content_type)),
            ..PutMultipartOptions::default()
        };
        let upload_id = self
            .multipart_store()?
            .create_multipart_opts(&object_path(key)?, options)
            .await?;
        let upload = MultipartUpload {
            key: key.to_owned(),
            upload_id,
        };
        let noted = serde_json::to_vec(&upload).expect("a record serialises");
        self.put(record, Bytes::from(noted)).await?;
        Ok(upload)
    }

    /// Stores part `index` (from 0) of `upload`; returns the id that completion needs.
    /// Every part but the last must be at least 5 MiB.
    pub async fn put_part(
        &self,
        upload: &MultipartUpload,
        index: usize,
        bytes: Bytes,
    ) -> Result<String, StorageError> {
        let part = self
            .multipart_store()?
            .put_part(
                &object_path(&upload.key)?,
                &upload.upload_id,
                index,
                PutPayload::from(bytes),
            )
            .await?;
        Ok(part.content_id)
    }

    /// Makes `upload` the object under its key, from `parts` in order, and removes its
    /// record.
    pub async fn complete_multipart(
        &self,
        record: &str,
        upload: &MultipartUpload,
        parts: &[String],
    ) -> Result<(), StorageError> {
        let parts = parts
            .iter()
            .map(|id| PartId {
                content_id: id.clone(),
            })
            .collect();
        self.multipart_store()?
            .complete_multipart(&object_path(&upload.key)?, &upload.upload_id, parts)
            .await?;
        self.delete(record).await
    }

    /// Discards `upload` and its parts, and removes its record.
    pub async fn abort_multipart(
        &self,
        record: &str,
        upload: &MultipartUpload,
    ) -> Result<(), StorageError> {
        let aborted = self
            .multipart_store()?
            .abort_multipart(&object_path(&upload.key)?, &upload.upload_id)
            .await;
        match aborted {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.delete(record).await
    }

    /// Aborts the upload noted in `record`, if any.
    pub(super) async fn abort_recorded(&self, record: &str) -> Result<(), StorageError> {
        match self.multipart(record).await? {
            Some(upload) => self.abort_multipart(record, &upload).await,
            None => Ok(()),
        }
    }
}

fn check_record(record: &str) -> Result<(), StorageError> {
    if is_record(record) && keys::is_valid(record) {
        Ok(())
    } else {
        Err(StorageError::BadKey(record.to_owned()))
    }
}
