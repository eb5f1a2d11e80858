//! Two `reel api` processes on one PostgreSQL and one Redis see each other's log-ins and
//! log-outs at once, through Redis: the session is read from Redis by the test itself,
//! and the database row is removed before the second node is asked, so that node cannot
//! fall back to the shared database. Redis holds the session under the SHA-256 of its
//! id, never the id itself.

mod common;

use common::Reel;
use reel_core::ids::SessionId;
use reel_testkit::{DbKind, ScratchDb, redis_url};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The Redis key of a session.
fn redis_key(sid: &str) -> String {
    format!(
        "reel:session:{}",
        SessionId::parse(sid).unwrap().key().as_str()
    )
}

/// The session's entry in Redis, if any.
async fn cached(conn: &mut redis::aio::MultiplexedConnection, sid: &str) -> Option<Value> {
    let json: Option<String> = redis::cmd("GET")
        .arg(redis_key(sid))
        .query_async(conn)
        .await
        .expect("Redis answers");
    json.map(|j| serde_json::from_str(&j).expect("a session entry is JSON"))
}

#[tokio::test]
async fn two_api_nodes_share_sessions_through_redis() {
    let db = ScratchDb::new(DbKind::Postgres).await;
    let redis = redis_url();
    let data = tempfile::tempdir().unwrap();
    let key = "c2hhcmVkLWtleS1mb3ItYm90aC1ub2Rlcy0zMi1ieXRlcy1sb25n";
    let node = || {
        Reel::start(
            &["api", "--data-dir", data.path().to_str().unwrap()],
            &[
                ("REEL_DATABASE_URL", db.url()),
                ("REEL_REDIS_URL", redis.as_str()),
                ("REEL_SIGNING_KEY", key),
            ],
        )
    };
    let a = node();
    let b = node();
    let http = reqwest::Client::new();
    let me = |base: &str, sid: &str| {
        http.get(format!("{base}/user/alice"))
            .header("x-session-id", sid)
            .send()
    };
    let mut conn = redis::Client::open(redis.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    // Log in on A: the session is in Redis, under its prefix, with its expiry.
    let res = http
        .post(format!("{}/user", a.base))
        .json(&json!({"user_name": "alice", "pwd": "a long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let sid = res.json::<Value>().await.unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let entry = cached(&mut conn, &sid)
        .await
        .expect("the log-in reached Redis");
    assert_eq!(entry["user_name"], "alice");
    assert!(
        !entry.to_string().contains(&sid),
        "the entry holds no id: {entry}"
    );
    let raw: Option<String> = redis::cmd("GET")
        .arg(format!("reel:session:{sid}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(raw, None, "nothing is stored under the id itself");
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(redis_key(&sid))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl_ms > 0, "the entry expires with the session: {ttl_ms}");

    // With the row gone from the shared database, only Redis knows the session: B
    // accepts it from there.
    let rows = db.connect().await;
    rows.delete_session(&SessionId::parse(&sid).unwrap().key())
        .await
        .unwrap();
    assert_eq!(me(&b.base, &sid).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(&a.base, &sid).await.unwrap().status(), StatusCode::OK);

    // Log out on B: the entry that existed is gone from Redis, and A refuses the
    // session at once.
    assert!(cached(&mut conn, &sid).await.is_some());
    let res = http
        .delete(format!("{}/user/alice", b.base))
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        cached(&mut conn, &sid).await,
        None,
        "logout removed the key"
    );
    assert_eq!(
        me(&a.base, &sid).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&b.base, &sid).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    rows.close().await;
}
