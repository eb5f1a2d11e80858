//! Test harness: a stream server on 127.0.0.1:0 over a fresh temp dir or a fresh prefix
//! of a real S3-compatible server (moto, started once per test binary).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt;
use reel_core::clock::{Clock, ManualClock};
use reel_core::config::SiteConfig;
use reel_core::http::{Listener, ListenerConfig};
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
    listener: ListenerConfig,
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
            listener: ListenerConfig::default(),
            storage_options,
            key: SigningKey::random(),
            clock: Arc::new(ManualClock::new(start_ms)),
            store,
            prefix,
        }
    }

    /// The site of a server made of these parts, over the data dir `dir`.
    fn site(&self, dir: &TempDir) -> Site {
        let mut config = SiteConfig::default();
        config.db.data_dir = dir.path().to_owned();
        config.signing_key = Some(self.key.clone());
        Site::new(config)
            .with_clock(self.clock.clone())
            .with_storage(self.storage_options.clone())
    }

    /// A stream server's state on these parts, telling `notifier` of uploads.
    async fn state(&self, dir: &TempDir, notifier: Option<Arc<dyn UploadNotifier>>) -> StreamState {
        let notifier = notifier.unwrap_or_else(|| Arc::new(LogOnly));
        StreamState::build(self.config.clone(), &self.site(dir), notifier)
            .await
            .unwrap()
    }
}

/// What a killed server leaves behind.
pub struct Remains {
    /// Where it listened.
    pub addr: SocketAddr,
    /// What it was made of, naming its storage.
    parts: Parts,
    /// Its data dir, kept as long as the remains are.
    dir: TempDir,
}

impl Remains {
    /// The state of the next run on the same storage, telling `notifier` of uploads.
    pub async fn state(&self, notifier: Arc<dyn UploadNotifier>) -> StreamState {
        self.parts.state(&self.dir, Some(notifier)).await
    }
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
    /// The runtime the server and its background work run on, when it is not the
    /// test's: shutting it down ends them all, as the end of a process would.
    runtime: Option<tokio::runtime::Runtime>,
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

    /// A server whose configuration `tweak` adjusts, listening with `listener`'s limits.
    pub async fn spawn_listening(
        store: Store,
        tweak: impl FnOnce(&mut Config),
        listener: ListenerConfig,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut parts = Parts::new(store, T0, tweak, &dir);
        parts.listener = listener;
        Self::start(parts, dir, None, None).await
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
        Self::start(parts, dir, notifier, None).await
    }

    /// A server that tells the scheduler at `url` about uploads, as `reel stream
    /// --scheduler-url` does.
    pub async fn spawn_telling(store: Store, url: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let parts = Parts::new(store, T0, |_| {}, &dir);
        let intake = HttpIntake::new(url, parts.key.clone(), parts.clock.clone());
        Self::start(parts, dir, Some(Arc::new(intake)), None).await
    }

