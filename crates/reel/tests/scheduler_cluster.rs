//! Two real `reel scheduler` processes share one database (PostgreSQL, then MariaDB)
//! and 500 deletion tasks written as the API's delete writes them; one process is
//! killed with SIGKILL midway. Every file must be deleted, no task lost, and no task
//! run by both processes at once (checked from the executions they log).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reel_core::db::{Db, NewVideo, TaskState};
use reel_core::ids::{UserId, VideoId};
use reel_core::signing::SigningKey;
use reel_core::storage::{Storage, StorageOptions, keys};
use reel_testkit::{DbKind, ScratchDb};
use serde_json::Value;

const TASKS: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_postgres_share_the_work_and_survive_a_kill() {
    cluster(DbKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_on_mariadb_share_the_work_and_survive_a_kill() {
    cluster(DbKind::MySql).await;
}

/// A `reel scheduler` process and the JSON lines it logged.
struct Scheduler {
    /// The process.
    child: Child,
    /// Every line it logged.
    logs: Arc<Mutex<Vec<String>>>,
}

impl Scheduler {
    fn start(url: &str, data: &std::path::Path, key: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reel"))
            .args([
                "scheduler",
                "--listen",
                "127.0.0.1:0",
                "--log-format",
                "json",
            ])
            .arg("--data-dir")
            .arg(data)
            .args(["--database-url", url, "--signing-key", key])
            .args(["--task-lease", "5s", "--task-tick", "100ms"])
            .args(["--task-concurrency", "4", "--task-batch-size", "4"])
            .env("REEL_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("reel starts");
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let scheduler = Self { child, logs };
        let started = Instant::now();
        while !scheduler.logged("scheduler is serving") {
            assert!(
                started.elapsed() < Duration::from_secs(180),
                "reel scheduler did not start: {:?}",
                scheduler.logs.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        scheduler
    }

    /// Sends a signal (`STOP`, `CONT`) to the process.
    fn signal(&self, name: &str) {
        // The shell's own `kill`, so that no procps is needed.
        let sent = Command::new("sh")
            .arg("-c")
            .arg(format!("kill -{name} {}", self.child.id()))
            .status()
            .expect("sh runs");
        assert!(sent.success(), "could not send SIG{name}");
    }

    fn logged(&self, message: &str) -> bool {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(message))
    }

    /// How this process names itself in leases (`host:pid`).
    fn owns(&self, owner: &str) -> bool {
        owner.ends_with(&format!(":{}", self.child.id()))
    }

    /// Each task's runs: (task id, start µs, end µs if it finished).
    fn executions(&self) -> Vec<(String, i64, Option<i64>)> {
        let mut open: HashMap<String, i64> = HashMap::new();
        let mut runs = Vec::new();
        for line in self.logs.lock().unwrap().iter() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let (Some(message), Some(task), Some(at)) = (
                v["fields"]["message"].as_str(),
                v["span"]["task"].as_str(),
                v["timestamp"].as_str().and_then(micros),
            ) else {
                continue;
            };
            match message {
                "task started" => {
                    open.insert(task.to_owned(), at);
                }
                "task finished" => {
                    let start = open.remove(task).expect("a finish follows a start");
                    runs.push((task.to_owned(), start, Some(at)));
                }
                _ => {}
            }
        }
        runs.extend(open.into_iter().map(|(task, start)| (task, start, None)));
        runs
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Microseconds since the epoch of an RFC 3339 UTC timestamp (`2025-11-26T01:02:03.456789Z`).
fn micros(ts: &str) -> Option<i64> {
    let (date, time) = ts.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<i64>());
    let (h, min, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let digits = &format!("{fraction:0<6}")[..6];
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60 + s) * 1_000_000) + digits.parse::<i64>().ok()?)
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as i64
}

/// Waits until the database runs no statement for any other session, so that those a
/// frozen process had already sent have landed.
async fn settled(db: &Db, backend: DbKind) {
    let running = match backend {
        DbKind::Postgres => {
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state = 'active'"
        }
        DbKind::MySql => {
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = DATABASE() \
             AND ID <> CONNECTION_ID() AND COMMAND = 'Query'"
        }
        DbKind::Sqlite => unreachable!("the cluster runs on a database server"),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (n,): (i64,) = sqlx::query_as(running).fetch_one(db.pool()).await.unwrap();
        if n == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{n} statements never finished");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn count(db: &Db, state: TaskState) -> usize {
    db.tasks(Some(state), 1000).await.unwrap().len()
}

async fn cluster(backend: DbKind) {
    let scratch = ScratchDb::new(backend).await;
    let url = scratch.url();
    let db = scratch.connect().await;
    let data = tempfile::tempdir().unwrap();
    let storage = Storage::open(&StorageOptions {
        data_dir: data.path().to_owned(),
        ..StorageOptions::default()
    })
    .await
    .unwrap();

    // 500 videos with their files, deleted as the API deletes them.
    let user = UserId::random();
    db.create_user(user, "cluster", "not a real hash", 1)
        .await
        .unwrap();
    let mut videos = Vec::new();
    for i in 0..TASKS {
        let video = VideoId::random();
        videos.push(video);
        db.create_video(&NewVideo {
            id: video,
            author_id: user,
            name: format!("video {i}"),
            create_time: i as i64,
            visibility: reel_core::domain::Visibility::Public,
            description: String::new(),
        })
        .await
        .unwrap();
        for key in [
            keys::original(video),
            keys::poster(video),
            keys::hls(video, "360p/seg_000.ts").unwrap(),
        ] {
            storage
                .put(&key, key.as_bytes().to_vec().into())
                .await
                .unwrap();
        }
        db.delete_video(video, 1_000 + i as i64).await.unwrap();
    }
    assert_eq!(db.pending_deletions(1000).await.unwrap().len(), TASKS);

    let key = SigningKey::random().to_base64();
    let mut victim = Scheduler::start(url, data.path(), &key);
    let survivor = Scheduler::start(url, data.path(), &key);

    // Kill one midway, while it holds leases.
    let held_by_victim = |victim: &Scheduler, tasks: Vec<reel_core::db::TaskRecord>| {
        tasks
            .into_iter()
            .filter(|t| t.lease_owner.as_deref().is_some_and(|o| victim.owns(o)))
            .map(|t| t.id)
            .collect::<Vec<_>>()
    };
    let started = Instant::now();
    let orphaned = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the schedulers made no progress"
        );
        if count(&db, TaskState::Done).await >= TASKS / 5 {
            // Freeze it, let the statements it already sent land, and see what it holds:
            // a scheduler between two claims holds nothing, and killing it then would
            // prove nothing.
            victim.signal("STOP");
            settled(&db, backend).await;
            let running = db.tasks(Some(TaskState::Running), 1000).await.unwrap();
            let held = held_by_victim(&victim, running);
            if !held.is_empty() {
                break held;
            }
            victim.signal("CONT");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    victim.child.kill().unwrap();
    let killed_at = now_micros();
    victim.child.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&db, TaskState::Done).await < TASKS {
        assert!(
            Instant::now() < deadline,
            "tasks were lost: {} done, {} running, {} pending, {} failed",
            count(&db, TaskState::Done).await,
            count(&db, TaskState::Running).await,
            count(&db, TaskState::Pending).await,
            count(&db, TaskState::Failed).await,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut tombstones: Vec<String> = videos.iter().map(|v| keys::video_state(*v)).collect();
    tombstones.sort();
    assert_eq!(
        reel_testkit::keys_under(&storage, keys::VIDEOS_PREFIX).await,
        tombstones,
        "every file is deleted but the videos' tombstones"
    );
    assert!(db.pending_deletions(10).await.unwrap().is_empty());
    let tasks = db.tasks(Some(TaskState::Done), 1000).await.unwrap();
    for id in &orphaned {
        let task = tasks.iter().find(|t| t.id == *id).unwrap();
        assert!(task.attempts >= 2, "taken over after the kill: {task:?}");
        assert!(survivor.owns(task.lease_owner.as_deref().unwrap()));
    }

    // No task ran in both processes at once: the killed one's unfinished runs end at
    // the kill, and every run of a task ends before its next one starts.
    let mut runs: HashMap<String, Vec<(i64, i64)>> = HashMap::new();
    for (task, start, end) in victim.executions() {
        runs.entry(task)
            .or_default()
            .push((start, end.unwrap_or(killed_at)));
    }
    for (task, start, end) in survivor.executions() {
        let end = end.unwrap_or(i64::MAX);
        if orphaned.iter().any(|id| id.to_string() == task) {
            assert!(
                start >= killed_at,
                "task {task} was taken over before the kill"
            );
        }
        runs.entry(task).or_default().push((start, end));
    }
    assert_eq!(runs.len(), TASKS, "every task ran");
    for (task, mut spans) in runs {
        spans.sort();
        for pair in spans.windows(2) {
            assert!(
                pair[0].1 <= pair[1].0,
                "task {task} ran twice at once: {spans:?}"
            );
        }
    }
    db.close().await;
}
