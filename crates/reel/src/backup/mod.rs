//! `reel backup DEST` and `reel restore SRC`.
//!
//! A backup is taken while the site runs, in an order that keeps it consistent: the
//! database first (one snapshot: SQLite's `VACUUM INTO`, `pg_dump`'s or
//! `mariadb-dump --single-transaction`'s), then the signing key, then the stored files.
//! A video is marked ready only once its files are in place, and its files go only
//! after it left the database, so every video the copied database calls ready finds
//! its files in the copy (save one deleted while the backup ran, gone on purpose);
//! files of videos that arrived after the database was copied
//! are orphans the restored site's storage sweep removes (see "Storage" in
//! docs/architecture.md).
//!
//! Layout of DEST: `backup.json` (what was copied), `reel.db` (SQLite) or
//! `database.sql` (a dump), `signing.key`, and `storage/` (local disk) or
//! `storage-manifest.json` (S3: the objects to copy with the bucket's own tools).

mod dump;
mod files;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use reel_core::config::SiteConfig;
use reel_core::db::DbKind;
use reel_core::secret::without_password;
use reel_core::signing::{KEY_FILE_NAME, SigningKey};
use serde_json::json;

use crate::cli::{BackupArgs, RestoreArgs};

/// The description of a backup, at its top.
const MANIFEST: &str = "backup.json";
/// The SQLite copy.
const SQLITE_FILE: &str = "reel.db";
/// A PostgreSQL or MariaDB dump.
const DUMP_FILE: &str = "database.sql";
/// The stored files, on local disk.
const STORAGE_DIR: &str = "storage";

fn backend_name(kind: DbKind) -> &'static str {
    match kind {
        DbKind::Sqlite => "sqlite",
        DbKind::MySql => "mysql",
        DbKind::Postgres => "postgres",
    }
}

/// The SQLite file a `sqlite:` URL names.
fn sqlite_path(url: &str) -> PathBuf {
    let path = url
        .trim_start_matches("sqlite:")
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    PathBuf::from(path)
}

/// Writes `bytes` readable by the owner alone.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

/// An empty directory (made, if absent), or an error naming what is in the way.
fn empty_dir(dir: &Path, what: &str) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{what} {} is not empty", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}

/// `reel backup DEST`.
pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let (dest, site) = (&args.dest, &args.site);
    empty_dir(dest, "the backup directory")?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dest, std::fs::Permissions::from_mode(0o700))?;
    }
    let url = site.db.database_url()?;
    let kind = DbKind::from_url(&url)?;
    println!("copying the database ({})", without_password(&url));
    let database = match kind {
        DbKind::Sqlite => {
            dump::sqlite_backup(&url, &dest.join(SQLITE_FILE)).await?;
            Some(SQLITE_FILE)
        }
        _ => dump::dump(kind, &url, &dest.join(DUMP_FILE))
            .await?
            .then_some(DUMP_FILE),
    };
    let key = match &site.signing_key {
        Some(key) => Some(key.clone()),
        None => match std::fs::read_to_string(site.db.data_dir.join(KEY_FILE_NAME)) {
            Ok(text) => Some(SigningKey::from_base64(&text)?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).context("reading the signing key"),
        },
    };
    if let Some(key) = &key {
        write_private(&dest.join(KEY_FILE_NAME), key.to_base64().as_bytes())?;
    }
    println!("copying the stored files");
    let storage = files::backup(site, dest).await?;
    let manifest = json!({
        "reel": crate::LONG_VERSION,
        "created_at": time_now(),
        "database": backend_name(kind),
        "schema_version": kind.latest_schema_version(),
        "database_file": database,
        "signing_key_fingerprint": key.as_ref().map(SigningKey::fingerprint),
        "storage": storage,
    });
    std::fs::write(
        dest.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    if database.is_none() {
        bail!(
            "{} holds the key and files but not the database: run the command above",
            dest.display()
        );
    }
    println!("backup complete: {}", dest.display());
    Ok(())
}

fn time_now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `reel restore SRC`: into a fresh data dir (and an empty database).
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let (src, site) = (&args.src, &args.site);
    let text = std::fs::read_to_string(src.join(MANIFEST))
        .with_context(|| format!("{} is not a reel backup", src.display()))?;
    let manifest: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a backup description", src.join(MANIFEST).display()))?;
    let url = site.db.database_url()?;
    let kind = DbKind::from_url(&url)?;
    let backed_up = manifest["database"].as_str().unwrap_or_default();
    if backed_up != backend_name(kind) {
        bail!(
            "the backup holds a {backed_up} database; restore it into {backed_up}, not {}",
            backend_name(kind)
        );
    }
    let data_dir = &site.db.data_dir;
    for taken in [KEY_FILE_NAME, SQLITE_FILE, STORAGE_DIR] {
        if data_dir.join(taken).exists() {
            bail!(
                "{} already holds a site ({taken}): restore into a fresh data dir",
                data_dir.display()
            );
        }
    }
    match kind {
        DbKind::Sqlite => {
            let into = sqlite_path(&url);
            if into.exists() {
                bail!("{} exists: restore into a fresh database", into.display());
            }
            std::fs::copy(src.join(SQLITE_FILE), &into)
                .with_context(|| format!("copying the database to {}", into.display()))?;
        }
        _ => dump::load(kind, &url, &src.join(DUMP_FILE)).await?,
    }
    let key_file = src.join(KEY_FILE_NAME);
    if key_file.exists() {
        let key = SigningKey::from_base64(&std::fs::read_to_string(&key_file)?)?;
        write_private(&data_dir.join(KEY_FILE_NAME), key.to_base64().as_bytes())?;
        if let Some(given) = &site.signing_key
            && given.fingerprint() != key.fingerprint()
        {
            println!(
                "note: --signing-key differs from the backup's key ({}): upload links given out \
                 before the backup will not work unless the site runs with the backup's key",
                key.fingerprint()
            );
        }
    }
    files::restore(site, src).await?;
    println!("restored into {}: start reel serve", data_dir.display());
    Ok(())
}

/// The local directory the site's files live in, or `None` on S3.
fn local_storage(site: &SiteConfig) -> anyhow::Result<Option<PathBuf>> {
    match site.storage_url.as_deref() {
        None => Ok(Some(site.db.data_dir.join(STORAGE_DIR))),
        Some(url) if url.starts_with("file://") => url::Url::parse(url)
            .ok()
            .and_then(|u| u.to_file_path().ok())
            .map(Some)
            .with_context(|| format!("bad file URL {url:?}")),
        Some(_) => Ok(None),
    }
}
