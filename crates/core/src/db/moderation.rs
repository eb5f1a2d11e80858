//! What moderators do to videos: hide them, and the audit of deletions they make
//! through the ordinary endpoints.

use super::audit::{self, Actor, Audited, TargetKind};
use super::{Db, DbError, TaskKind, VideoRecord};

impl Db {
    /// Hides a video from everyone but its owner and the staff (or shows it again), and
    /// records it in the audit log and queues the task that tells the stream servers, in
    /// one transaction.
    pub async fn set_video_hidden(
        &self,
        video: &VideoRecord,
        hidden: bool,
        actor: &Actor<'_>,
    ) -> Result<(), DbError> {
        let mut tx = self.pool().begin().await?;
        let changed = sqlx::query(self.sql("UPDATE video_info SET hidden = ? WHERE id = ?"))
            .bind(i64::from(hidden))
            .bind(video.id.to_string())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if changed == 0 {
            return Err(DbError::NotFound);
        }
        let what = Audited {
            action: if hidden { "hide_video" } else { "unhide_video" },
            kind: TargetKind::Video,
            target: &video.name,
            target_id: Some(video.id.to_string()),
            detail: Some(format!("by {}", video.author)),
        };
        audit::record(&mut tx, self.backend(), actor, what).await?;
        super::tasks::enqueue(
            &mut tx,
            self.backend(),
            TaskKind::SyncState,
            video.id,
            actor.now_ms,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
