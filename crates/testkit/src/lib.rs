//! Test support shared by reel's suites: a database made for one test and dropped after
//! it, on SQLite, MariaDB or PostgreSQL, the Redis server the tests use, and an
//! S3-compatible server ([`moto`]). A server that does not answer fails the test with its
//! address: these tests are never skipped.
#![forbid(unsafe_code)]

/// An S3-compatible server (moto) for the storage tests.
pub mod moto;
/// A Redis server of a test's own, to kill and restart.
pub mod redis_server;

use reel_core::db::{Db, DbOptions};
use reel_core::secret::without_password;
use reel_core::storage::Storage;
use sqlx::migrate::MigrateDatabase;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Connection, Executor, Row};

/// The databases a suite runs on: reel's own list, so that a database reel gains is
/// one the suites must cover.
pub use reel_core::db::DbKind;

/// Runs each listed test once per backend, as `#[tokio::test]`s named
/// `{backend}::{test}` (so `cargo test sqlite::` picks one backend).
///
/// `per_backend!([local => Store::Local, s3 => Store::S3], run, [a, b])` makes
/// `local::a`, `local::b`, `s3::a` and `s3::b`, each calling `run(backend, super::a)`:
/// `run` is the suite's harness, which sets up what the test needs on that backend,
/// runs it, and cleans up. `databases` stands for every [`DbKind`]: `sqlite`, `mysql`
/// and `postgres`. The runtime has two worker threads, since tests serve and call
/// real servers in one process.
#[macro_export]
macro_rules! per_backend {
    (@module $module:ident, $backend:expr, $run:path, [$($test:ident),* $(,)?]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    $run($backend, super::$test).await
                }
            )*
        }
    };
    (databases, $run:path, $tests:tt $(,)?) => {
        $crate::per_backend!(
            [
                sqlite => $crate::DbKind::Sqlite,
                mysql => $crate::DbKind::MySql,
                postgres => $crate::DbKind::Postgres,
            ],
            $run,
            $tests
        );
    };
    ([$($module:ident => $backend:expr),+ $(,)?], $run:path, $tests:tt $(,)?) => {
        $( $crate::per_backend!(@module $module, $backend, $run, $tests); )+
    };
}

/// The harness of [`per_backend!`] for tests that need nothing but a migrated database.
pub async fn with_db(kind: DbKind, test: impl AsyncFnOnce(&Db)) {
    let scratch = ScratchDb::new(kind).await;
    let db = scratch.connect().await;
    test(&db).await;
    db.close().await;
}

/// The server's name, the environment variable holding its URL, and the URL used
/// without it; `None` for SQLite, which needs no server.
fn server(backend: DbKind) -> Option<(&'static str, &'static str, &'static str)> {
    match backend {
        DbKind::Sqlite => None,
        DbKind::MySql => Some((
            "MariaDB",
            "REEL_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306",
        )),
        DbKind::Postgres => Some((
            "PostgreSQL",
            "REEL_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432",
        )),
    }
}

/// A database made for one test and force-dropped after it, even when the test panics.
pub struct ScratchDb {
    /// Its server, which says how to drop it.
    backend: DbKind,
    url: String,
    /// Keeps the SQLite file's directory alive; `None` on a server, whose database
    /// `Drop` removes instead.
    dir: Option<tempfile::TempDir>,
}

