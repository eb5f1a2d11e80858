//! The options every service of a site shares, as clap `Args` that the `reel` command
//! flattens into its own: each option's default is written once, in its `#[arg]`.

use std::path::PathBuf;

use clap::{Args, Command, FromArgMatches};

use crate::signing::SigningKey;
use crate::storage::StorageOptions;

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DbConfig {
    /// Directory for the SQLite database, stored videos and the generated signing key.
    #[arg(long, env = "REEL_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Database URL: sqlite://…, mysql://… (or mariadb://…), postgres://…
    /// [default: SQLite at <data-dir>/reel.db]
    #[arg(long, env = "REEL_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Database connections one process opens at most.
    #[arg(long, env = "REEL_MAX_DB_CONNECTIONS", default_value_t = 16)]
    pub max_db_connections: u32,
}

impl DbConfig {
    /// The database URL: the one given, or SQLite in the data dir (which is created).
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            anyhow::anyhow!("cannot create data dir {}: {e}", self.data_dir.display())
        })?;
        Ok(crate::db::sqlite_url(&self.data_dir))
    }
}

/// What the services of one site share: the database, the signing key and the storage.
#[derive(Debug, Clone, Args)]
pub struct SiteConfig {
    #[command(flatten)]
    pub db: DbConfig,
    /// Key that signs upload tokens and calls between services (base64url, ≥ 32 bytes);
    /// every service of a site needs the same one [default: generated into
    /// <data-dir>/signing.key]
    #[arg(long, env = "REEL_SIGNING_KEY", hide_env_values = true, value_parser = SigningKey::from_base64)]
    pub signing_key: Option<SigningKey>,
    /// Where video files live: file:///abs/path or s3://bucket[/prefix] (S3 credentials
    /// from AWS_* variables) [default: <data-dir>/storage]
    #[arg(long, env = "REEL_STORAGE_URL")]
    pub storage_url: Option<String>,
    /// S3 endpoint for stores other than AWS (MinIO, Ceph, …), e.g. http://127.0.0.1:9002
    #[arg(long, env = "REEL_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
}

impl SiteConfig {
    pub fn storage(&self) -> StorageOptions {
        StorageOptions {
            url: self.storage_url.clone(),
            data_dir: self.db.data_dir.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            ..StorageOptions::default()
        }
    }
}

impl Default for DbConfig {
    fn default() -> Self {
        defaults()
    }
}

impl Default for SiteConfig {
    fn default() -> Self {
        defaults()
    }
}

/// The values of an options struct when nothing is given: the defaults of its
/// `#[arg]`s, with the environment ignored. This is how `Default` is implemented for
/// every service's `Config`, so tests and embedders start from the same values as
/// `reel` without a second copy of them.
pub fn defaults<T: Args + FromArgMatches>() -> T {
    let command = T::augment_args(Command::new("defaults")).mut_args(|arg| arg.env(None));
    let matches = command
        .try_get_matches_from(["defaults"])
        .expect("every option has a default or is optional");
    T::from_arg_matches(&matches).expect("defaults fit their own options")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_come_from_the_options() {
        let site = SiteConfig::default();
        assert_eq!(site.db.data_dir, PathBuf::from("./data"));
        assert_eq!(site.db.max_db_connections, 16);
        assert!(site.db.database_url.is_none());
        assert!(site.signing_key.is_none());
    }
}
