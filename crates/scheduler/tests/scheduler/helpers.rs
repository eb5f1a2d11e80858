//! A scheduler on a fresh database and data dir per test, clips made with ffmpeg, and
//! ffprobe to check what processing made.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reel_core::config::SiteConfig;
use reel_core::db::{Db, NewVideo, TaskKind, TaskRecord, TaskState};
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::{SigningKey, service};
use reel_core::site::Site;
use reel_core::storage::{Storage, StorageOptions};
use reel_scheduler::{Config, SchedulerState};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// The database servers the suite runs on.
pub use reel_testkit::{DbKind, ScratchDb};

/// Creates a user and a video awaiting its upload, as the API does.
pub async fn new_video(db: &Db) -> VideoId {
    let user = UserId::random();
    let name = format!("u{}", &user.to_string()[..8]);
    db.create_user(user, &name, "not a real hash", 1_000)
        .await
        .expect("user");
    let id = VideoId::random();
    db.create_video(&NewVideo {
        id,
        author_id: user,
        name: "a clip".into(),
        create_time: reel_core::clock::system().now_ms(),
        visibility: reel_core::domain::Visibility::Public,
        description: String::new(),
    })
    .await
    .expect("video");
    id
}

/// A scheduler serving its intake on a free port, its runner running, on a fresh
/// SQLite database and data dir.
pub struct TestScheduler {
    /// The scheduler.
    pub scheduler: SchedulerState,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The service key the other services sign with.
    pub key: SigningKey,
    /// The data dir (storage under `storage/`).
    pub data: tempfile::TempDir,
    /// The database.
    pub scratch: ScratchDb,
    /// Stops it.
    stop: CancellationToken,
    /// The server, and the runner unless intake only.
    running: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Settings that make a test quick: short tick, lease and backoff.
pub fn quick(config: &mut Config) {
    config.tick = Duration::from_millis(50);
    config.lease = Duration::from_secs(30);
    config.retry_backoff = Duration::from_millis(100);
    config.retry_backoff_max = Duration::from_secs(1);
    config.max_attempts = 3;
    config.reconcile_every = Duration::from_secs(3600);
    config.shutdown_grace = Duration::from_secs(5);
}

/// The site options of a test: its scratch database, data dir and key.
pub fn site_config(scratch: &ScratchDb, data: &tempfile::TempDir, key: &SigningKey) -> SiteConfig {
    let mut site = SiteConfig::default();
    site.db.database_url = Some(scratch.url().to_owned());
    site.db.data_dir = data.path().to_owned();
    site.signing_key = Some(key.clone());
    site
}

impl TestScheduler {
    /// Starts a scheduler; `tweak` adjusts the quick settings.
    pub async fn start(tweak: impl FnOnce(&mut Config)) -> Self {
        let scratch = ScratchDb::new(DbKind::Sqlite).await;
        let data = tempfile::tempdir().expect("data dir");
        Self::start_on(scratch, data, true, tweak).await
    }

    /// Serves the intake alone, without running tasks, so that they stay as stored.
    pub async fn intake_only() -> Self {
        let scratch = ScratchDb::new(DbKind::Sqlite).await;
        let data = tempfile::tempdir().expect("data dir");
        Self::start_on(scratch, data, false, |_| {}).await
    }

    /// Starts a scheduler on a given database and data dir, running its tasks or not.
    pub async fn start_on(
        scratch: ScratchDb,
        data: tempfile::TempDir,
        run_tasks: bool,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_on_site(scratch, data, run_tasks, |site| site, tweak).await
    }

    /// Starts a scheduler whose videos live in `storage` (an S3 store, say).
    pub async fn start_on_storage(
        scratch: ScratchDb,
        data: tempfile::TempDir,
        storage: StorageOptions,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        Self::start_on_site(
            scratch,
            data,
            true,
            |site| site.with_storage(storage),
            tweak,
        )
        .await
    }

    /// Starts a scheduler on a site that `site` adjusts (another store, a controlled
    /// clock), running its tasks or not.
    pub async fn start_on_site(
        scratch: ScratchDb,
        data: tempfile::TempDir,
        run_tasks: bool,
        site: impl FnOnce(Site) -> Site,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let key = SigningKey::random();
        let mut config = Config::default();
        quick(&mut config);
        config.work_dir = Some(data.path().to_owned());
        tweak(&mut config);
        let site = site(Site::new(site_config(&scratch, &data, &key)));
        let scheduler = SchedulerState::build(config, &site)
            .await
            .expect("scheduler");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let running = if run_tasks {
            tokio::spawn(reel_scheduler::serve(
                listener,
                scheduler.clone(),
                stop.clone().cancelled_owned(),
            ))
        } else {
            let app = reel_scheduler::router(scheduler.clone());
            let shutdown = stop.clone().cancelled_owned();
            tokio::spawn(async move {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            })
        };
        Self {
            scheduler,
            base,
            key,
            data,
            scratch,
            stop,
            running,
        }
    }

