//! Redis, the session cache two `reel api` processes share, crashes and comes back empty
//! while they serve. Sessions stay usable through the database meanwhile, and a log-out
//! is never forgotten: not one made during the outage, and not one that races lookups
//! on the other node while Redis holds nothing yet, each of which reads the session
//! from the database and writes it back to Redis. Everything is seen through the HTTP
//! API alone, as a client sees it; the Redis server is the test's own.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::{Reel, eventually};
use reel_testkit::redis_server::RedisServer;
use reel_testkit::{DbKind, ScratchDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Sessions whose log-out races lookups on the other node.
const RACES: usize = 8;
/// Lookups running at once on the other node during each race.
const LOOKUPS: usize = 4;

/// Registers `name` on the node at `base`; returns the session id.
async fn register(http: &reqwest::Client, base: &str, name: &str) -> String {
    let res = http
        .post(format!("{base}/user"))
        .json(&json!({"user_name": name, "pwd": "a long password"}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["session_id"].as_str().unwrap().to_owned()
}

/// What the node at `base` answers to `name`'s session asking for `name`'s account.
async fn me(http: &reqwest::Client, base: &str, name: &str, sid: &str) -> StatusCode {
    http.get(format!("{base}/user/{name}"))
        .header("x-session-id", sid)
        .send()
        .await
        .expect("the API answers")
        .status()
}

/// Logs `name`'s session out on the node at `base`: the status and the JSON body.
async fn logout(http: &reqwest::Client, base: &str, name: &str, sid: &str) -> (StatusCode, Value) {
    let res = http
        .delete(format!("{base}/user/{name}"))
        .header("x-session-id", sid)
        .send()
        .await
        .expect("the API answers");
    let status = res.status();
    let bytes = res.bytes().await.unwrap();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("a JSON error body")
    };
    (status, body)
}

/// Asserts that every node answers `expected` to the session.
async fn on_every_node(
    http: &reqwest::Client,
    nodes: &[&Reel],
    name: &str,
    sid: &str,
    expected: StatusCode,
) {
    for node in nodes {
        assert_eq!(
            me(http, &node.base, name, sid).await,
            expected,
            "{name}'s session on {}",
            node.base
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_outlive_a_redis_crash_and_no_logout_is_forgotten() {
    let mut redis = RedisServer::start();
    let db = ScratchDb::new(DbKind::Postgres).await;
    let data = tempfile::tempdir().unwrap();
    let redis_url = redis.url();
    let node = || {
        Reel::start(
            &["api", "--data-dir", data.path().to_str().unwrap()],
            &[
                ("REEL_DATABASE_URL", db.url()),
                ("REEL_REDIS_URL", redis_url.as_str()),
                (
                    "REEL_SIGNING_KEY",
                    "b3V0YWdlLXRlc3Qta2V5LWZvci1ib3RoLWFwaS1ub2Rlcw",
                ),
            ],
        )
    };
    let (a, b) = (node(), node());
    let both = [&a, &b];
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();

    // Before the crash: sessions work on both nodes, and a log-out on one is seen by both.
    let alice = register(&http, &a.base, "alice").await;
    let mut racers = Vec::new();
    for i in 0..RACES {
        let name = format!("racer{i}");
        let sid = register(&http, &b.base, &name).await;
        racers.push((name, sid));
    }
    let bob = register(&http, &b.base, "bob").await;
    on_every_node(&http, &both, "bob", &bob, StatusCode::OK).await;
    assert_eq!(
        logout(&http, &a.base, "bob", &bob).await.0,
        StatusCode::NO_CONTENT
    );
    on_every_node(&http, &both, "bob", &bob, StatusCode::UNAUTHORIZED).await;

    // Redis crashes: both nodes still accept the sessions, from the database, and a
    // log-in made meanwhile works on both.
    redis.kill();
    on_every_node(&http, &both, "alice", &alice, StatusCode::OK).await;
    let carol = register(&http, &b.base, "carol").await;
    on_every_node(&http, &both, "carol", &carol, StatusCode::OK).await;

    // A log-out during the outage either takes, and then no node accepts the session,
    // or fails with a server error the client can see (and retries).
    let (status, body) = logout(&http, &a.base, "alice", &alice).await;
    let logged_out = match status {
        StatusCode::NO_CONTENT => {
            on_every_node(&http, &both, "alice", &alice, StatusCode::UNAUTHORIZED).await;
            true
        }
        s if s.is_server_error() => {
            assert!(body["code"].is_string(), "a JSON error body: {body}");
            false
        }
        s => panic!("a log-out during the outage answered {s}: {body}"),
    };

    // Redis comes back, empty. A log-out that failed is retried until it takes (or
    // finds the session already gone); either way no node accepts the session again.
    redis.restart();
    if !logged_out {
        eventually("a log-out once Redis is back", async || {
            let (s, _) = logout(&http, &a.base, "alice", &alice).await;
            s == StatusCode::NO_CONTENT || s == StatusCode::UNAUTHORIZED
        })
        .await;
    }
    on_every_node(&http, &both, "alice", &alice, StatusCode::UNAUTHORIZED).await;
    on_every_node(&http, &both, "carol", &carol, StatusCode::OK).await;
    assert_eq!(
        logout(&http, &b.base, "carol", &carol).await.0,
        StatusCode::NO_CONTENT
    );
    on_every_node(&http, &both, "carol", &carol, StatusCode::UNAUTHORIZED).await;

    // Redis knows none of the sessions made before the crash: B's lookups read each
    // from the database and write it back, while A logs it out. Once the lookups are
    // over, no node may accept the session.
    for (name, sid) in &racers {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let lookups: Vec<_> = (0..LOOKUPS)
            .map(|_| {
                let (http, base) = (http.clone(), b.base.clone());
                let (name, sid) = (name.clone(), sid.clone());
                let (stop, served) = (stop.clone(), served.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let status = me(&http, &base, &name, &sid).await;
                        assert!(
                            status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
                            "a lookup racing the log-out answered {status}"
                        );
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        eventually("B to be looking the session up", async || {
            served.load(Ordering::Relaxed) >= LOOKUPS
        })
        .await;
        let (status, body) = logout(&http, &a.base, name, sid).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        stop.store(true, Ordering::Relaxed);
        for lookup in lookups {
            lookup.await.unwrap();
        }
        on_every_node(&http, &both, name, sid, StatusCode::UNAUTHORIZED).await;
    }
}
