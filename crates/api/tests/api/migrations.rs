//! Upgrading a database from the schema where sessions were stored by their id
//! (migration 0003): the stored sessions end, since their ids were readable there, and
//! everything else stays; sessions made afterwards are stored by key and work.

use reel_core::db::DbError;
use reel_core::ids::{SessionId, UserId};
use reel_testkit::ScratchDb;
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, AssertSqlSafe};

use crate::helpers::DbKind;

/// The migrations of `backend`, as released.
async fn migrator(backend: DbKind) -> Migrator {
    let name = match backend {
        DbKind::Sqlite => "sqlite",
        DbKind::MySql => "mysql",
        DbKind::Postgres => "postgres",
    };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../core/migrations")
        .join(name);
    Migrator::new(dir).await.expect("the migrations")
}

async fn execute(pool: &AnyPool, sql: String) {
    sqlx::query(AssertSqlSafe(sql))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

async fn stored_sessions_end_at_the_upgrade(backend: DbKind) {
    let scratch = ScratchDb::new(backend).await;
    sqlx::any::install_default_drivers();
    let pool = AnyPool::connect(scratch.url()).await.unwrap();
    migrator(backend).await.run_to(3, &pool).await.unwrap();
    let user = UserId::random();
    let old = SessionId::random();
    execute(
        &pool,
        format!(
            "INSERT INTO users (id, login_name, pwd_hash, create_time) \
             VALUES ('{user}', 'alice', 'x', 1)"
        ),
    )
    .await;
    execute(
        &pool,
        format!(
            "INSERT INTO sessions (session_id, ttl, login_name, user_id) \
             VALUES ('{}', 9000000000000, 'alice', '{user}')",
            old.expose()
        ),
    )
    .await;
    pool.close().await;

    let db = scratch.connect().await;
    let rows: Vec<String> = sqlx::query_scalar("SELECT session_id FROM sessions")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert!(rows.is_empty(), "no readable id survives: {rows:?}");
    assert!(matches!(
        db.session(&old.key()).await,
        Err(DbError::NotFound)
    ));
    assert_eq!(db.user_by_name("alice").await.unwrap().id, user);
    // A new session goes in by key, with its start.
    let new = SessionId::random();
    let record = reel_core::db::SessionRecord {
        key: new.key(),
        user_id: user,
        user_name: "alice".into(),
        expires_at_ms: 2_000,
        created_ms: 1_000,
    };
    db.insert_session(&record).await.unwrap();
    assert_eq!(db.session(&new.key()).await.unwrap(), record);
    db.close().await;
}

#[tokio::test]
async fn stored_sessions_end_at_the_upgrade_on_sqlite() {
    stored_sessions_end_at_the_upgrade(DbKind::Sqlite).await;
}

#[tokio::test]
async fn stored_sessions_end_at_the_upgrade_on_mariadb() {
    stored_sessions_end_at_the_upgrade(DbKind::MySql).await;
}

#[tokio::test]
async fn stored_sessions_end_at_the_upgrade_on_postgres() {
    stored_sessions_end_at_the_upgrade(DbKind::Postgres).await;
}
