//! Test harness: a stream server on 127.0.0.1:0 over a fresh temp dir or a fresh prefix
//! of a real S3-compatible server (moto, started once per test binary).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use reel_core::clock::{Clock, ManualClock};
use reel_core::config::SiteConfig;
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::{SigningKey, UploadGrant};
use reel_core::site::Site;
use reel_core::storage::{Storage, StorageOptions};
use reel_stream::{Config, HttpIntake, LogOnly, StreamState, UploadNotifier};
use reel_testkit::moto;
use reqwest::StatusCode;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Where a test's bytes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// A temp dir.
    Local,
    /// A fresh prefix in the moto bucket.
    S3,
}

/// The harness of `reel_testkit::per_backend!`: each test sets up its own server or
/// storage on the store it is given.
pub async fn on_store(store: Store, test: impl AsyncFnOnce(Store)) {
    test(store).await;
}
/// The clock's start: far from zero so expiry arithmetic is realistic.
pub const T0: i64 = 1_750_000_000_000;

/// Storage options for `store` under `dir` (local) or a fresh prefix (S3).
pub fn storage_options(store: Store, dir: &TempDir) -> (StorageOptions, String) {
    match store {
        Store::Local => {
            let options = StorageOptions {
                data_dir: dir.path().to_owned(),
                ..StorageOptions::default()
            };
            (options, String::new())
        }
        Store::S3 => moto::s3_storage(dir.path()),
    }
}

/// A store of the kind `store`, alone, in a fresh temp dir (kept alive by the caller).
pub async fn open_storage(store: Store) -> (Storage, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (options, _) = storage_options(store, &dir);
    (Storage::open(&options).await.unwrap(), dir)
}

/// Bytes `range` of the object `key`, read whole.
pub async fn read(storage: &Storage, key: &str, range: std::ops::Range<u64>) -> Vec<u8> {
    let parts: Vec<Bytes> = storage
        .read_range(key, range)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    parts.concat()
}

/// `len` bytes of a pattern that `seed` varies.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

/// What a test server is made of, kept to restart it.
struct Parts {
    config: Config,
    storage_options: StorageOptions,
    key: SigningKey,
    clock: Arc<ManualClock>,
    store: Store,
    prefix: String,
}

impl Parts {
    fn new(store: Store, start_ms: i64, tweak: impl FnOnce(&mut Config), dir: &TempDir) -> Self {
        let (storage_options, prefix) = storage_options(store, dir);
        let mut config = Config {
            notify_backoff: Duration::from_millis(10),
            ..Config::default()
        };
        tweak(&mut config);
        Self {
            config,
            storage_options,
            key: SigningKey::random(),
            clock: Arc::new(ManualClock::new(start_ms)),
            store,
            prefix,
        }
    }
}

/// The site of a test server: its key, clock and storage, over the data dir `dir`.
fn site(
    key: &SigningKey,
    clock: &Arc<ManualClock>,
    storage: &StorageOptions,
    dir: &TempDir,
) -> Site {
    let mut config = SiteConfig::default();
    config.db.data_dir = dir.path().to_owned();
    config.signing_key = Some(key.clone());
    Site::new(config)
        .with_clock(clock.clone())
        .with_storage(storage.clone())
}

/// A running stream server.
pub struct TestServer {
    /// Its address.
    pub addr: SocketAddr,
    /// The key upload tokens are signed with.
    pub key: SigningKey,
    /// The server's clock.
    pub clock: Arc<ManualClock>,
    /// The server's state (storage, limiter).
    pub state: StreamState,
    /// The configuration it was built from, to restart it.
    pub config: Config,
    /// Where its bytes live, to restart it on the same storage.
    pub storage_options: StorageOptions,
    /// An HTTP client.
    pub client: reqwest::Client,
    /// Which store.
    pub store: Store,
    /// The S3 prefix of this test.
    pub prefix: String,
    /// Stops the server when sent or dropped.
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The data dir, removed at drop.
    pub dir: TempDir,
}

impl TestServer {
    /// A server with the default configuration but small limits tweaked by `tweak`.
    pub async fn spawn(store: Store) -> Self {
        Self::spawn_with(store, |_| {}, None).await
    }

    /// A server whose configuration `tweak` adjusts, with an optional notifier.
    pub async fn spawn_with(
        store: Store,
        tweak: impl FnOnce(&mut Config),
        notifier: Option<Arc<dyn UploadNotifier>>,
    ) -> Self {
        Self::spawn_at(store, T0, tweak, notifier).await
    }

