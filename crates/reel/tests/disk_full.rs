//! The disk filling up under uploads to a real `reel stream`. Its data dir is a 16 MiB
//! filesystem of the test's own (a size-limited tmpfs, else a loop-mounted image), so
//! the machine's disk is never filled; without a way to make one the test fails, it is
//! never skipped. A full disk is answered with a 507 and a JSON body, nothing of the
//! upload becomes visible, and the space is given back.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Reel, eventually, mp4_bytes};
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::{SigningKey, UploadGrant};
use reqwest::StatusCode;
use serde_json::Value;

const MIB: u64 = 1024 * 1024;
/// The size of the test's filesystem.
const SIZE_MIB: u64 = 16;

/// A small filesystem mounted by the test, unmounted when dropped.
struct SmallFs {
    /// The mount point.
    dir: tempfile::TempDir,
    /// The image file behind a loop mount, if that is what it is.
    _image: Option<tempfile::NamedTempFile>,
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl SmallFs {
    fn mount() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().to_str().unwrap();
        let size = format!("size={SIZE_MIB}m");
        let tmpfs = run("mount", &["-t", "tmpfs", "-o", &size, "tmpfs", at]);
        if tmpfs.is_ok() {
            return Self { dir, _image: None };
        }
        let image = tempfile::NamedTempFile::new().unwrap();
        image.as_file().set_len(SIZE_MIB * MIB).unwrap();
        let path = image.path().to_str().unwrap();
        let looped = run("mkfs.ext4", &["-q", "-F", "-m", "0", path])
            .and_then(|()| run("mount", &["-o", "loop", path, at]));
        match looped {
            Ok(()) => Self {
                dir,
                _image: Some(image),
            },
            Err(e) => panic!(
                "this test needs a small filesystem of its own, and could make none \
                 (run it as root): tmpfs: {}; loop image: {e}",
                tmpfs.unwrap_err()
            ),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes in use on it.
    fn used(&self) -> u64 {
        let out = Command::new("df")
            .args(["-B1", "--output=used"])
            .arg(self.path())
            .output()
            .expect("df runs");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .nth(1)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("df said {text:?}"))
    }
}

impl Drop for SmallFs {
    fn drop(&mut self) {
        let _ = run("umount", &["-l", self.dir.path().to_str().unwrap()]);
    }
}

/// A token for `video`, valid for an hour.
fn token(key: &SigningKey, video: VideoId) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    UploadGrant {
        video,
        user: UserId::random(),
        expires_ms: now.as_millis() as i64 + 3_600_000,
        allowance: None,
    }
    .sign(key)
}

/// Asserts a 507 with the JSON error body.
async fn insufficient_storage(res: reqwest::Response) {
    assert_eq!(res.status(), StatusCode::INSUFFICIENT_STORAGE);
    let body: Value = res.json().await.expect("a JSON error body");
    assert_eq!(body["code"], "insufficient_storage", "{body}");
    assert!(body["error"].as_str().unwrap().contains("full"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_507_shows_nothing_and_gives_the_space_back() {
    let fs = SmallFs::mount();
    let key = SigningKey::random();
    let node = Reel::start(
        &["stream", "--data-dir", fs.path().to_str().unwrap()],
        &[("REEL_SIGNING_KEY", key.to_base64().as_str())],
    );
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let before = fs.used();
    let too_big = mp4_bytes((SIZE_MIB + 8) as usize * MIB as usize, 3);

    // A plain upload larger than the room left.
    let video = VideoId::random();
    let res = http
        .put(format!("{}/upload/{video}", node.base))
        .bearer_auth(token(&key, video))
        .body(too_big.clone())
        .send()
        .await
        .expect("an answer before the body is all sent");
    insufficient_storage(res).await;
    let played = http
        .get(format!("{}/videos/{video}", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        played.status(),
        StatusCode::NOT_FOUND,
        "nothing half-visible"
    );
    eventually("the space to be given back", async || {
        fs.used() <= before + MIB
    })
    .await;

    // A resumable upload: the PATCH that fills the disk gets a 507, what was stored is
    // what HEAD reports, nothing plays, and terminating the upload frees its space.
    let video = VideoId::random();
    let grant = token(&key, video);
    let res = http
        .post(format!("{}/upload/{video}/tus", node.base))
        .bearer_auth(&grant)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", too_big.len().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let location = format!(
        "{}{}",
        node.base,
        res.headers()["location"].to_str().unwrap()
    );
    let res = http
        .patch(&location)
        .bearer_auth(&grant)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(too_big.clone())
        .send()
        .await
        .expect("an answer before the body is all sent");
    insufficient_storage(res).await;
    let head = http
        .head(&location)
        .bearer_auth(&grant)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    let offset: u64 = head.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(offset < too_big.len() as u64, "offset {offset}");
    let played = http
        .get(format!("{}/videos/{video}", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        played.status(),
        StatusCode::NOT_FOUND,
        "nothing half-visible"
    );
    let res = http
        .delete(&location)
        .bearer_auth(&grant)
        .header("tus-resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    eventually("the space to be given back", async || {
        fs.used() <= before + MIB
    })
    .await;

    // With the space back, an upload that fits is stored whole.
    let fits = mp4_bytes(4 * MIB as usize, 4);
    let video = VideoId::random();
    let res = http
        .put(format!("{}/upload/{video}", node.base))
        .bearer_auth(token(&key, video))
        .body(fits.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let played = http
        .get(format!("{}/videos/{video}", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(played.status(), StatusCode::OK);
    assert!(played.bytes().await.unwrap() == fits);
    node.kill();
}
