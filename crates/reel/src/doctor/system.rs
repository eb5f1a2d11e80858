//! The checks of this machine: ffmpeg, the data dir, disk space and inodes, and the
//! open-files limit.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytesize::ByteSize;
use reel_core::config::SiteConfig;
use reel_core::secret::without_password;
use reel_core::signing::KEY_FILE_NAME;

use super::Check;

/// The encoders processing uses (`crates/scheduler`): H.264 video and AAC audio.
const ENCODERS: [&str; 2] = ["libx264", "aac"];

/// Runs `program args…` with a time limit; its standard output.
async fn output(program: &Path, args: &[&str]) -> std::io::Result<String> {
    let run = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(20), run).await {
        Ok(out) => Ok(String::from_utf8_lossy(&out?.stdout).into_owned()),
        Err(_) => Err(std::io::Error::new(ErrorKind::TimedOut, "no answer in 20s")),
    }
}

/// ffmpeg and ffprobe, and the encoders processing needs.
pub async fn ffmpeg(ffmpeg: &Path, ffprobe: &Path) -> Vec<Check> {
    let shown = ffmpeg.display();
    let encoders = match output(ffmpeg, &["-hide_banner", "-encoders"]).await {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return vec![Check::warn(
                "ffmpeg",
                format!(
                    "{shown} not found: uploads are served as they came, so some will not play \
                     in every browser; install ffmpeg (apt install ffmpeg) or name it with --ffmpeg"
                ),
            )];
        }
        Err(e) => return vec![Check::fail("ffmpeg", format!("cannot run {shown}: {e}"))],
    };
    let version = output(ffmpeg, &["-version"]).await.unwrap_or_default();
    let version = version.lines().next().unwrap_or("ffmpeg");
    let version = version
        .split(" Copyright")
        .next()
        .unwrap_or(version)
        .to_owned();
    let missing: Vec<&str> = ENCODERS
        .into_iter()
        .filter(|name| {
            !encoders
                .lines()
                .any(|line| line.split_whitespace().nth(1) == Some(*name))
        })
        .collect();
    let mut checks = vec![if missing.is_empty() {
        Check::ok(
            "ffmpeg",
            format!("{version}, with {}", ENCODERS.join(" and ")),
        )
    } else {
        Check::fail(
            "ffmpeg",
            format!(
                "{version} lacks the encoder {}: processing would fail; install a build that has \
                 it (Debian's ffmpeg does)",
                missing.join(" and ")
            ),
        )
    }];
    checks.push(match output(ffprobe, &["-version"]).await {
        Ok(_) => Check::ok("ffprobe", format!("{} runs", ffprobe.display())),
        Err(e) => Check::fail(
            "ffprobe",
            format!(
                "cannot run {}: {e}: processing probes every upload with it; install ffmpeg's \
                 ffprobe or name it with --ffprobe",
                ffprobe.display()
            ),
        ),
    });
    checks
}

/// The data dir exists (or can be made) and this user can write there; the key file is
/// private.
pub fn data_dir(dir: &Path) -> Vec<Check> {
    let uid = rustix::process::getuid().as_raw();
    let shown = dir.display();
    let fix = format!("make it the service user's (uid {uid}): install -d -m 750 -o USER {shown}");
    if let Err(e) = std::fs::create_dir_all(dir) {
        return vec![Check::fail(
            "data dir",
            format!("cannot create {shown}: {e}; {fix}"),
        )];
    }
    let probe = dir.join(".reel-doctor-probe");
    if let Err(e) = std::fs::write(&probe, b"probe").and_then(|()| std::fs::remove_file(&probe)) {
        return vec![Check::fail(
            "data dir",
            format!("{shown} is not writable: {e}; {fix}"),
        )];
    }
    let mut checks = vec![Check::ok(
        "data dir",
        format!("{shown} is writable by uid {uid}"),
    )];
    let key = dir.join(KEY_FILE_NAME);
    if let Ok(meta) = std::fs::metadata(&key) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            checks.push(Check::warn(
                "key file",
                format!(
                    "{} has mode {mode:o}: other users can read the signing key; chmod 600 it",
                    key.display()
                ),
            ));
        }
    }
    checks
}

