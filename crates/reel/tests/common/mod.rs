//! Runs the real `reel` binary as a child process and talks to it over HTTP.
// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running `reel` process; killed when dropped.
pub struct Reel {
    /// The child process.
    child: Child,
    /// `http://127.0.0.1:PORT` of its main listener.
    pub base: String,
    /// Every log line it wrote so far (JSON, one object a line).
    pub logs: Arc<Mutex<Vec<String>>>,
}

impl Reel {
    /// Starts `reel <args> --listen 127.0.0.1:0 --log-format json` and waits until it
    /// says where it listens.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::launch(Command::new(env!("CARGO_BIN_EXE_reel")), args, env)
    }

    /// As [`Self::start`], with the open-files soft limit lowered to `soft` first, as
    /// systemd's default of 1,024 would leave a service.
    pub fn start_with_soft_nofile(args: &[&str], env: &[(&str, &str)], soft: u64) -> Self {
        let mut shell = Command::new("sh");
        shell.args([
            "-c",
            &format!("ulimit -Sn {soft} && exec \"$0\" \"$@\""),
            env!("CARGO_BIN_EXE_reel"),
        ]);
        Self::launch(shell, args, env)
    }

    fn launch(mut cmd: Command, args: &[&str], env: &[(&str, &str)]) -> Self {
        cmd.args(args)
            .args(["--listen", "127.0.0.1:0", "--log-format", "json"])
            .env_remove("REEL_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("reel starts");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // The main listener's line ends "is serving"; others (metrics) have addresses too.
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"]
                        .as_str()
                        .is_some_and(|m| m.ends_with("is serving"))
                    && let Some(addr) = v["fields"]["addr"].as_str()
                {
                    let _ = tx.send(addr.to_owned());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                panic!("reel did not start: {:?}", logs.lock().unwrap());
            }
        };
        Self {
            child,
            base: format!("http://{addr}"),
            logs,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A figure of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`), 0 when unreadable.
    pub fn status_kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with(field))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }

    /// Sends signal `name` (`TERM`, `KILL`, …) to the process, through the shell's own
    /// `kill`, so that no procps is needed.
    pub fn signal(&self, name: &str) {
        let sent = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{name} {}", self.child.id()))
            .status()
            .expect("sh runs");
        assert!(sent.success(), "could not send SIG{name}");
    }

    /// Kills the process with SIGKILL, as a crash would, and waits for it to be gone.
    pub fn kill(self) {
        drop(self);
    }

    /// Waits at most `within` for the process to exit; its exit code, `None` when a
    /// signal ended it.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .expect("the process can be waited for")
            {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "reel did not exit within {within:?}: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Everything logged so far, one line each.
    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(180) {
            if self.log_text().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no log line with {needle:?}: {}", self.log_text());
    }
}

impl Drop for Reel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client of a running site's API, carrying a session once it has one.
pub struct ApiClient {
    /// The HTTP client.
    http: reqwest::Client,
    /// Where the API's routes start: `http://…/api` under `reel serve`, the root of
    /// `reel api`.
    pub base: String,
    /// The session sent as `X-Session-Id`, once logged in.
    pub session: Option<String>,
}

impl ApiClient {
    pub fn new(base: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.into(),
            session: None,
        }
    }

    /// Sends `method path` with an optional JSON body; returns the status and the JSON
    /// answer (`Null` when there is none).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (reqwest::StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(sid) = &self.session {
            req = req.header("x-session-id", sid);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("the site answers");
        let status = res.status();
        let bytes = res.bytes().await.expect("a whole answer");
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("a JSON answer")
        };
        (status, json)
    }

    /// Registers (or, with `login`, logs in) and keeps the session; returns the answer.
    pub async fn sign_in(&mut self, name: &str, pwd: &str, login: bool) -> Value {
        let (path, expected) = if login {
            (format!("/user/{name}"), reqwest::StatusCode::OK)
        } else {
            ("/user".to_owned(), reqwest::StatusCode::CREATED)
        };
        let body = serde_json::json!({"user_name": name, "pwd": pwd});
        let (status, answer) = self.call(reqwest::Method::POST, &path, Some(body)).await;
        assert_eq!(status, expected, "{answer}");
        self.session = Some(answer["session_id"].as_str().unwrap().to_owned());
        answer
    }
}

impl ApiClient {
    /// Waits until processing of `user`'s video `vid` ends; returns the video as the
    /// owner sees it then (`ready` or `failed`).
    pub async fn processed(&self, user: &str, vid: &str) -> Value {
        let path = format!("/user/{user}/videos/{vid}");
        let mut last = Value::Null;
        eventually("the upload to be processed", async || {
            let (status, video) = self.call(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, reqwest::StatusCode::OK, "{video}");
            let done = video["status"] == "ready" || video["status"] == "failed";
            last = video;
            done
        })
        .await;
        last
    }
    /// Waits until processing has made the whole ladder (`processed`), which follows the
    /// first playable rendition, or has failed; the video's JSON then.
    pub async fn ladder_made(&self, user: &str, vid: &str) -> Value {
        let path = format!("/user/{user}/videos/{vid}");
        let mut last = Value::Null;
        eventually("the ladder to be made", async || {
            let (status, video) = self.call(reqwest::Method::GET, &path, None).await;
            assert_eq!(status, reqwest::StatusCode::OK, "{video}");
            let done = video["processed"] == true || video["status"] == "failed";
            last = video;
            done
        })
        .await;
        last
    }
}

/// Polls `check` until it holds; fails the test after three minutes (a deadline for a
/// busy machine running debug builds, not an expectation).
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until a deleted video's folder holds nothing but its tombstone, `state.json`.
pub async fn only_tombstone_left(dir: &Path) {
    eventually(
        &format!("{} to hold its tombstone alone", dir.display()),
        async || {
            let names: Vec<_> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            names == ["state.json"]
        },
    )
    .await;
}

/// Waits until `url` answers 410, as a deleted video does on every stream node within
/// seconds of its deletion.
pub async fn answers_gone(url: &str) {
    let http = reqwest::Client::new();
    eventually(&format!("{url} to answer 410"), async || {
        http.get(url).send().await.unwrap().status() == reqwest::StatusCode::GONE
    })
    .await;
}

/// A two-second H.264/AAC clip made with ffmpeg.
pub fn clip(dir: &Path) -> Vec<u8> {
    let path = dir.join("clip.mp4");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25:duration=2",
        ])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=2"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ])
        .args(["-c:a", "aac", "-shortest"])
        .arg(&path)
        .status()
        .expect("this test needs ffmpeg: apt-get install ffmpeg");
    assert!(status.success());
    std::fs::read(path).unwrap()
}

/// `len` bytes that sniff as MP4 (an `ftyp` box, then an `mdat` box) followed by a
/// pattern without a period that `seed` varies, so that bytes from two sources, or
/// from two places of one, cannot be confused.
pub fn mp4_bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut v = b"\0\0\0\x18ftypisom\0\0\x02\0isomiso2\0\0\0\0mdat".to_vec();
    v.extend((0..len.saturating_sub(v.len())).map(|i| pattern_byte(i as u64) ^ seed));
    v.truncate(len);
    v
}

/// Byte `i` of a pattern without a period (Fibonacci hashing of the position).
pub fn pattern_byte(i: u64) -> u8 {
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}
