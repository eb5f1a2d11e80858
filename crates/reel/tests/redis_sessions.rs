//! Two `reel api` processes on one PostgreSQL and one Redis see each other's log-ins and
//! log-outs at once.

mod common;

use common::Reel;
use reel_testkit::{DbKind, ScratchDb, redis_url};
use reqwest::StatusCode;
use serde_json::{Value, json};

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

    // Log in on A; B accepts the session at once.
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
    assert_eq!(me(&b.base, &sid).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(&a.base, &sid).await.unwrap().status(), StatusCode::OK);

    // Log out on B; A refuses the session at once.
    let res = http
        .delete(format!("{}/user/alice", b.base))
        .header("x-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        me(&a.base, &sid).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me(&b.base, &sid).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );

    // The session lived in Redis, under its prefix, and is gone from it.
    let client = redis::Client::open(redis.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("reel:session:{sid}"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!exists);
}
