//! Upgrading a database that has deletions waiting in the released schema (migration
//! 0002, where the API wrote them to `video_del_rec`): each becomes a deletion task,
//! none is lost, and the old table goes. The fixtures hold the released text of the
//! migrations, so the test also shows that a database migrated with it still starts
//! after their comments were reworded. And each release's data
//! (`crates/core/tests/fixtures/released/<backend>/data/<release>.sql`, a site as that
//! release left it) upgrades to the newest schema with nothing lost.

use reel_core::db::{Db, DbError, PageCursor, TaskKind, TaskState, VideoFilter};
use reel_core::ids::{SessionId, VideoId};
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

/// The fixture of each release for `backend`, with the schema version it was taken at
/// (its first line, `-- schema: N`).
fn released_fixtures(backend: DbKind) -> Vec<(String, i64, String)> {
    let name = match backend {
        DbKind::Sqlite => "sqlite",
        DbKind::MySql => "mysql",
        DbKind::Postgres => "postgres",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures/released")
        .join(name)
        .join("data");
    let mut fixtures: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    fixtures.sort();
    fixtures
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let version = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("-- schema: "))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{}: no `-- schema: N` line", path.display()));
            (path.display().to_string(), version, text)
        })
        .collect()
}

/// Every statement of a fixture, one at a time (the drivers differ on several at once).
async fn load_fixture(pool: &AnyPool, text: &str) {
    let sql: String = text
        .lines()
        .filter(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        execute(pool, statement.trim_end_matches(';').to_owned()).await;
    }
}

async fn released_data_survives_the_upgrade(backend: DbKind) {
    let fixtures = released_fixtures(backend);
    assert!(!fixtures.is_empty(), "a fixture per release");
    for (name, version, text) in fixtures {
        let scratch = ScratchDb::new(backend).await;
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(scratch.url()).await.unwrap();
        migrator(backend)
            .await
            .run_to(version, &pool)
            .await
            .unwrap();
        load_fixture(&pool, &text).await;
        pool.close().await;
        let db = scratch.connect().await;
        the_first_release_is_all_there(&db)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        db.close().await;
    }
}

/// What the 0.1.0 fixture holds, read through today's repository.
async fn the_first_release_is_all_there(db: &Db) -> Result<(), String> {
    let video = |s: &str| s.parse::<VideoId>().unwrap();
    let alice = db.user_by_name("alice").await.map_err(|e| e.to_string())?;
    let bob = db.user_by_name("bob").await.map_err(|e| e.to_string())?;
    assert!(alice.pwd_hash.starts_with("$argon2id$"));
    let all = db
        .videos_by_author(alice.id, VideoFilter::Owner, &PageCursor::start(), 10)
        .await
        .map_err(|e| e.to_string())?;
    let names: Vec<_> = all.items.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["Still uploading", "Holiday"]);
    let holiday = db
        .video(video("2d2a7bac-3e4f-4061-8cbd-2e3f4a5b6c7d"))
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(holiday.status.as_str(), "ready");
    assert_eq!(
        (holiday.size, holiday.duration_ms),
        (Some(1_048_576), Some(2_000))
    );
    assert_eq!((holiday.width, holiday.height), (Some(320), Some(240)));
    assert_eq!(holiday.video_codec.as_deref(), Some("h264"));
    assert!(holiday.processed);
    assert_eq!(holiday.display_ctime, "Nov 14 2023, 22:13:20");
    let broken = db
        .video(video("4f4c9dce-5061-4283-aedf-4a5b6c7d8e9f"))
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(broken.author_id, bob.id);
    assert_eq!(broken.failure.as_deref(), Some("not a video"));
    let comments = db
        .comments_of(holiday.id, false, &PageCursor::start(), 10)
        .await
        .map_err(|e| e.to_string())?;
    let texts: Vec<_> = comments.items.iter().map(|c| c.content.as_str()).collect();
    assert_eq!(texts, ["Thanks, Bob", "Nice!"]);
    assert_eq!(comments.items[1].author_id, bob.id);
    // Migration 0004 stores sessions by the hash of their id and ended the ones stored
    // readable before: their users log in once more.
    let released = SessionId::parse("0123456789abcdef0123456789abcdef").unwrap();
    assert!(matches!(
        db.session(&released.key()).await,
        Err(DbError::NotFound)
    ));
    let deleted = video("8d8091a2-94a5-46c7-a213-8e9fa0b1c2d3");
    let deletion = db
        .task(TaskKind::DeleteVideo, deleted)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(
        deletion.state,
        TaskState::Pending,
        "the deletion record became a task"
    );
    let processed = db
        .task(TaskKind::ProcessVideo, holiday.id)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(processed.state, TaskState::Done);
    Ok(())
}

#[tokio::test]
async fn released_data_survives_the_upgrade_on_sqlite() {
    released_data_survives_the_upgrade(DbKind::Sqlite).await;
}

#[tokio::test]
async fn released_data_survives_the_upgrade_on_mariadb() {
    released_data_survives_the_upgrade(DbKind::MySql).await;
}

#[tokio::test]
async fn released_data_survives_the_upgrade_on_postgres() {
    released_data_survives_the_upgrade(DbKind::Postgres).await;
}
