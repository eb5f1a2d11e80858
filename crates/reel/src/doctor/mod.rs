//! `reel doctor`: one report of what matters before a site goes live, read with the
//! options `reel serve` would run with. Each line is OK, WARN or FAIL, names what it
//! looked at, and says what to do; any FAIL makes the command exit non-zero, so an
//! installer or a deployment can stop on it. It changes nothing but what `reel serve`
//! would create anyway (the data dir, an empty SQLite file), and never prints a secret:
//! URLs lose their passwords, and the signing key shows only its fingerprint.

mod services;
mod system;

use std::fmt;

use anyhow::bail;

use crate::cli::ServeArgs;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One line of the report.
#[derive(Debug)]
pub struct Check {
    level: Level,
    /// What was looked at.
    name: &'static str,
    /// What was found and, unless all is well, what to do.
    text: String,
}

impl Check {
    fn ok(name: &'static str, text: impl Into<String>) -> Self {
        Self::new(Level::Ok, name, text)
    }

    fn warn(name: &'static str, text: impl Into<String>) -> Self {
        Self::new(Level::Warn, name, text)
    }

    fn fail(name: &'static str, text: impl Into<String>) -> Self {
        Self::new(Level::Fail, name, text)
    }

    fn new(level: Level, name: &'static str, text: impl Into<String>) -> Self {
        Self {
            level,
            name,
            text: text.into(),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        write!(f, "{level:<4} {}: {}", self.name, self.text)
    }
}

/// Runs every check, prints the report, and fails when a check failed.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let site = &args.site;
    let mut checks = system::ffmpeg(&args.scheduler.ffmpeg, &args.scheduler.ffprobe).await;
    checks.extend(system::data_dir(&site.db.data_dir));
    checks.extend(system::disk(site, args.stream.max_upload_bytes));
    checks.push(system::open_files(
        args.stream.max_connections,
        site.db.max_db_connections,
    ));
    checks.extend(services::database(&site.db, args.scheduler.lease).await);
    checks.extend(services::redis(args.api.redis_url.as_deref(), args.scheduler.lease).await);
    checks.push(services::signing_key(site));
    for check in &checks {
        println!("{check}");
    }
    let count = |level| checks.iter().filter(|c| c.level == level).count();
    let (warned, failed) = (count(Level::Warn), count(Level::Fail));
    println!("{} OK, {warned} WARN, {failed} FAIL", count(Level::Ok));
    if failed > 0 {
        bail!(
            "{failed} of {} checks failed (see FAIL above)",
            checks.len()
        );
    }
    Ok(())
}
