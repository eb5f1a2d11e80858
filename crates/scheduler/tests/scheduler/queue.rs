//! The task table on SQLite, MariaDB and PostgreSQL: idempotent enqueue, leases that
//! expire, lease-guarded writes, backoff schedules, and concurrent claims.

use std::collections::HashSet;

use reel_core::db::{Db, DbError, TaskKind, TaskState};
use reel_core::ids::VideoId;

use crate::helpers::new_video;

const T0: i64 = 1_700_000_000_000;

reel_testkit::per_backend!(
    databases,
    reel_testkit::with_db,
    [
        enqueueing_is_idempotent,
        finished_tasks_are_armed_again,
        claims_are_leases_that_expire,
        writes_need_the_current_lease,
        retries_wait_and_releases_do_not_count,
        concurrent_claims_never_share_a_task,
        deleting_a_video_queues_its_deletion_task_once,
        reconciliation_queries_find_what_was_missed
    ]
);

async fn enqueueing_is_idempotent(db: &Db) {
    let video = VideoId::random();
    let first = db
        .enqueue_task(TaskKind::ProcessVideo, video, T0)
        .await
        .unwrap();
    assert_eq!(first.state, TaskState::Pending);
    assert_eq!(first.due_at, T0);
    let again = db
        .enqueue_task(TaskKind::ProcessVideo, video, T0 + 5)
        .await
        .unwrap();
    assert_eq!(again.id, first.id, "one task per kind and video");
    assert_eq!(again.due_at, T0, "a due task is not pushed back");
    let other = db
        .enqueue_task(TaskKind::DeleteVideo, video, T0)
        .await
        .unwrap();
    assert_ne!(other.id, first.id);
    assert_eq!(db.tasks(None, 10).await.unwrap().len(), 2);
}

async fn finished_tasks_are_armed_again(db: &Db) {
    let video = VideoId::random();
    db.enqueue_task(TaskKind::ProcessVideo, video, T0)
        .await
        .unwrap();
    let claimed = db.claim_tasks("a", 1, T0, T0 + 1000).await.unwrap();
    assert!(
        db.fail_task(&claimed[0], "broken", T0 + 1).await.unwrap(),
        "the lease holder settles"
    );
    let rearmed = db
        .enqueue_task(TaskKind::ProcessVideo, video, T0 + 50)
        .await
        .unwrap();
    assert_eq!(rearmed.state, TaskState::Pending);
    assert_eq!(rearmed.attempts, 0);
    assert_eq!(rearmed.last_error, None);
    assert_eq!(rearmed.due_at, T0 + 50);

    // A running task is left to its holder.
    let claimed = db.claim_tasks("a", 1, T0 + 50, T0 + 1000).await.unwrap();
    let running = db
        .enqueue_task(TaskKind::ProcessVideo, video, T0 + 60)
        .await
        .unwrap();
    assert_eq!(running.state, TaskState::Running);
    assert_eq!(running.attempts, 1);
    assert!(db.complete_task(&claimed[0], T0 + 70).await.unwrap());
}

async fn claims_are_leases_that_expire(db: &Db) {
    let video = VideoId::random();
    db.enqueue_task(TaskKind::DeleteVideo, video, T0)
        .await
        .unwrap();
    assert!(
        db.claim_tasks("a", 5, T0 - 1, T0 + 1000)
            .await
            .unwrap()
            .is_empty(),
        "not due yet"
    );
    let a = db.claim_tasks("a", 5, T0, T0 + 1000).await.unwrap();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].video_id, video);
    assert_eq!(a[0].attempts, 1);
    assert_eq!(a[0].lease_until, T0 + 1000);
    let record = db.task(TaskKind::DeleteVideo, video).await.unwrap();
    assert_eq!(record.state, TaskState::Running);
    assert_eq!(record.lease_owner.as_deref(), Some("a"));
    assert!(
        db.claim_tasks("b", 5, T0 + 999, T0 + 2000)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );
    // Renewed, the lease holds longer.
    assert!(db.extend_lease(&a[0], T0 + 1500, T0 + 500).await.unwrap());
    assert!(
        db.claim_tasks("b", 5, T0 + 1200, T0 + 2000)
            .await
            .unwrap()
            .is_empty()
    );
    // Expired, it is taken over, and the takeover counts as another attempt.
    let b = db.claim_tasks("b", 5, T0 + 1500, T0 + 3000).await.unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].attempts, 2);
    assert_ne!(b[0].lease_token, a[0].lease_token);
}

async fn writes_need_the_current_lease(db: &Db) {
    let video = VideoId::random();
    db.enqueue_task(TaskKind::DeleteVideo, video, T0)
        .await
        .unwrap();
    let old = db.claim_tasks("a", 1, T0, T0 + 10).await.unwrap().remove(0);
    let new = db
        .claim_tasks("b", 1, T0 + 10, T0 + 1000)
        .await
        .unwrap()
        .remove(0);
    assert!(!db.extend_lease(&old, T0 + 500, T0 + 11).await.unwrap());
    assert!(!db.complete_task(&old, T0 + 11).await.unwrap());
    assert!(!db.retry_task(&old, T0 + 50, "x", T0 + 11).await.unwrap());
    assert!(!db.fail_task(&old, "x", T0 + 11).await.unwrap());
    assert!(!db.release_task(&old, T0 + 11).await.unwrap());
    assert!(db.complete_task(&new, T0 + 12).await.unwrap());
    let done = db.task(TaskKind::DeleteVideo, video).await.unwrap();
    assert_eq!(done.state, TaskState::Done);
    assert!(
        !db.complete_task(&new, T0 + 13).await.unwrap(),
        "a settled lease is spent"
    );
}