    /// A server whose clock starts at `start_ms` (the wall clock's time, for tests that
    /// compare it with the dates storage gives objects).
    pub async fn spawn_at(
        store: Store,
        start_ms: i64,
        tweak: impl FnOnce(&mut Config),
        notifier: Option<Arc<dyn UploadNotifier>>,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let parts = Parts::new(store, start_ms, tweak, &dir);
        Self::start(parts, dir, notifier).await
    }

    /// A server that tells the scheduler at `url` about uploads, as `reel stream
    /// --scheduler-url` does.
    pub async fn spawn_telling(store: Store, url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let parts = Parts::new(store, T0, |_| {}, &dir);
        let intake = HttpIntake::new(url, parts.key.clone(), parts.clock.clone());
        Self::start(parts, dir, Some(Arc::new(intake))).await
    }

    /// The state a test server is built from, as `config` and `notifier` say.
    pub async fn state(
        &self,
        config: Config,
        notifier: Option<Arc<dyn UploadNotifier>>,
    ) -> StreamState {
        let site = site(&self.key, &self.clock, &self.storage_options, &self.dir);
        let notifier = notifier.unwrap_or_else(|| Arc::new(LogOnly));
        StreamState::build(config, &site, notifier).await.unwrap()
    }

    async fn start(parts: Parts, dir: TempDir, notifier: Option<Arc<dyn UploadNotifier>>) -> Self {
        let Parts {
            config,
            storage_options,
            key,
            clock,
            store,
            prefix,
        } = parts;
        let site = site(&key, &clock, &storage_options, &dir);
        let notifier = notifier.unwrap_or_else(|| Arc::new(LogOnly));
        let state = StreamState::build(config.clone(), &site, notifier)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(reel_stream::serve(listener, state.clone(), async {
            let _ = rx.await;
        }));
        Self {
            addr,
            key,
            clock,
            state,
            config,
            storage_options,
            client: reqwest::Client::new(),
            store,
            prefix,
            shutdown: Some(tx),
            dir,
        }
    }

    /// Stops this server and starts a new one on the same storage.
    pub async fn restart(mut self) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let parts = Parts {
            config: self.config.clone(),
            storage_options: self.storage_options.clone(),
            key: self.key.clone(),
            clock: self.clock.clone(),
            store: self.store,
            prefix: self.prefix.clone(),
        };
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::start(parts, dir, None).await
    }

    /// The storage the server uses.
    pub fn storage(&self) -> &Storage {
        self.state.storage()
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A valid upload token for `video`, expiring in an hour of server time.
    pub fn token(&self, video: VideoId) -> String {
        self.token_with(&self.key, video, self.clock.now_ms() + 3_600_000)
    }

    /// A token signed by `key`, expiring at `expires_ms`.
    pub fn token_with(&self, key: &SigningKey, video: VideoId, expires_ms: i64) -> String {
        UploadGrant {
            video,
            user: UserId::random(),
            expires_ms,
        }
        .sign(key)
    }

    /// The API's `upload_url` for `video`.
    pub fn upload_url(&self, video: VideoId) -> String {
        self.url(&format!("/upload/{video}?token={}", self.token(video)))
    }

    /// Uploads `bytes` as `video` with `PUT`; panics unless it is accepted.
    pub async fn put_video(&self, video: VideoId, bytes: Vec<u8>) {
        let r = self
            .client
            .put(self.upload_url(video))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }

    /// The keys stored under the video's folder, sorted.
    pub async fn keys_of(&self, video: VideoId) -> Vec<String> {
        let prefix = reel_core::storage::keys::video_prefix(video);
        reel_testkit::keys_under(self.storage(), &prefix).await
    }

    /// The notes of the resumable uploads staged now.
    pub async fn tus_notes(&self) -> Vec<String> {
        reel_testkit::keys_under(self.storage(), reel_core::storage::keys::TUS_INDEX_PREFIX).await
    }

    /// How many unfinished writes remain: staged files (`{key}#{n}`, beside their
    /// key) on disk, multipart uploads on S3.
    pub async fn temporaries(&self) -> usize {
        match self.store {
            Store::Local => walkdir::WalkDir::new(self.dir.path().join("storage"))
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().contains('#'))
                .count(),
            Store::S3 => moto::multipart_uploads(&self.prefix).await,
        }
    }

    /// Polls `check` for up to five seconds.
    pub async fn eventually(&self, what: &str, mut check: impl AsyncFnMut() -> bool) {
        for _ in 0..100 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for: {what}");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// `len` bytes that sniff as MP4: an `ftyp` box, then an `mdat` box of a
/// deterministic pattern.
pub fn mp4_bytes(len: usize) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2\0\0\0\0mdat".to_vec();
    v.extend((0..len.saturating_sub(v.len())).map(|i| (i * 31 % 251) as u8));
    v.truncate(len);
    v
}

