//! One repository over three backends. Queries are written once with `?` placeholders;
//! what truly differs per backend lives in [`DbKind`] (placeholders, migrations,
//! connection set-up).

use std::borrow::Cow;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::{MigrateDatabase, Migrator};
use sqlx::{Any, AnyPool, AssertSqlSafe, Executor};

mod comments;
mod media;
mod page;
mod quota;
mod reworded;
mod sessions;
mod tasks;
mod users;
mod videos;

pub use comments::CommentRecord;
pub use media::{MediaFacts, MediaState};
pub use page::{Page, PageCursor};
pub use quota::VideoEdit;
pub use sessions::SessionRecord;
pub use tasks::{ClaimedTask, TaskKind, TaskRecord, TaskState};
pub use users::UserRecord;
pub use videos::{NewVideo, VideoRecord};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static MYSQL_MIGRATIONS: Migrator = sqlx::migrate!("migrations/mysql");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The database server behind a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    /// Embedded SQLite (`sqlite:`), the single-machine default.
    Sqlite,
    /// MySQL or MariaDB (`mysql:` / `mariadb:`), the first design's database.
    MySql,
    /// PostgreSQL (`postgres:` / `postgresql:`).
    Postgres,
}

impl DbKind {
    /// Picks the backend from a database URL's scheme.
    pub fn from_url(url: &str) -> Result<Self, DbError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Self::Sqlite),
            "mysql" | "mariadb" => Ok(Self::MySql),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            _ => Err(DbError::UnsupportedUrl(scheme.to_owned())),
        }
    }

    fn migrator(self) -> &'static Migrator {
        match self {
            Self::Sqlite => &SQLITE_MIGRATIONS,
            Self::MySql => &MYSQL_MIGRATIONS,
            Self::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// Rewrites `?` placeholders as `$1, $2, …` for PostgreSQL; the others take `?` as is.
    pub fn sql(self, query: &'static str) -> Cow<'static, str> {
        if self != Self::Postgres {
            return Cow::Borrowed(query);
        }
        let mut out = String::with_capacity(query.len() + 8);
        let mut n = 0;
        for c in query.chars() {
            if c == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(c);
            }
        }
        Cow::Owned(out)
    }
}

/// A database failure, with "not found" and "already exists" told apart from the rest.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No row matched.
    #[error("not found")]
    NotFound,
    /// A unique key was violated.
    #[error("already exists")]
    Conflict,
    /// The URL's scheme names no backend reel supports.
    #[error("unsupported database URL scheme {0:?}: use sqlite:, mysql:, mariadb: or postgres:")]
    UnsupportedUrl(String),
    /// The schema could not be brought up to date.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Anything else the driver reported.
    #[error("database error: {0}")]
    Sqlx(sqlx::Error),
    /// A stored value that this version cannot read.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() => Self::Conflict,
            _ => Self::Sqlx(e),
        }
    }
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// The connection URL (`sqlite:`, `mysql:`, `mariadb:`, `postgres:`).
    pub url: String,
    /// The most connections the pool opens.
    pub max_connections: u32,
}

impl DbOptions {
    /// Options with the default pool size for the URL's backend.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 16,
        }
    }
}

/// A handle to the database: a connection pool and the backend it talks to.
#[derive(Clone, Debug)]
pub struct Db {
    /// The pool, through sqlx's runtime-chosen `Any` driver.
    pool: AnyPool,
    /// Which server is behind the pool.
    backend: DbKind,
}

impl Db {
    /// Connects, creating the database (or SQLite file) if needed, and runs migrations.
    pub async fn connect(options: &DbOptions) -> Result<Self, DbError> {
        install_default_drivers();
        let backend = DbKind::from_url(&options.url)?;
        let url = match backend {
            DbKind::MySql => options.url.replacen("mariadb:", "mysql:", 1),
            _ => options.url.clone(),
        };
        if !Any::database_exists(&url).await? {
            Any::create_database(&url).await?;
        }
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == DbKind::Sqlite {
                        // WAL lets readers run beside the one writer; the busy timeout makes a
                        // second writer wait instead of failing.
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = NORMAL",
                            "PRAGMA busy_timeout = 10000",
                            "PRAGMA foreign_keys = ON",
                        ] {
                            conn.execute(pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        let db = Self { pool, backend };
        db.migrate().await?;
        Ok(db)
    }

    /// Brings the schema up to date; safe to run at every start.
    pub async fn migrate(&self) -> Result<(), DbError> {
        reworded::update_checksums(&self.pool, self.backend).await?;
        self.backend.migrator().run(&self.pool).await?;
        Ok(())
    }

    /// Which server this is.
    pub fn backend(&self) -> DbKind {
        self.backend
    }

    /// The pool, for modules that add their own tables.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// A query in this backend's placeholder style. Only literals go in, so the text
    /// is as safe from injection as the literal itself.
    pub fn sql(&self, query: &'static str) -> AssertSqlSafe<Cow<'static, str>> {
        AssertSqlSafe(self.backend.sql(query))
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), DbError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The SQLite URL of the database file in `data_dir`.
pub fn sqlite_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}/reel.db?mode=rwc", data_dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_follow_the_scheme() {
        assert_eq!(DbKind::from_url("sqlite://x.db").unwrap(), DbKind::Sqlite);
        assert_eq!(DbKind::from_url("mariadb://h/db").unwrap(), DbKind::MySql);
        assert_eq!(
            DbKind::from_url("postgresql://h/db").unwrap(),
            DbKind::Postgres
        );
        assert!(matches!(
            DbKind::from_url("redis://h"),
            Err(DbError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn postgres_gets_numbered_placeholders() {
        let q = "SELECT a FROM t WHERE b = ? AND c = ?";
        assert_eq!(DbKind::Sqlite.sql(q), q);
        assert_eq!(
            DbKind::Postgres.sql(q),
            "SELECT a FROM t WHERE b = $1 AND c = $2"
        );
    }
}