async fn retries_wait_and_releases_do_not_count(db: &Db) {
    let video = VideoId::random();
    db.enqueue_task(TaskKind::ProcessVideo, video, T0)
        .await
        .unwrap();
    let t = db
        .claim_tasks("a", 1, T0, T0 + 100)
        .await
        .unwrap()
        .remove(0);
    assert!(
        db.retry_task(&t, T0 + 5000, "storage down", T0 + 1)
            .await
            .unwrap()
    );
    let waiting = db.task(TaskKind::ProcessVideo, video).await.unwrap();
    assert_eq!(waiting.state, TaskState::Pending);
    assert_eq!(waiting.due_at, T0 + 5000);
    assert_eq!(waiting.last_error.as_deref(), Some("storage down"));
    assert!(
        db.claim_tasks("a", 1, T0 + 4999, T0 + 9999)
            .await
            .unwrap()
            .is_empty()
    );
    let t = db
        .claim_tasks("a", 1, T0 + 5000, T0 + 9999)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(t.attempts, 2);
    assert_eq!(t.last_error.as_deref(), Some("storage down"));
    assert!(db.release_task(&t, T0 + 5001).await.unwrap());
    let released = db.task(TaskKind::ProcessVideo, video).await.unwrap();
    assert_eq!(released.state, TaskState::Pending);
    assert_eq!(released.attempts, 1, "a release gives the attempt back");
    assert_eq!(
        db.tasks(Some(TaskState::Pending), 10).await.unwrap().len(),
        1
    );
    assert!(
        db.tasks(Some(TaskState::Running), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn concurrent_claims_never_share_a_task(db: &Db) {
    for _ in 0..60 {
        db.enqueue_task(TaskKind::DeleteVideo, VideoId::random(), T0)
            .await
            .unwrap();
    }
    let claims = (0..6).map(|i| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = db
                    .claim_tasks(&format!("s{i}"), 4, T0, T0 + 60_000)
                    .await
                    .unwrap();
                if got.is_empty() {
                    break mine;
                }
                mine.extend(got.into_iter().map(|t| t.id));
            }
        })
    });
    let mut seen = HashSet::new();
    for claim in claims {
        for id in claim.await.unwrap() {
            assert!(seen.insert(id), "task {id} was claimed twice");
        }
    }
    assert_eq!(seen.len(), 60, "every task was claimed");
}

async fn deleting_a_video_queues_its_deletion_task_once(db: &Db) {
    let video = new_video(db).await;
    db.delete_video(video, T0).await.unwrap();
    let task = db.task(TaskKind::DeleteVideo, video).await.unwrap();
    assert_eq!((task.state, task.due_at), (TaskState::Pending, T0));
    assert_eq!(db.pending_deletions(10).await.unwrap(), [video]);
    assert!(matches!(
        db.delete_video(video, T0 + 1).await,
        Err(DbError::NotFound)
    ));
    let unknown = VideoId::random();
    assert!(matches!(
        db.delete_video(unknown, T0).await,
        Err(DbError::NotFound)
    ));
    assert_eq!(
        db.tasks(None, 10).await.unwrap().len(),
        1,
        "one task, one fact"
    );

    let claimed = db.claim_tasks("a", 5, T0, T0 + 100).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].video_id, video);
    assert_eq!(
        db.pending_deletions(10).await.unwrap(),
        [video],
        "until done"
    );
    assert!(db.complete_task(&claimed[0], T0 + 1).await.unwrap());
    assert!(db.pending_deletions(10).await.unwrap().is_empty());
}

async fn reconciliation_queries_find_what_was_missed(db: &Db) {
    let waiting = new_video(db).await;
    let queued = new_video(db).await;
    db.enqueue_task(TaskKind::ProcessVideo, queued, T0)
        .await
        .unwrap();
    let found = db.uploads_to_check(0, 10).await.unwrap();
    assert_eq!(
        found,
        [waiting],
        "a video with a pending task is left alone"
    );

    let facts = reel_core::db::MediaFacts {
        size: 10,
        ..Default::default()
    };
    assert!(
        db.finish_processing(waiting, &facts, false, "\"e1\"")
            .await
            .unwrap()
    );
    assert_eq!(db.unprocessed_ready_videos(10).await.unwrap(), [waiting]);
    let state = db.media_state(waiting).await.unwrap().unwrap();
    assert!(!state.processed);
    assert_eq!(state.source_etag.as_deref(), Some("\"e1\""));

    let task = db
        .claim_tasks("a", 5, T0, T0 + 100)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(task.video_id, queued);
    assert!(db.complete_task(&task, T0 + 1).await.unwrap());
    assert_eq!(
        db.prune_done_tasks(T0 + 1).await.unwrap(),
        0,
        "kept while recent"
    );
    assert_eq!(db.prune_done_tasks(T0 + 2).await.unwrap(), 1);
}
