//! The stored files of a backup: copied file by file from local disk, or listed in a
//! manifest when they live in S3 (whose own tools copy a bucket far better).

use std::path::Path;

use anyhow::Context;
use reel_core::config::SiteConfig;
use reel_core::storage::Storage;
use serde_json::{Value, json};

use super::{STORAGE_DIR, local_storage};

/// The list of objects of an S3 backup.
const S3_MANIFEST: &str = "storage-manifest.json";

/// Whether a file under the store's root is part of it: not the scratch directory of
/// processing (`.work`), nor a write still being staged by `object_store` (`name#n`).
fn kept(relative: &Path) -> bool {
    let top_is_scratch = relative
        .components()
        .next()
        .is_some_and(|c| c.as_os_str() == ".work");
    let staged = relative
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains('#'));
    !top_is_scratch && !staged
}

/// Copies every file under `from` into `to`, keeping the tree. Files that disappear
/// while the walk runs (a video deleted meanwhile) are skipped. Returns the count and
/// the bytes copied.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    if !from.exists() {
        return Ok((0, 0));
    }
    for entry in walkdir::WalkDir::new(from) {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e)
                if e.io_error()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
            {
                continue;
            }
            Err(e) => return Err(e).context("walking the stored files"),
        };
        let relative = entry.path().strip_prefix(from)?;
        if !entry.file_type().is_file() || !kept(relative) {
            continue;
        }
        let target = to.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        match std::fs::copy(entry.path(), &target) {
            Ok(n) => {
                files += 1;
                bytes += n;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("copying {}", entry.path().display()));
            }
        }
    }
    Ok((files, bytes))
}

/// Copies (local disk) or lists (S3) the site's stored files into `dest`; describes
/// what was done for the backup's manifest.
pub async fn backup(site: &SiteConfig, dest: &Path) -> anyhow::Result<Value> {
    if let Some(root) = local_storage(site)? {
        let to = dest.join(STORAGE_DIR);
        let (from, into) = (root.clone(), to.clone());
        let (files, bytes) = tokio::task::spawn_blocking(move || copy_tree(&from, &into)).await??;
        println!(
            "copied {files} files ({bytes} bytes) from {}",
            root.display()
        );
        return Ok(json!({"kind": "local", "dir": STORAGE_DIR, "files": files, "bytes": bytes}));
    }
    let storage = Storage::open(&site.storage())
        .await
        .context("opening the video storage")?;
    let objects = storage.list_prefix("").await?;
    let listed: Vec<Value> = objects
        .iter()
        .map(|o| json!({"key": o.key, "size": o.size, "etag": o.etag}))
        .collect();
    std::fs::write(
        dest.join(S3_MANIFEST),
        serde_json::to_string_pretty(&json!({"store": storage.describe(), "objects": listed}))?,
    )?;
    let url = site.storage_url.as_deref().unwrap_or_default();
    println!(
        "the files live in {}: {S3_MANIFEST} lists its {} objects; copy the bucket with its own \
         tools, after this backup, e.g. `aws s3 sync {url} BACKUP-BUCKET` or `rclone sync`",
        storage.describe(),
        listed.len()
    );
    Ok(
        json!({"kind": "s3", "store": storage.describe(), "manifest": S3_MANIFEST, "objects": listed.len()}),
    )
}

/// Puts the backup's files where the site keeps them.
pub async fn restore(site: &SiteConfig, src: &Path) -> anyhow::Result<()> {
    let from = src.join(STORAGE_DIR);
    match local_storage(site)? {
        Some(root) if from.exists() => {
            let into = root.clone();
            let (files, bytes) =
                tokio::task::spawn_blocking(move || copy_tree(&from, &into)).await??;
            println!(
                "restored {files} files ({bytes} bytes) into {}",
                root.display()
            );
        }
        _ => println!(
            "the backup's files are not on local disk: copy the objects {S3_MANIFEST} lists \
             into the site's storage (aws s3 sync, rclone) before starting it"
        ),
    }
    Ok(())
}
