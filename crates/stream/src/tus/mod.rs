//! Resumable uploads, tus 1.0.0: core protocol, `creation` and `termination`.
//!
//! `OPTIONS /upload/{vid}/tus` discovers; `POST /upload/{vid}/tus` creates an upload
//! (`Upload-Length` required) and answers its `Location`, `/upload/{vid}/tus/{id}`,
//! which takes `HEAD` (the stored offset), `PATCH` (append at that offset) and
//! `DELETE`. Every request but `OPTIONS` needs the video's upload token. The bytes are
//! staged under `videos/{vid}/tus/{id}/` ([`staging`]); the upload becomes the video's
//! original, with the type sniffed from its first bytes, when its last byte is stored.
//! A `PATCH` runs in its own task, so
//! that when the client goes away every byte it had sent is still stored before the
//! upload is unlocked: the next `HEAD` reports exactly that offset. The router adds
//! `Tus-Resumable: 1.0.0` to every answer of these routes.

/// Where an upload's bytes wait for the last one.
pub mod staging;
/// Removing the uploads that were never finished.
pub mod sweep;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use reel_core::ids::VideoId;
use reel_core::sniff::SNIFF_LEN;
use reel_core::storage::{StorageError, keys};

use crate::StreamState;
use crate::auth::UploadAuth;
use crate::error::StreamError;
use crate::gate::{UploadError, UploadGate};
use crate::upload::upload_finished;
use staging::{AppendError, Staging};

/// The protocol version spoken.
pub const TUS_VERSION: &str = "1.0.0";
/// The extensions implemented.
const TUS_EXTENSIONS: &str = "creation,termination";
/// `PATCH` bodies must have this media type.
const PATCH_CONTENT_TYPE: &str = "application/offset+octet-stream";
/// `Upload-Metadata` longer than this is refused.
const MAX_METADATA_LEN: usize = 4096;

/// One lock per upload, so that `HEAD`, `PATCH` and `DELETE` of one upload never
/// overlap (tus requires that concurrent `PATCH`es cannot corrupt an upload).
#[derive(Default)]
pub struct UploadLocks {
    /// Live locks by upload id; dead entries are swept as the map grows.
    locks: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
}

impl UploadLocks {
    async fn lock(&self, id: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            match locks.get(id).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    if locks.len() >= 1024 {
                        locks.retain(|_, weak| weak.strong_count() > 0);
                    }
                    let lock = Arc::new(tokio::sync::Mutex::new(()));
                    locks.insert(id.to_owned(), Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// The lock of `id` if nobody holds or awaits it, else `None`.
    fn try_lock(&self, id: &str) -> Option<tokio::sync::OwnedMutexGuard<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        let lock = match locks.get(id).and_then(Weak::upgrade) {
            Some(_) => return None,
            None => {
                let lock = Arc::new(tokio::sync::Mutex::new(()));
                locks.insert(id.to_owned(), Arc::downgrade(&lock));
                lock
            }
        };
        lock.try_lock_owned().ok()
    }
}

fn require_version(headers: &HeaderMap) -> Result<(), StreamError> {
    match headers.get("tus-resumable").and_then(|v| v.to_str().ok()) {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(StreamError::TusVersion),
    }
}

fn number(headers: &HeaderMap, name: &str) -> Result<Option<u64>, StreamError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| StreamError::BadRequest(format!("{name} must be a number")))
        })
        .transpose()
}

fn staging(state: &StreamState, video: VideoId, upload: &str) -> Result<Staging, StreamError> {
    let well_formed = upload.len() == 32 && upload.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed
        .then(|| Staging::new(state.storage(), video, upload))
        .flatten()
        .ok_or(StreamError::NotFound)
}

/// The staged upload a `HEAD` or `DELETE` names, locked for the request.
async fn locked(
    state: &StreamState,
    video: VideoId,
    upload: &str,
    headers: &HeaderMap,
) -> Result<(Staging, tokio::sync::OwnedMutexGuard<()>), StreamError> {
    require_version(headers)?;
    let staged = staging(state, video, upload)?;
    Ok((staged, state.tus_locks().lock(upload).await))
}

/// `OPTIONS`: what this server supports; no token needed.
pub async fn options(State(state): State<StreamState>) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert("tus-version", HeaderValue::from_static(TUS_VERSION));
    h.insert("tus-extension", HeaderValue::from_static(TUS_EXTENSIONS));
    h.insert("tus-max-size", HeaderValue::from(state.max_upload_bytes()));
    response
}

