//! A staged upload on local disk: one file, appended to, whose size is the offset.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

use super::{AppendError, StagingError};

/// The file of the staged bytes, beside the state.
pub(super) const DATA: &str = "data";
/// Bytes are gathered into blocks this large before one blocking write.
const WRITE_BLOCK: usize = 1024 * 1024;

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> Result<T, StagingError> {
    let done = tokio::task::spawn_blocking(work)
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
    done.map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => StagingError::NotFound,
        _ => StagingError::Storage(e.into()),
    })
}

pub(super) async fn create(data: &Path) -> Result<(), StagingError> {
    let data = data.to_owned();
    blocking(move || {
        if let Some(dir) = data.parent() {
            std::fs::create_dir_all(dir)?;
        }
        File::create(data).map(drop)
    })
    .await
}

/// The bytes stored so far.
pub(super) async fn stored(data: &Path) -> Result<u64, StagingError> {
    let data = data.to_owned();
    blocking(move || Ok(std::fs::metadata(data)?.len())).await
}

pub(super) async fn append<S, E>(data: &Path, offset: u64, source: S) -> Result<u64, AppendError<E>>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
{
    let data = data.to_owned();
    let (mut file, actual) = blocking(move || {
        let file = OpenOptions::new().append(true).open(data)?;
        let len = file.metadata()?.len();
        Ok((file, len))
    })
    .await?;
    if actual != offset {
        return Err(StagingError::OffsetMismatch {
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
                    written += buffer.len() as u64;
                    file = write_block(file, buffer.split().freeze()).await?;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if !buffer.is_empty() {
        written += buffer.len() as u64;
        write_block(file, buffer.freeze()).await?;
    }
    match failure {
        Some(e) => Err(AppendError::Source(e)),
        None => Ok(written),
    }
}

async fn write_block(mut file: File, block: Bytes) -> Result<File, StagingError> {
    blocking(move || {
        file.write_all(&block)?;
        Ok(file)
    })
    .await
}

pub(super) async fn read_prefix(data: &Path, len: u64) -> Result<Bytes, StagingError> {
    let data: PathBuf = data.to_owned();
    let bytes = blocking(move || {
        let mut buf = Vec::new();
        File::open(data)?.take(len).read_to_end(&mut buf)?;
        Ok(buf)
    })
    .await?;
    Ok(Bytes::from(bytes))
}
