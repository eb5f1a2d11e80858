//! Expiry of resumable uploads that were never finished: a staging untouched for longer
//! than `tus_expire_after` is removed, bytes, multipart upload and note alike.
//!
//! The stream server owns staging, so it sweeps: every node, every `tus_sweep_every`.
//! No node needs to be elected: a sweep reads the notes under `tus/` (one object per
//! unfinished upload, so a pass costs as much as there are uploads in flight, not
//! videos), skips the uploads a request of this node is working on, and removing what
//! another node removed already is harmless. An upload that another node is appending to
//! is touched by that append, so it is never the oldest; the expiry (24 h by default) is
//! far longer than any append may stall before the listener drops it.

use reel_core::clock::{millis, unix_ms};
use reel_core::ids::VideoId;
use reel_core::storage::keys::TUS_INDEX_PREFIX;

use super::staging::{Staging, StagingError};
use crate::StreamState;

/// Removes every staged upload left untouched for longer than the expiry, as of the
/// server's clock; returns how many were removed.
pub async fn expired(state: &StreamState) -> Result<usize, StagingError> {
    let storage = state.storage();
    let now = state.now_ms();
    let expire_ms = millis(state.tus_expire_after());
    let mut removed = 0;
    for note in storage.list_prefix(TUS_INDEX_PREFIX).await? {
        let Some((video, upload)) = note
            .key
            .strip_prefix(TUS_INDEX_PREFIX)
            .and_then(|rest| rest.split_once('/'))
        else {
            continue;
        };
        let (Ok(video), Some(_lock)) = (VideoId::parse(video), state.tus_locks().try_lock(upload))
        else {
            continue;
        };
        let Some(staging) = Staging::new(storage, video, upload) else {
            continue;
        };
        // A note whose staging is gone (committed, or its video deleted) ages from its
        // own date.
        let touched = staging.last_touched().await?.unwrap_or(note.last_modified);
        if now.saturating_sub(unix_ms(touched)) >= expire_ms {
            staging.delete().await?;
            tracing::info!(%video, upload, "an unfinished resumable upload expired");
            removed += 1;
        }
    }
    Ok(removed)
}