/// `POST /upload/{vid}/tus`: creates an upload of `Upload-Length` bytes.
#[tracing::instrument(skip_all, fields(video = %auth.video))]
pub async fn create(
    State(state): State<StreamState>,
    auth: UploadAuth,
    headers: HeaderMap,
) -> Result<Response, StreamError> {
    require_version(&headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(StreamError::BadRequest(
            "Upload-Defer-Length is not supported; send Upload-Length".into(),
        ));
    }
    let length = number(&headers, "upload-length")?
        .ok_or_else(|| StreamError::BadRequest("Upload-Length is required".into()))?;
    let limit = auth.limit(state.max_upload_bytes());
    if length > limit.bytes {
        return Err(limit.refusal());
    }
    if length == 0 {
        return Err(StreamError::NotVideo);
    }
    let metadata = match headers.get("upload-metadata") {
        None => String::new(),
        Some(v) => v
            .to_str()
            .ok()
            .filter(|m| m.len() <= MAX_METADATA_LEN)
            .ok_or_else(|| StreamError::BadRequest("Upload-Metadata is malformed".into()))?
            .to_owned(),
    };
    let id = uuid::Uuid::new_v4().simple().to_string();
    staging(&state, auth.video, &id)?
        .create(&keys::original(auth.video), length, &metadata)
        .await?;
    let mut location = format!("/upload/{}/tus/{id}", auth.video);
    if let Some(token) = &auth.query_token {
        location.push_str("?token=");
        location.push_str(token);
    }
    tracing::info!(upload = %id, length, "resumable upload created");
    let mut response = StatusCode::CREATED.into_response();
    response.headers_mut().insert(
        header::LOCATION,
        HeaderValue::try_from(location)
            .map_err(|_| StreamError::BadRequest("token is not URL-safe".into()))?,
    );
    Ok(response)
}

/// `HEAD /upload/{vid}/tus/{id}`: the stored offset.
pub async fn status(
    State(state): State<StreamState>,
    auth: UploadAuth,
    Path((_, upload)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, StreamError> {
    let (staged, _lock) = locked(&state, auth.video, &upload, &headers).await?;
    let status = staged.status().await?.ok_or(StreamError::NotFound)?;
    let mut response = StatusCode::OK.into_response();
    let h = response.headers_mut();
    h.insert("upload-offset", HeaderValue::from(status.offset));
    h.insert("upload-length", HeaderValue::from(status.length));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(metadata) = HeaderValue::from_str(&status.metadata)
        && !status.metadata.is_empty()
    {
        h.insert("upload-metadata", metadata);
    }
    Ok(response)
}

/// `PATCH /upload/{vid}/tus/{id}`: appends the body at `Upload-Offset`.
#[tracing::instrument(skip_all, fields(video = tracing::field::Empty, upload = %upload))]
pub async fn append(
    State(state): State<StreamState>,
    auth: Result<UploadAuth, StreamError>,
    Path((_, upload)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, StreamError> {
    let (auth, body) = UploadAuth::or_refuse(auth, body).await?;
    require_version(&headers)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(PATCH_CONTENT_TYPE) {
        return Err(StreamError::WrongMediaType(format!(
            "PATCH bodies must be {PATCH_CONTENT_TYPE}"
        )));
    }
    let claimed = number(&headers, "upload-offset")?
        .ok_or_else(|| StreamError::BadRequest("Upload-Offset is required".into()))?;
    let staged = staging(&state, auth.video, &upload)?;
    let lock = state.tus_locks().lock(&upload).await;
    let status = staged.status().await?.ok_or(StreamError::NotFound)?;
    if claimed != status.offset {
        return Err(StreamError::OffsetConflict {
            claimed,
            stored: status.offset,
        });
    }
    if let Some(declared) = number(&headers, "content-length")?
        && claimed + declared > status.length
    {
        return Err(StreamError::TooLarge {
            limit: status.length,
        });
    }
    let prefix = if claimed > 0 && claimed < SNIFF_LEN as u64 {
        staged.read_prefix(claimed).await?
    } else {
        Bytes::new()
    };
    let source = body
        .into_data_stream()
        .map_err(|e| UploadError::Interrupted(e.to_string()))
        .boxed();
    let gate = UploadGate::new(source, status.length, claimed, prefix, Some(status.length));
    let sniffed = gate.detected();
    let video = auth.video;
    let task_state = state.clone();
    // Owned by a task, not by this handler: if the client goes away the handler is
    // dropped, but the bytes received are still stored before the lock is released.
    let appended = tokio::spawn(async move {
        let _lock = lock;
        match staged.append(claimed, gate, &sniffed).await {
            Ok(offset) if offset == status.length => {
                // A video deleted while its upload was staged gets no original.
                if let Err(e) = task_state.refuse_deleted_now(video).await {
                    staged.delete().await?;
                    return Err(e);
                }
                staged.commit().await?;
                upload_finished(&task_state, video).await;
                tracing::info!(length = offset, "resumable upload complete");
                Ok(offset)
            }
            Ok(offset) => Ok(offset),
            Err(AppendError::Source(UploadError::NotVideo)) => {
                staged.delete().await?;
                Err(StreamError::NotVideo)
            }
            Err(AppendError::Source(e)) => Err(e.into()),
            Err(AppendError::Staging(e)) => Err(e.into()),
        }
    })
    .await
    .map_err(|e| StreamError::Storage(StorageError::Io(std::io::Error::other(e))))?;
    let offset = appended?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert("upload-offset", HeaderValue::from(offset));
    Ok(response)
}

/// `DELETE /upload/{vid}/tus/{id}`: discards the upload.
pub async fn terminate(
    State(state): State<StreamState>,
    auth: UploadAuth,
    Path((_, upload)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, StreamError> {
    let (staged, _lock) = locked(&state, auth.video, &upload, &headers).await?;
    if staged.status().await?.is_none() {
        return Err(StreamError::NotFound);
    }
    staged.delete().await?;
    tracing::info!(video = %auth.video, upload = %upload, "resumable upload terminated");
    Ok(StatusCode::NO_CONTENT.into_response())
}
