use reel_core::db::DbError;
use reel_core::ids::SessionId;
use reqwest::{Method, StatusCode};

use crate::helpers::{DbKind, TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        sessions_expire_after_the_ttl,
        active_sessions_are_renewed_without_a_write_per_request,
        the_sweep_purges_expired_sessions,
        a_cache_miss_falls_back_to_the_database,
        a_new_node_warms_its_cache_from_the_database,
        a_database_failure_is_an_error_not_a_logged_out_session,
        session_ids_are_stored_hashed
    ]
);

reel_testkit::per_backend!(
    [
        sqlite_max_lifetime => reel_testkit::DbKind::Sqlite,
        mysql_max_lifetime => reel_testkit::DbKind::MySql,
        postgres_max_lifetime => reel_testkit::DbKind::Postgres,
    ],
    crate::sessions::with_two_hour_sessions,
    [sessions_end_at_their_maximum_lifetime_however_used]
);

/// An API whose sessions live two hours at most.
async fn with_two_hour_sessions(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(kind, |c| {
        c.session_max_lifetime = std::time::Duration::from_secs(2 * 3600);
    })
    .await;
    test(&app).await;
    app.finish().await;
}

const MINUTE: i64 = 60_000;

async fn status(app: &TestApp, sid: &str) -> StatusCode {
    app.as_user(Method::GET, "/user/alice", sid)
        .send()
        .await
        .unwrap()
        .status()
}

/// The session row's expiry; `None` when there is no row. Any other failure fails the
/// test: an error is not an absent session.
async fn stored_expiry(app: &TestApp, sid: &str) -> Option<i64> {
    match app
        .db()
        .session(&SessionId::parse(sid).unwrap().key())
        .await
    {
        Ok(s) => Some(s.expires_at_ms),
        Err(DbError::NotFound) => None,
        Err(e) => panic!("reading the session row: {e}"),
    }
}

async fn sessions_expire_after_the_ttl(app: &TestApp) {
    let sid = app.signup("alice").await;
    assert_eq!(status(app, &sid).await, StatusCode::OK);
    app.clock.advance(31 * MINUTE);
    let res = app
        .as_user(Method::GET, "/user/alice", &sid)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // Refused for good, and gone from the database.
    assert_eq!(stored_expiry(app, &sid).await, None);
    app.clock.advance(-31 * MINUTE);
    assert_eq!(status(app, &sid).await, StatusCode::UNAUTHORIZED);
}

async fn active_sessions_are_renewed_without_a_write_per_request(app: &TestApp) {
    let sid = app.signup("alice").await;
    let created = stored_expiry(app, &sid).await.unwrap();
    // Early in its life a session is used without touching the database.
    app.clock.advance(5 * MINUTE);
    assert_eq!(status(app, &sid).await, StatusCode::OK);
    assert_eq!(stored_expiry(app, &sid).await, Some(created));
    // Past half its life, use renews it, in the database too.
    app.clock.advance(15 * MINUTE);
    assert_eq!(status(app, &sid).await, StatusCode::OK);
    let renewed = stored_expiry(app, &sid).await.unwrap();
    assert_eq!(renewed, created + 20 * MINUTE);
    // 40 minutes after log-in, past the original expiry, it still works.
    app.clock.advance(20 * MINUTE);
    assert_eq!(status(app, &sid).await, StatusCode::OK);
}

async fn the_sweep_purges_expired_sessions(app: &TestApp) {
    let old = app.signup("alice").await;
    app.clock.advance(20 * MINUTE);
    let fresh = app.signup("bob").await;
    app.clock.advance(11 * MINUTE);
    let purged = app.state.sessions().sweep().await.unwrap();
    assert_eq!(purged, 1);
    assert_eq!(stored_expiry(app, &old).await, None);
    assert!(stored_expiry(app, &fresh).await.is_some());
}

async fn a_cache_miss_falls_back_to_the_database(app: &TestApp) {
    let sid = app.signup("alice").await;
    let record = app
        .db()
        .session(&SessionId::parse(&sid).unwrap().key())
        .await
        .unwrap();
    // A session written by another node straight to the database.
    let mut other = record.clone();
    let other_id = SessionId::random();
    other.key = other_id.key();
    app.db().insert_session(&other).await.unwrap();
    assert_eq!(status(app, other_id.expose()).await, StatusCode::OK);
}

async fn a_new_node_warms_its_cache_from_the_database(app: &TestApp) {
    let sid = app.signup("alice").await;
    let id = SessionId::parse(&sid).unwrap();
    // A second node on the same database, started after the log-in.
    let node = app.another_node().await;
    // With the row gone, only a warmed cache can still know the session.
    app.db().delete_session(&id.key()).await.unwrap();
    let found = node.sessions().lookup(&id).await.unwrap();
    assert_eq!(found.map(|s| s.user_name), Some("alice".to_owned()));
    // A node started now finds nothing to warm.
    let late = app.another_node().await;
    assert!(late.sessions().lookup(&id).await.unwrap().is_none());
}

async fn a_database_failure_is_an_error_not_a_logged_out_session(app: &TestApp) {
    let sid = app.signup("alice").await;
    // A session this node has never cached: checking it needs the database.
    let mut other = app
        .db()
        .session(&SessionId::parse(&sid).unwrap().key())
        .await
        .unwrap();
    let other_id = SessionId::random();
    other.key = other_id.key();
    app.db().insert_session(&other).await.unwrap();
    // The database goes away.
    app.db().close().await;
    let res = app
        .as_user(Method::GET, "/user/alice", other_id.expose())
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
    // A cached session past half its life must be renewed in the database.
    app.clock.advance(20 * MINUTE);
    let res = app
        .as_user(Method::GET, "/user/alice", &sid)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, "internal").await;
}

async fn session_ids_are_stored_hashed(app: &TestApp) {
    let sid = app.signup("alice").await;
    let stored: Vec<String> = sqlx::query_scalar("SELECT session_id FROM sessions")
        .fetch_all(app.db().pool())
        .await
        .unwrap();
    // The row holds the SHA-256 of the id, which is not a session anyone can present.
    let sha256 = SessionId::parse(&sid).unwrap().key();
    assert_eq!(stored, vec![sha256.as_str().to_owned()]);
    assert!(!stored[0].contains(&sid));
    assert_eq!(status(app, &stored[0]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        status(app, &stored[0][..32]).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status(app, &sid).await, StatusCode::OK);
    // Renewal and log-out find the row by the same key.
    app.clock.advance(20 * MINUTE);
    assert_eq!(status(app, &sid).await, StatusCode::OK);
    assert!(stored_expiry(app, &sid).await.is_some());
    let res = app
        .as_user(Method::DELETE, "/user/alice", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(stored_expiry(app, &sid).await, None);
}

async fn sessions_end_at_their_maximum_lifetime_however_used(app: &TestApp) {
    let sid = app.signup("alice").await;
    let created = stored_expiry(app, &sid).await.unwrap() - 30 * MINUTE;
    // Used every 20 minutes, the session is renewed, but never past two hours.
    for _ in 0..5 {
        app.clock.advance(20 * MINUTE);
        assert_eq!(status(app, &sid).await, StatusCode::OK);
    }
    // 100 minutes in: renewed up to the two hours, not 30 minutes from now.
    assert_eq!(stored_expiry(app, &sid).await, Some(created + 120 * MINUTE));
    app.clock.advance(19 * MINUTE);
    assert_eq!(status(app, &sid).await, StatusCode::OK);
    app.clock.advance(MINUTE);
    let res = app
        .as_user(Method::GET, "/user/alice", &sid)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(stored_expiry(app, &sid).await, None);
}
