//! The checks of what the site talks to: the database (and its schema and clock),
//! Redis (and its clock), and the signing key every node must share.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reel_core::config::{DbConfig, SiteConfig};
use reel_core::db::DbKind;
use reel_core::secret::without_password;
use reel_core::signing::{KEY_FILE_NAME, SigningKey};
use sqlx::AnyPool;
use sqlx::any::{AnyPoolOptions, install_default_drivers};

use super::Check;

/// How long a server may take to answer before the check fails.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The database answers, its schema is one this build can run, and its clock agrees
/// with ours. Nothing is migrated.
pub async fn database(config: &DbConfig, lease: Duration) -> Vec<Check> {
    let url = match config.database_url() {
        Ok(url) => url,
        Err(e) => return vec![Check::fail("database", format!("{e:#}"))],
    };
    let shown = without_password(&url);
    let kind = match DbKind::from_url(&url) {
        Ok(kind) => kind,
        Err(e) => return vec![Check::fail("database", format!("{shown}: {e}"))],
    };
    install_default_drivers();
    let started = Instant::now();
    let connect_url = url.replacen("mariadb:", "mysql:", 1);
    let connect = AnyPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ANSWER_WITHIN)
        .connect(&connect_url);
    let pool = match tokio::time::timeout(ANSWER_WITHIN, connect).await {
        Ok(Ok(pool)) => pool,
        Ok(Err(e)) => return vec![unreachable(&shown, &e.to_string())],
        Err(_) => return vec![unreachable(&shown, "no answer in 5s")],
    };
    let mut checks = vec![Check::ok(
        "database",
        format!("{shown} answers ({} ms)", started.elapsed().as_millis()),
    )];
    checks.push(schema(&pool, kind).await);
    checks.push(match kind {
        DbKind::Sqlite => Check::ok("database clock", "SQLite runs on this machine's clock"),
        _ => database_clock(&pool, kind, lease).await,
    });
    pool.close().await;
    checks
}

fn unreachable(shown: &str, error: &str) -> Check {
    Check::fail(
        "database",
        format!(
            "{shown} does not answer: {error}; check --database-url, that the server runs, and \
             that it lets this host and user in"
        ),
    )
}

/// The newest migration applied, against the newest this build knows.
async fn schema(pool: &AnyPool, kind: DbKind) -> Check {
    let known = kind.latest_schema_version();
    let applied: Result<Option<i64>, _> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await;
    match applied {
        Err(_) | Ok(None) => Check::ok("schema", "empty: reel serve creates it at first start"),
        Ok(Some(v)) if v > known => Check::fail(
            "schema",
            format!(
                "version {v}, made by a newer reel (this one knows up to {known}): run the newer \
                 reel, or restore a backup taken before the upgrade"
            ),
        ),
        Ok(Some(v)) if v < known => Check::warn(
            "schema",
            format!(
                "version {v}: reel serve upgrades it to {known} at start, and migrations only \
                 move forward: take a backup first (reel backup DEST)"
            ),
        ),
        Ok(Some(v)) => Check::ok("schema", format!("version {v}, this reel's")),
    }
}

/// The database server's clock against ours: task leases compare instants written by
/// different nodes.
async fn database_clock(pool: &AnyPool, kind: DbKind, lease: Duration) -> Check {
    let query = match kind {
        DbKind::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
        _ => "SELECT CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
    };
    let before = now_ms();
    match sqlx::query_scalar::<_, i64>(query).fetch_one(pool).await {
        Ok(theirs) => skew(
            "database clock",
            "the database server",
            theirs,
            before,
            lease,
        ),
        Err(e) => Check::warn("database clock", format!("cannot read it: {e}")),
    }
}

/// Compares a server's clock, read between `before` and now, with ours.
fn skew(name: &'static str, whose: &str, theirs_ms: i64, before: i64, lease: Duration) -> Check {
    let after = now_ms();
    let apart = (theirs_ms - (before + after) / 2).unsigned_abs();
    let slack = 1_000 + (after - before).unsigned_abs() / 2;
    let lease_ms = lease.as_millis() as u64;
    let text = format!("{whose}'s clock is {apart} ms from ours");
    let fix = "keep every node on NTP (chrony or systemd-timesyncd)";
    if apart <= slack {
        Check::ok(name, text)
    } else if apart < lease_ms / 4 {
        Check::warn(
            name,
            format!(
                "{text}: task leases ({}s) tolerate it; {fix}",
                lease.as_secs()
            ),
        )
    } else {
        Check::fail(
            name,
            format!(
                "{text}, a large part of the task lease ({}s): a scheduler could take a task \
                 another still runs; {fix}",
                lease.as_secs()
            ),
        )
    }
}

/// Redis, when sessions live there, answers; its clock agrees with ours.
pub async fn redis(url: Option<&str>, lease: Duration) -> Vec<Check> {
    let Some(url) = url else {
        return vec![Check::ok(
            "redis",
            "not configured: sessions live in the database, which suits a single API node",
        )];
    };
    let shown = without_password(url);
    let answer = async {
        let client = redis::Client::open(url)?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        let before = now_ms();
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query_async(&mut conn).await?;
        Ok::<_, redis::RedisError>((before, secs * 1000 + micros / 1000))
    };
    match tokio::time::timeout(ANSWER_WITHIN, answer).await {
        Ok(Ok((before, theirs))) => vec![
            Check::ok("redis", format!("{shown} answers")),
            skew("redis clock", "Redis", theirs, before, lease),
        ],
        Ok(Err(e)) => vec![redis_down(&shown, &e.to_string())],
        Err(_) => vec![redis_down(&shown, "no answer in 5s")],
    }
}

fn redis_down(shown: &str, error: &str) -> Check {
    Check::fail(
        "redis",
        format!("{shown} does not answer: {error}; check --redis-url and that Redis runs"),
    )
}

/// The signing key's fingerprint: every node of a site must print the same one.
pub fn signing_key(site: &SiteConfig) -> Check {
    let same = "every node of the site must show the same";
    if let Some(key) = &site.signing_key {
        return Check::ok(
            "signing key",
            format!(
                "fingerprint {} (given by option); {same}",
                key.fingerprint()
            ),
        );
    }
    let path = site.db.data_dir.join(KEY_FILE_NAME);
    match std::fs::read_to_string(&path) {
        Ok(text) => match SigningKey::from_base64(&text) {
            Ok(key) => Check::ok(
                "signing key",
                format!(
                    "fingerprint {} (from {}); {same}: give the other nodes this key",
                    key.fingerprint(),
                    path.display()
                ),
            ),
            Err(e) => Check::fail(
                "signing key",
                format!(
                    "{}: {e}; remove it to have a new one generated (upload links already \
                     given out stop working)",
                    path.display()
                ),
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Check::ok(
            "signing key",
            format!(
                "none yet: reel serve generates {} at first start; nodes of one site must share it",
                path.display()
            ),
        ),
        Err(e) => Check::fail(
            "signing key",
            format!(
                "cannot read {}: {e}; give it to the service user",
                path.display()
            ),
        ),
    }
}