    /// Stops the scheduler gracefully and hands back its database and data dir.
    pub async fn stop(self) -> (ScratchDb, tempfile::TempDir) {
        self.stop.cancel();
        self.running.await.unwrap().unwrap();
        self.scheduler.db().close().await;
        (self.scratch, self.data)
    }

    pub fn db(&self) -> &Db {
        self.scheduler.db()
    }

    pub fn storage(&self) -> &Storage {
        self.scheduler.storage()
    }

    /// The keys stored under the video's folder, sorted.
    pub async fn keys_of(&self, video: VideoId) -> Vec<String> {
        let prefix = reel_core::storage::keys::video_prefix(video);
        reel_testkit::keys_under(self.storage(), &prefix).await
    }

    /// Where the local store keeps `key`.
    pub fn path_of(&self, key: &str) -> PathBuf {
        self.data.path().join("storage").join(key)
    }

    /// The `Authorization` value for `method path`.
    pub fn signed(&self, method: &str, path: &str) -> String {
        service::authorization(&self.key, method, path, reel_core::clock::system().now_ms())
    }

    /// A signed request.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let bare = path.split('?').next().unwrap();
        reqwest::Client::new()
            .request(method.clone(), format!("{}{path}", self.base))
            .header("authorization", self.signed(method.as_str(), bare))
    }

    /// Stores `bytes` as the video's upload, as the stream server does.
    pub async fn upload(&self, video: VideoId, file: &Path) {
        let bytes = std::fs::read(file).expect("clip");
        self.storage()
            .put(
                &reel_core::storage::keys::original(video),
                bytes::Bytes::from(bytes),
            )
            .await
            .expect("upload");
    }

    /// Waits until the task reaches `state`, for three minutes at most (a deadline for
    /// a busy machine, not an expectation).
    pub async fn wait_for(&self, kind: TaskKind, video: VideoId, state: TaskState) -> TaskRecord {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(task) = self.db().task(kind, video).await
                && task.state == state
            {
                return task;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{kind} task of {video} never reached {state}: {:?}",
                self.db().task(kind, video).await
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Makes a clip with ffmpeg in `dir`; fails the test with a clear message when ffmpeg
/// is missing, so that a machine without it never skips these tests silently.
pub fn clip(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let out = dir.join(name);
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| {
            panic!("ffmpeg is required by the processing tests (apt-get install ffmpeg): {e}")
        });
    assert!(status.success(), "ffmpeg could not make {name}");
    out
}

/// A one-second 320×240 H.264/AAC clip named `name` in `dir`.
pub fn tiny_clip(dir: &Path, name: &str) -> PathBuf {
    let mut args = lavfi_inputs("320x240", 1);
    args.extend(
        [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    clip(dir, name, &args)
}

/// The test pattern and a tone, `seconds` long, at `size` (`WxH`).
pub fn lavfi_inputs(size: &str, seconds: u32) -> Vec<String> {
    vec![
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("testsrc=size={size}:rate=25:duration={seconds}"),
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!("sine=frequency=440:duration={seconds}"),
    ]
}

/// ffprobe's JSON view of a file's streams and format.
pub fn ffprobe(file: &Path) -> Value {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
        ])
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("ffprobe is required by the processing tests: {e}"));
    assert!(
        out.status.success(),
        "ffprobe cannot read {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The stream of `codec_type` in an ffprobe view.
pub fn stream<'a>(probe: &'a Value, codec_type: &str) -> Option<&'a Value> {
    probe["streams"]
        .as_array()?
        .iter()
        .find(|s| s["codec_type"] == codec_type)
}

/// The MD5 of a file's first video stream's packets: equal when the stream was copied.
pub fn video_packets_md5(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0:v:0", "-c", "copy", "-f", "md5", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The top-level boxes of an MP4, in order.
pub fn mp4_boxes(file: &Path) -> Vec<String> {
    let bytes = std::fs::read(file).unwrap();
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        let size = if size == 1 {
            u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize
        } else if size == 0 {
            bytes.len() - at
        } else {
            size
        };
        at += size.max(8);
    }
    boxes
}