impl ScratchDb {
    /// A fresh, empty database: an SQLite file in a new temporary directory, or a new
    /// randomly named database on the backend's server. Panics, naming the server, when
    /// the server cannot be reached.
    pub async fn new(backend: DbKind) -> Self {
        let Some((name, var, default)) = server(backend) else {
            let dir = tempfile::tempdir().expect("temp dir for the SQLite database");
            return Self {
                backend,
                url: reel_core::db::sqlite_url(dir.path()),
                dir: Some(dir),
            };
        };
        let server = std::env::var(var).unwrap_or_else(|_| default.to_owned());
        let server = server.trim_end_matches('/');
        let url = format!("{server}/reel_t_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        if let Err(e) = Any::create_database(&url).await {
            panic!(
                "{name} must be running for this test at {} (or set {var}): {e}",
                without_password(server)
            );
        }
        Self {
            backend,
            url,
            dir: None,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Connects through reel's own `Db`, which runs the migrations.
    pub async fn connect(&self) -> Db {
        Db::connect(&DbOptions::new(&self.url))
            .await
            .unwrap_or_else(|e| {
                let url = without_password(&self.url);
                panic!("cannot open the scratch database {url}: {e}")
            })
    }
}

impl Drop for ScratchDb {
    fn drop(&mut self) {
        if self.dir.is_some() {
            return;
        }
        let (backend, url) = (self.backend, self.url.clone());
        // Drop cannot await, and may run inside the test's runtime; a short-lived
        // runtime on its own thread can.
        let _ = std::thread::spawn(move || {
            let dropped = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(force_drop(backend, &url));
            // Not a panic: this may run while the test is already panicking.
            if let Err(e) = dropped {
                eprintln!(
                    "could not drop the scratch database {}: {e}",
                    without_password(&url)
                );
            }
        })
        .join();
    }
}

/// Drops a scratch database on its server, ending first the sessions a failed test
/// left on it. PostgreSQL does both in one statement; MariaDB has no `FORCE` (sqlx
/// reports it unsupported), so its sessions on the database are killed one by one.
async fn force_drop(backend: DbKind, url: &str) -> Result<(), sqlx::Error> {
    if backend != DbKind::MySql {
        return Any::force_drop_database(url).await;
    }
    let (server, name) = url
        .rsplit_once('/')
        .expect("a scratch database URL ends with its name");
    let mut conn = AnyConnection::connect(server).await?;
    let sessions = sqlx::query(
        "SELECT CAST(ID AS SIGNED) AS id FROM information_schema.PROCESSLIST \
         WHERE DB = ? AND ID <> CONNECTION_ID()",
    )
    .bind(name)
    .fetch_all(&mut conn)
    .await?;
    for session in sessions {
        let id: i64 = session.try_get("id")?;
        // A session that ended meanwhile cannot be killed, and need not be.
        let _ = conn.execute(AssertSqlSafe(format!("KILL {id}"))).await;
    }
    conn.close().await?;
    Any::drop_database(url).await
}

/// The Redis server the tests use (`REEL_TEST_REDIS_URL`, by default
/// `redis://127.0.0.1:6379`); fails loudly when it does not answer.
pub fn redis_url() -> String {
    let url = std::env::var("REEL_TEST_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let authority = url.trim_start_matches("redis://");
    let authority = authority.split('/').next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Err(e) = std::net::TcpStream::connect(hostport) {
        let shown = without_password(&url);
        panic!("Redis must be running for this test at {shown} (or set REEL_TEST_REDIS_URL): {e}");
    }
    url
}

/// The keys stored under `prefix`, sorted: what a test expects to be left.
pub async fn keys_under(storage: &Storage, prefix: &str) -> Vec<String> {
    storage
        .list_prefix(prefix)
        .await
        .expect("a listing")
        .into_iter()
        .map(|o| o.key)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails a test that holds its scratch database busy, and checks the database is gone.
    async fn nothing_is_left_by_a_failed_test(backend: DbKind) {
        let (url_tx, url_rx) = tokio::sync::oneshot::channel();
        let test = tokio::spawn(async move {
            let scratch = ScratchDb::new(backend).await;
            let db = scratch.connect().await;
            // An open transaction holding a lock, which a plain DROP DATABASE waits for.
            let mut held = db.pool().begin().await.unwrap();
            sqlx::query("DELETE FROM tasks")
                .execute(&mut *held)
                .await
                .unwrap();
            url_tx.send(scratch.url().to_owned()).unwrap();
            panic!("the test fails while the database is in use");
        });
        assert!(test.await.unwrap_err().is_panic());
        let url = url_rx.await.unwrap();
        assert!(!Any::database_exists(&url).await.unwrap(), "{url} is left");
    }

    #[tokio::test]
    async fn a_failed_test_leaves_no_database_on_mariadb() {
        nothing_is_left_by_a_failed_test(DbKind::MySql).await;
    }

    #[tokio::test]
    async fn a_failed_test_leaves_no_database_on_postgres() {
        nothing_is_left_by_a_failed_test(DbKind::Postgres).await;
    }
}
