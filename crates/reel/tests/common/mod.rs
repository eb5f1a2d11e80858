//! Runs the real `reel` binary as a child process and talks to it over HTTP.
// Each test binary includes this module and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel"));
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
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
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

    /// Everything logged so far, one line each.
    pub fn log_text(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
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