/// Free space and inodes where uploads land, against the largest upload.
pub fn disk(site: &SiteConfig, max_upload: u64) -> Vec<Check> {
    let dir = match site.storage_url.as_deref() {
        None => site.db.data_dir.join("storage"),
        Some(url) => match url.strip_prefix("file://") {
            Some(path) => PathBuf::from(path),
            None => {
                return vec![Check::ok(
                    "disk",
                    format!(
                        "storage is {}: no local disk to check",
                        without_password(url)
                    ),
                )];
            }
        },
    };
    // Storage may not exist yet: its nearest ancestor is on the same file system.
    let Some(existing) = dir.ancestors().find(|p| p.exists()) else {
        return vec![Check::warn(
            "disk",
            format!("no part of {} exists", dir.display()),
        )];
    };
    let stat = match rustix::fs::statvfs(existing) {
        Ok(stat) => stat,
        Err(e) => {
            return vec![Check::warn(
                "disk",
                format!("cannot read the file system of {}: {e}", existing.display()),
            )];
        }
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let (shown, limit) = (dir.display(), ByteSize(max_upload));
    let room = format!("{} free for {shown}", ByteSize(free));
    let fix = "free some space, or lower --max-upload-bytes";
    // An upload keeps its original, and processing writes about as much again beside it.
    let space = if free < max_upload {
        Check::fail(
            "disk",
            format!("{room}: less than one upload of --max-upload-bytes ({limit}); {fix}"),
        )
    } else if free / 2 < max_upload {
        Check::warn(
            "disk",
            format!("{room}: one upload of {limit} and its processing may not fit; {fix}"),
        )
    } else {
        Check::ok(
            "disk",
            format!(
                "{room}: {} uploads of the largest size ({limit}) and their processing",
                free / 2 / max_upload.max(1)
            ),
        )
    };
    // A processed video is a few hundred files (its HLS segments): keep thousands of
    // videos' worth.
    let inodes = if stat.f_files == 0 {
        Check::ok(
            "inodes",
            format!("the file system of {shown} has no inode limit"),
        )
    } else if stat.f_favail < 10_000 {
        Check::fail(
            "inodes",
            format!(
                "{} inodes free for {shown}: a processed video takes a few hundred; free some, or move storage",
                stat.f_favail
            ),
        )
    } else if stat.f_favail < 1_000_000 {
        Check::warn(
            "inodes",
            format!(
                "{} inodes free for {shown}: room for a few thousand processed videos only",
                stat.f_favail
            ),
        )
    } else {
        Check::ok(
            "inodes",
            format!("{} inodes free for {shown}", stat.f_favail),
        )
    };
    vec![space, inodes]
}

/// The open-files limit against what the connection limits may hold open at once.
pub fn open_files(max_connections: usize, max_db_connections: u32) -> Check {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    // Each playback or upload holds its socket and a file; the database pool its
    // connections; listeners, logs and a margin the rest.
    let needed = 2 * max_connections as u64 + u64::from(max_db_connections) + 64;
    let Some(limit) = limit else {
        return Check::ok("open files", "no limit");
    };
    let fix = format!(
        "raise it to {needed} or more (LimitNOFILE={needed} in the systemd unit, ulimit -n), \
         or lower --max-connections"
    );
    let text = format!(
        "limit {limit}, and --max-connections {max_connections} with \
         --max-db-connections {max_db_connections} may need {needed}"
    );
    if limit < max_connections as u64 {
        Check::fail(
            "open files",
            format!("{text}: connections would fail; {fix}"),
        )
    } else if limit < needed {
        Check::warn("open files", format!("{text}; {fix}"))
    } else {
        Check::ok("open files", text)
    }
}