    /// A server as [`Self::spawn_with`] makes, on a runtime of its own, so that
    /// [`Self::kill`] can end everything it started.
    pub async fn spawn_killable(store: Store, notifier: Arc<dyn UploadNotifier>) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let parts = Parts::new(store, T0, |_| {}, &dir);
        Self::start(parts, dir, Some(notifier), Some(runtime)).await
    }

    /// Stops a server made by [`Self::spawn_killable`] as a killed process stops: its
    /// runtime is shut down, so its listener and every task it spawned (deliveries,
    /// retries) are gone when this returns, and so is its state. Its storage stays
    /// for the next server.
    pub async fn kill(mut self) -> Remains {
        let runtime = self
            .runtime
            .take()
            .expect("a server with a runtime of its own");
        tokio::task::spawn_blocking(move || runtime.shutdown_timeout(Duration::from_secs(60)))
            .await
            .unwrap();
        Remains {
            addr: self.addr,
            parts: self.parts(),
            dir: std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap()),
        }
    }

    async fn start(
        parts: Parts,
        dir: TempDir,
        notifier: Option<Arc<dyn UploadNotifier>>,
        runtime: Option<tokio::runtime::Runtime>,
    ) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let launch = async move {
            let state = parts.state(&dir, notifier).await;
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = tcp.local_addr().unwrap();
            let listener = Listener::new(tcp, parts.listener.clone());
            tokio::spawn(reel_stream::serve(listener, state.clone(), async {
                let _ = rx.await;
            }));
            (parts, dir, state, addr)
        };
        let (parts, dir, state, addr) = match &runtime {
            Some(runtime) => runtime.spawn(launch).await.unwrap(),
            None => launch.await,
        };
        let Parts {
            config,
            listener: _,
            storage_options,
            key,
            clock,
            store,
            prefix,
        } = parts;
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
            runtime,
            dir,
        }
    }

    /// The state of another stream node on this server's storage.
    pub async fn another_node(&self) -> StreamState {
        self.parts().state(&self.dir, None).await
    }

    /// What this server is made of, to start another on its storage.
    fn parts(&self) -> Parts {
        Parts {
            config: self.config.clone(),
            listener: ListenerConfig::default(),
            storage_options: self.storage_options.clone(),
            key: self.key.clone(),
            clock: self.clock.clone(),
            store: self.store,
            prefix: self.prefix.clone(),
        }
    }

    /// Stops this server and starts a new one on the same storage.
    pub async fn restart(mut self) -> Self {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let parts = self.parts();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Self::start(parts, dir, None, None).await
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
            allowance: None,
        }
        .sign(key)
    }

    /// A valid upload token for `video` whose owner's quota leaves `allowance` bytes.
    pub fn token_allowing(&self, video: VideoId, allowance: u64) -> String {
        UploadGrant {
            video,
            user: UserId::random(),
            expires_ms: self.clock.now_ms() + 3_600_000,
            allowance: Some(allowance),
        }
        .sign(&self.key)
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
            // A missing or unreadable folder fails the test: it would mean the store
            // keeps its files somewhere this cannot see, not that nothing is left.
            Store::Local => walkdir::WalkDir::new(self.dir.path().join("storage"))
                .into_iter()
                .map(|e| e.expect("the local store's folder is readable"))
                .filter(|e| e.file_name().to_string_lossy().contains('#'))
                .count(),
            Store::S3 => moto::multipart_uploads(&self.prefix).await,
        }
    }

    /// Polls `check` until it holds. The deadline is generous: it fails a test that
    /// would wait forever, and says nothing of how fast the server is.
    pub async fn eventually(&self, what: &str, check: impl AsyncFnMut() -> bool) {
        eventually(what, check).await;
    }
}

/// Polls `check` until it holds, failing the test after a minute.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A TCP relay on 127.0.0.1:0 to `upstream` that passes the first `allowed` bytes of
/// each answer, then holds the rest back until [`HoldBack::release`]: a client that
/// needs the whole answer before it hands out anything is stuck behind it.
pub struct HoldBack {
    /// Where to connect instead of `upstream`.
    pub addr: SocketAddr,
    /// Set to `true` to let everything through.
    released: tokio::sync::watch::Sender<bool>,
}

impl HoldBack {
    pub async fn start(upstream: SocketAddr, allowed: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (released, watch) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(upstream).await.unwrap();
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
                    let _ = to_server.shutdown().await;
                });
                let mut watch = watch.clone();
                tokio::spawn(async move {
                    let mut room = allowed;
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match from_server.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let mut sent = 0;
                        while sent < n {
                            let take = if *watch.borrow() {
                                n - sent
                            } else {
                                room.min(n - sent)
                            };
                            if take == 0 {
                                if watch.wait_for(|r| *r).await.is_err() {
                                    return;
                                }
                                continue;
                            }
                            if to_client.write_all(&buf[sent..sent + take]).await.is_err() {
                                return;
                            }
                            room = room.saturating_sub(take);
                            sent += take;
                        }
                    }
                    let _ = to_client.shutdown().await;
                });
            }
        });
        Self { addr, released }
    }

    /// Lets the held bytes, and all that follow, through.
    pub fn release(&self) {
        let _ = self.released.send(true);
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
        let n = tokio::time::timeout(Duration::from_secs(60), tcp.read(&mut byte))
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

    /// A PATCH that announces `announced` bytes, sends `bytes`, and hangs up; returns
    /// the half-closed socket, to be dropped once the server has read everything.
    pub async fn interrupted_patch(
        &self,
        offset: u64,
        bytes: &[u8],
        announced: usize,
    ) -> TcpStream {
        let head = format!(
            "PATCH {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
             Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n\
             Content-Length: {announced}\r\n\r\n",
            self.location,
            self.s.token(self.video)
        );
        let mut tcp = raw_send(self.s.addr, &head, bytes).await;
        tcp.shutdown().await.unwrap();
        tcp
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
