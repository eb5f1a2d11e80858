//! Upgrading a database that has deletions waiting in the released schema (migration
//! 0002, where the API wrote them to `video_del_rec`): each becomes a deletion task,
//! none is lost, and the old table goes. The fixtures hold the released text of the
//! migrations, so the test also shows that a database migrated with it still starts
//! after their comments were reworded.

use reel_core::db::{Db, TaskKind, TaskState};
use reel_core::ids::VideoId;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, AssertSqlSafe};

use crate::helpers::{DbKind, ScratchDb};

/// The migrations of `backend` as the first release applied them.
async fn migrator(backend: DbKind) -> Migrator {
    let name = match backend {
        DbKind::Sqlite => "sqlite",
        DbKind::MySql => "mysql",
        DbKind::Postgres => "postgres",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/released")
        .join(name);
    Migrator::new(dir).await.expect("the migrations")
}

async fn execute(pool: &AnyPool, sql: String) {
    sqlx::query(AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn pending_deletions_survive_the_upgrade(backend: DbKind) {
    let scratch = ScratchDb::new(backend).await;
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(scratch.url()).await.unwrap();
    migrator(backend).await.run_to(2, &pool).await.unwrap();
    let waiting = [VideoId::random(), VideoId::random()];
    let (queued, failed) = (VideoId::random(), VideoId::random());
    for (i, video) in waiting.iter().chain([&queued, &failed]).enumerate() {
        let at = 1_000 + i as i64;
        execute(
            &pool,
            format!("INSERT INTO video_del_rec (video_id, create_time) VALUES ('{video}', {at})"),
        )
        .await;
    }
    // One record already has its task, one a task that gave up: they stay as they are.
    for (video, state, attempts) in [(queued, "running", 1), (failed, "failed", 5)] {
        execute(
            &pool,
            format!(
                "INSERT INTO tasks (id, kind, video_id, state, attempts, due_at, create_time, \
                 update_time) VALUES ('{}', 'delete', '{video}', '{state}', {attempts}, 5, 5, 5)",
                VideoId::random()
            ),
        )
        .await;
    }
    pool.close().await;

    let db = scratch.connect().await;
    for (i, video) in waiting.iter().enumerate() {
        let task = db.task(TaskKind::DeleteVideo, *video).await.unwrap();
        assert_eq!(task.state, TaskState::Pending);
        assert_eq!((task.attempts, task.due_at), (0, 1_000 + i as i64));
    }
    let running = db.task(TaskKind::DeleteVideo, queued).await.unwrap();
    assert_eq!((running.state, running.attempts), (TaskState::Running, 1));
    let gave_up = db.task(TaskKind::DeleteVideo, failed).await.unwrap();
    assert_eq!((gave_up.state, gave_up.attempts), (TaskState::Failed, 5));
    assert_eq!(db.tasks(None, 100).await.unwrap().len(), 4);
    let mut pending = db.pending_deletions(10).await.unwrap();
    pending.sort();
    let mut all = vec![waiting[0], waiting[1], queued, failed];
    all.sort();
    assert_eq!(pending, all);
    assert!(
        sqlx::query("SELECT video_id FROM video_del_rec")
            .fetch_all(db.pool())
            .await
            .is_err(),
        "the old table is gone"
    );
    claim_all(&db).await;
    db.close().await;
}

/// The migrated tasks are claimable like any other.
async fn claim_all(db: &Db) {
    let claimed = db.claim_tasks("a", 10, 10_000, 20_000).await.unwrap();
    assert_eq!(
        claimed.len(),
        3,
        "both new tasks, and the running one's expired lease"
    );
}

#[tokio::test]
async fn pending_deletions_survive_the_upgrade_on_sqlite() {
    pending_deletions_survive_the_upgrade(DbKind::Sqlite).await;
}

#[tokio::test]
async fn pending_deletions_survive_the_upgrade_on_mariadb() {
    pending_deletions_survive_the_upgrade(DbKind::MySql).await;
}

#[tokio::test]
async fn pending_deletions_survive_the_upgrade_on_postgres() {
    pending_deletions_survive_the_upgrade(DbKind::Postgres).await;
}
