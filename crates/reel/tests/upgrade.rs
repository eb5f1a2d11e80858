//! Migrations only move forward: on a database a newer reel has upgraded (it holds a
//! migration this build does not know), `reel serve` and `reel migrate` refuse to
//! start, saying why and what to do, and `reel doctor` reports it; the database is
//! left as it was.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use reel_testkit::{DbKind, ScratchDb, per_backend};

/// A migration version far past any this build has.
const FUTURE: i64 = 99_990_001;

/// Runs `reel ARGS` and waits for it to exit, killing it past a deadline: a `reel
/// serve` that does not refuse would run forever.
fn exits(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reel runs");
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let waiter = std::thread::spawn(move || child.wait_with_output().unwrap());
    while !waiter.is_finished() {
        if Instant::now() > deadline {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("reel {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    waiter.join().unwrap()
}

async fn on(backend: DbKind, test: impl AsyncFnOnce(DbKind)) {
    test(backend).await;
}

per_backend!(databases, crate::on, [a_newer_database_is_refused]);

async fn a_newer_database_is_refused(backend: DbKind) {
    let scratch = ScratchDb::new(backend).await;
    let db = scratch.connect().await;
    let known = backend.latest_schema_version();
    sqlx::query(db.sql(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, 'from a newer reel', TRUE, ?, 0)",
    ))
    .bind(FUTURE)
    .bind(vec![0_u8; 48])
    .execute(db.pool())
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let site = ["--data-dir", data, "--database-url", scratch.url()];

    let serve = exits(&[&["serve", "--listen", "127.0.0.1:0"], &site[..]].concat());
    let stderr = String::from_utf8_lossy(&serve.stderr);
    assert!(!serve.status.success(), "serve refuses: {stderr}");
    let expected = format!(
        "the database was upgraded by a newer reel: it has schema version {FUTURE}, this reel \
         knows versions up to {known}"
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("restore a backup"), "{stderr}");

    let migrate = exits(&[
        "migrate",
        "--data-dir",
        data,
        "--database-url",
        scratch.url(),
    ]);
    assert!(!migrate.status.success());
    assert!(String::from_utf8_lossy(&migrate.stderr).contains(&expected));

    let doctor = exits(&[&["doctor"], &site[..]].concat());
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(!doctor.status.success(), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("FAIL schema: version 99990001, made by a newer reel")),
        "{report}"
    );

    // Nothing was changed: the future migration is still the newest.
    let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(newest, FUTURE);
    db.close().await;
}