/// `len` bytes that sniff as WebM: an EBML header, then a Segment of unknown size.
pub fn webm_bytes(len: usize) -> Vec<u8> {
    let mut v = b"\x1A\x45\xDF\xA3\x8F\x42\x86\x81\x01\x42\xF7\x81\x01\x42\x82\x84webm\
                  \x18\x53\x80\x67\x01\xFF\xFF\xFF\xFF\xFF\xFF\xFF"
        .to_vec();
    v.resize(len, 0x11);
    v
}

/// Sends a raw request head and `body`, without closing; returns the socket.
pub async fn raw_send(addr: SocketAddr, head: &str, body: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    tcp.flush().await.unwrap();
    tcp
}

/// Reads a response head (through the blank line) from `tcp`.
pub async fn read_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut byte))
            .await
            .expect("response head in time")
            .unwrap();
        if n == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A byte payload as `Bytes`.
pub fn b(v: &[u8]) -> Bytes {
    Bytes::copy_from_slice(v)
}

/// A tus session of one upload.
pub struct Tus<'a> {
    /// The server.
    pub s: &'a TestServer,
    /// The upload URL (path and query).
    pub location: String,
    /// The video.
    pub video: VideoId,
}

impl<'a> Tus<'a> {
    pub async fn create(s: &'a TestServer, video: VideoId, length: usize) -> Tus<'a> {
        let r = s
            .client
            .post(s.url(&format!("/upload/{video}/tus")))
            .bearer_auth(s.token(video))
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length.to_string())
            .header("upload-metadata", "filename YS5tcDQ=")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{:?}", r.text().await);
        assert_eq!(r.headers()["tus-resumable"], "1.0.0");
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&format!("/upload/{video}/tus/")));
        Tus { s, location, video }
    }

    pub async fn offset(&self) -> u64 {
        let r = self
            .s
            .client
            .head(self.s.url(&self.location))
            .bearer_auth(self.s.token(self.video))
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["cache-control"], "no-store");
        r.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    pub async fn patch(&self, offset: u64, bytes: &[u8]) -> reqwest::Response {
        self.s
            .client
            .patch(self.s.url(&self.location))
            .bearer_auth(self.s.token(self.video))
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// A PATCH that announces `announced` bytes, sends `bytes`, and hangs up.
    pub async fn interrupted_patch(&self, offset: u64, bytes: &[u8], announced: usize) {
        let head = format!(
            "PATCH {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
             Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n\
             Content-Length: {announced}\r\n\r\n",
            self.location,
            self.s.token(self.video)
        );
        let mut tcp = raw_send(self.s.addr, &head, bytes).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        tcp.shutdown().await.unwrap();
    }
}

/// `GET /videos/{v}`: the status and the bytes.
pub async fn play(s: &TestServer, v: VideoId) -> (StatusCode, Vec<u8>) {
    let r = s
        .client
        .get(s.url(&format!("/videos/{v}")))
        .send()
        .await
        .unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

/// Bodies that are no video: descriptions that ffmpeg, left to guess their format, would
/// follow onto the network, and text whose first bytes happen to match a container's
/// magic number (each of which a magic-number sniffer took for a video).
pub fn disguised_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let text = |head: &str| {
        let mut v = head.as_bytes().to_vec();
        while v.len() < 4096 {
            v.extend_from_slice(b"nothing but words on a line of plain text\n");
        }
        v
    };
    let mut lucky_sync = text("GET /watch?v=1 HTTP/1.1\n");
    lucky_sync[188] = b'G';
    vec![
        (
            "SDP",
            text(
                "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                 m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n",
            ),
        ),
        (
            "HLS playlist",
            text("#EXTM3U\n#EXTINF:10,\nhttp://127.0.0.1:9/segment.ts\n#EXT-X-ENDLIST\n"),
        ),
        ("text with MPEG-TS sync bytes", lucky_sync),
        (
            "text starting OggS",
            text("OggS are what Ogg pages start with\n"),
        ),
        ("text with ftyp", text("waftyp is no box\n")),
        ("text with mdat", text("say mdat and hope\n")),
    ]
}
