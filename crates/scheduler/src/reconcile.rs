//! Reconciliation: the periodic pass that makes sure no upload is left unprocessed
//! even when the stream server's notice was lost, and that keeps the task list short.

use reel_core::clock::millis;
use reel_core::storage::keys;

use crate::SchedulerState;
use crate::error::SchedulerError;

/// Videos examined per pass, at most, for each kind of check.
const PASS_LIMIT: u32 = 500;

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Complete uploads that had never been queued, now queued.
    pub queued_uploads: usize,
    /// Videos served unprocessed (no ffmpeg then) queued again now that ffmpeg works.
    pub requeued_unprocessed: usize,
    /// Finished tasks old enough to be forgotten, removed.
    pub pruned: u64,
}

/// One pass: queues every video created within the window that still awaits its
/// upload although the upload is in storage; with ffmpeg, queues the videos that were
/// served as they came; prunes done tasks past their retention.
pub async fn pass(scheduler: &SchedulerState) -> Result<Reconciled, SchedulerError> {
    let config = scheduler.config();
    let now = scheduler.now_ms();
    let since = now.saturating_sub(millis(config.reconcile_window));
    let mut done = Reconciled::default();
    for video in scheduler.db().uploads_to_check(since, PASS_LIMIT).await? {
        if scheduler
            .storage()
            .head(&keys::original(video))
            .await?
            .is_some()
        {
            tracing::warn!(%video, "an upload was never queued for processing; queuing it now");
            scheduler.enqueue_process(video).await?;
            done.queued_uploads += 1;
        }
    }
    if scheduler.processes_uploads().await {
        for video in scheduler.db().unprocessed_ready_videos(PASS_LIMIT).await? {
            tracing::info!(%video, "ffmpeg works now: processing an upload served as it came");
            scheduler.enqueue_process(video).await?;
            done.requeued_unprocessed += 1;
        }
    }
    done.pruned = scheduler
        .db()
        .prune_done_tasks(now.saturating_sub(millis(config.keep_done_for)))
        .await?;
    Ok(done)
}
