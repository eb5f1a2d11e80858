//! Reading objects: ranged reads, and objects opened with their metadata and type.

use std::io;
use std::ops::Range;

use futures::stream::{StreamExt, TryStreamExt};
use object_store::{Attribute, GetOptions, GetRange, GetResult, GetResultPayload, ObjectStore};

use super::{ByteStream, OCTET_STREAM, ObjectInfo, Storage, StorageError, disk, info, object_path};

/// An object opened for reading: what storage knows of it now, its bytes on demand. On
/// disk the file is already open, so a playback costs one blocking call to open and stat
/// it and then only the reads.
pub struct OpenObject {
    pub info: ObjectInfo,
    /// Its media type (see the module documentation).
    pub content_type: String,
    source: Source,
}

enum Source {
    File(std::fs::File),
    Store(Storage),
}

impl OpenObject {
    /// Streams bytes `range`, which must lie within the object's size.
    pub async fn read_range(self, range: Range<u64>) -> Result<ByteStream, StorageError> {
        match self.source {
            Source::File(file) => Ok(disk::file_stream(file, range)),
            Source::Store(storage) => storage.read_range(&self.info.key, range).await,
        }
    }
}

impl Storage {
    /// Opens the first of `keys` that exists, or `None` when none does.
    pub async fn open_first(&self, keys: &[String]) -> Result<Option<OpenObject>, StorageError> {
        for key in keys {
            if let Some(object) = self.open_object(key).await? {
                return Ok(Some(object));
            }
        }
        Ok(None)
    }

    async fn open_object(&self, key: &str) -> Result<Option<OpenObject>, StorageError> {
        let path = object_path(key)?;
        // On disk `head` still opens the file, and hands it over; on S3 it is a HEAD.
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let (opened, recorded) = tokio::join!(
            self.inner.store.get_opts(&path, options),
            self.recorded_type(key),
        );
        let opened = match opened {
            Ok(opened) => opened,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let stored = match crate::media_type::by_extension(key) {
            Some(known) => Some(known.to_owned()),
            None if self.inner.disk.is_some() => recorded?,
            None => opened
                .attributes
                .get(&Attribute::ContentType)
                .map(|v| v.to_string()),
        };
        let content_type = stored.unwrap_or_else(|| OCTET_STREAM.to_owned());
        let source = match opened.payload {
            GetResultPayload::File(file, _) => Source::File(file),
            GetResultPayload::Stream(_) => Source::Store(self.clone()),
        };
        Ok(Some(OpenObject {
            info: info(key.to_owned(), &opened.meta),
            content_type,
            source,
        }))
    }

    /// The type recorded beside an extension-less object on disk.
    async fn recorded_type(&self, key: &str) -> Result<Option<String>, StorageError> {
        match &self.inner.disk {
            Some(disk) if crate::media_type::by_extension(key).is_none() => {
                disk.recorded_type(&self.inner.store, key).await
            }
            _ => Ok(None),
        }
    }

    /// Streams bytes `range` of the object; the range must lie within its size.
    pub async fn read_range(
        &self,
        key: &str,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        let path = object_path(key)?;
        if range.is_empty() {
            return Ok(futures::stream::empty().boxed());
        }
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let got = self.inner.store.get_opts(&path, options).await?;
        Ok(byte_stream(got))
    }
}

/// The bytes of a ranged get: read from the open file on disk, streamed otherwise.
fn byte_stream(got: GetResult) -> ByteStream {
    match got.payload {
        GetResultPayload::File(file, _) => disk::file_stream(file, got.range),
        GetResultPayload::Stream(stream) => stream.map_err(io::Error::from).boxed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StorageOptions;

    #[tokio::test]
    async fn local_objects_open_as_files_read_through_the_page_cache_path() {
        let dir = tempfile::tempdir().unwrap();
        let options = StorageOptions {
            data_dir: dir.path().to_owned(),
            ..StorageOptions::default()
        };
        let storage = Storage::open(&options).await.unwrap();
        let key = "videos/v/original".to_owned();
        storage
            .put(&key, bytes::Bytes::from_static(b"bytes"))
            .await
            .unwrap();
        let object = storage.open_first(&[key]).await.unwrap().unwrap();
        assert!(
            matches!(object.source, Source::File(_)),
            "an open file, not a stream of the store"
        );
        let read: Vec<bytes::Bytes> = object
            .read_range(1..4)
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(read.concat(), b"yte");
    }
}
