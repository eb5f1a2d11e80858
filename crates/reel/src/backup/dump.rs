//! Copying the database: SQLite by its online backup (`VACUUM INTO`), PostgreSQL and
//! MariaDB by their own dump tools, when installed. Passwords never go into a child's
//! arguments: libpq reads `PGPASSWORD`, the MariaDB tools a private defaults file.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use reel_core::db::DbKind;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::MigrateDatabase;
use sqlx::{Any, AssertSqlSafe};

use super::sqlite_path;

/// Copies the SQLite database behind `url` into `into`, in one read transaction, while
/// the site writes on.
pub async fn sqlite_backup(url: &str, into: &Path) -> anyhow::Result<()> {
    let file = sqlite_path(url);
    if !file.exists() {
        bail!("no database at {}: is the data dir right?", file.display());
    }
    install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", file.display()))
        .await
        .context("opening the database")?;
    sqlx::query("PRAGMA busy_timeout = 10000")
        .execute(&pool)
        .await?;
    let target = into.display().to_string().replace('\'', "''");
    sqlx::query(AssertSqlSafe(format!("VACUUM INTO '{target}'")))
        .execute(&pool)
        .await
        .context("copying the database (VACUUM INTO)")?;
    pool.close().await;
    Ok(())
}

/// The parts of a server URL the client tools take.
struct Server {
    host: String,
    port: Option<u16>,
    user: String,
    password: Option<String>,
    database: String,
    ssl_mode: Option<String>,
}

impl Server {
    fn parse(url: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url).context("the database URL")?;
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        Ok(Self {
            host: parsed.host_str().unwrap_or("localhost").to_owned(),
            port: parsed.port(),
            user: decode(parsed.username()),
            password: parsed.password().map(decode),
            database: decode(parsed.path().trim_start_matches('/')),
            ssl_mode: parsed
                .query_pairs()
                .find(|(k, _)| k == "sslmode" || k == "ssl-mode")
                .map(|(_, v)| v.into_owned()),
        })
    }

    /// libpq's variables, the password among them.
    fn pg_env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("PGHOST", self.host.clone()),
            ("PGDATABASE", self.database.clone()),
        ];
        env.extend(self.port.map(|p| ("PGPORT", p.to_string())));
        env.extend((!self.user.is_empty()).then(|| ("PGUSER", self.user.clone())));
        env.extend(self.password.clone().map(|p| ("PGPASSWORD", p)));
        env.extend(self.ssl_mode.clone().map(|m| ("PGSSLMODE", m)));
        env
    }

    /// A MariaDB option file with the connection, password included, readable by the
    /// owner alone (a temporary file is made mode 0600).
    fn mariadb_defaults(&self) -> anyhow::Result<tempfile::NamedTempFile> {
        use std::io::Write;
        let quote = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
        let mut file = tempfile::NamedTempFile::new()?;
        writeln!(file, "[client]")?;
        writeln!(file, "host={}", quote(&self.host))?;
        if let Some(port) = self.port {
            writeln!(file, "port={port}")?;
        }
        if !self.user.is_empty() {
            writeln!(file, "user={}", quote(&self.user))?;
        }
        if let Some(password) = &self.password {
            writeln!(file, "password={}", quote(password))?;
        }
        file.flush()?;
        Ok(file)
    }
}

/// Runs a client tool; `Ok(false)` when it is not installed.
async fn run_tool(
    program: &str,
    args: &[String],
    env: &[(&'static str, String)],
    stdin: Option<&Path>,
) -> anyhow::Result<bool> {
    let mut command = tokio::process::Command::new(program);
    command.args(args).envs(env.iter().map(|(k, v)| (k, v)));
    command.stdin(match stdin {
        Some(path) => Stdio::from(std::fs::File::open(path)?),
        None => Stdio::null(),
    });
    match command.status().await {
        Ok(status) if status.success() => Ok(true),
        Ok(status) => bail!("{program} failed ({status})"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("running {program}")),
    }
}

/// Dumps a PostgreSQL or MariaDB database into `into`; `Ok(false)` (having printed what
/// to run) when the dump tool is not installed.
pub async fn dump(kind: DbKind, url: &str, into: &Path) -> anyhow::Result<bool> {
    let server = Server::parse(url)?;
    let out = into.display().to_string();
    if kind == DbKind::Postgres {
        let args = ["--no-owner", "--no-privileges", "--file", &out].map(String::from);
        if run_tool("pg_dump", &args, &server.pg_env(), None).await? {
            return Ok(true);
        }
        println!(
            "pg_dump is not installed here (apt install postgresql-client); run, with the \
             password in PGPASSWORD:\n  PGHOST={} PGPORT={} PGUSER={} PGDATABASE={} pg_dump \
             --no-owner --no-privileges --file {out}",
            server.host,
            server.port.unwrap_or(5432),
            server.user,
            server.database
        );
        return Ok(false);
    }
    let defaults = server.mariadb_defaults()?;
    let args = vec![
        format!("--defaults-extra-file={}", defaults.path().display()),
        "--single-transaction".to_owned(),
        "--routines".to_owned(),
        format!("--result-file={out}"),
        server.database.clone(),
    ];
    for tool in ["mariadb-dump", "mysqldump"] {
        if run_tool(tool, &args, &[], None).await? {
            return Ok(true);
        }
    }
    println!(
        "mariadb-dump is not installed here (apt install mariadb-client); run, with the \
         password in a [client] section of an option file:\n  mariadb-dump \
         --defaults-extra-file=FILE --single-transaction --routines --result-file={out} {}",
        server.database
    );
    Ok(false)
}

/// Loads a dump into the (new or empty) database behind `url`.
pub async fn load(kind: DbKind, url: &str, dump: &Path) -> anyhow::Result<()> {
    install_default_drivers();
    let connect_url = url.replacen("mariadb:", "mysql:", 1);
    if !Any::database_exists(&connect_url).await? {
        Any::create_database(&connect_url).await?;
    }
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(&connect_url)
        .await
        .context("opening the database")?;
    let used = sqlx::query("SELECT version FROM _sqlx_migrations")
        .fetch_optional(&pool)
        .await
        .is_ok_and(|row| row.is_some());
    pool.close().await;
    if used {
        bail!("the database already holds a site: restore into an empty one");
    }
    let server = Server::parse(url)?;
    let file = dump.display().to_string();
    let loaded = if kind == DbKind::Postgres {
        let args = [
            "--no-psqlrc",
            "--quiet",
            "-v",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "--file",
            &file,
        ]
        .map(String::from);
        run_tool("psql", &args, &server.pg_env(), None).await?
    } else {
        let defaults = server.mariadb_defaults()?;
        let args = vec![
            format!("--defaults-extra-file={}", defaults.path().display()),
            server.database.clone(),
        ];
        run_tool("mariadb", &args, &[], Some(dump)).await?
            || run_tool("mysql", &args, &[], Some(dump)).await?
    };
    if !loaded {
        bail!(
            "no database client here to load {file}: install one (apt install \
             postgresql-client or mariadb-client) and restore again"
        );
    }
    Ok(())
}
