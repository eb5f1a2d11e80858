//! Account administration and the audit log, for every kind of reader: anonymous,
//! user, moderator, admin, banned; and bans seen by every node at once.

use reel_core::account::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DbKind, PASSWORD, TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        the_account_list_is_for_moderators_and_admins,
        moderators_may_only_ban_and_admins_may_do_all,
        the_audit_log_is_for_admins,
        a_ban_ends_sessions_cached_by_every_node,
    ]
);

reel_testkit::per_backend!(
    [
        redis_sqlite => reel_testkit::DbKind::Sqlite,
        redis_mysql => reel_testkit::DbKind::MySql,
        redis_postgres => reel_testkit::DbKind::Postgres,
    ],
    crate::admin::with_redis,
    [a_ban_ends_sessions_in_redis]
);

/// An API whose sessions live in the test Redis.
async fn with_redis(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let url = reel_testkit::redis_url();
    let app = TestApp::spawn_with(kind, |c| c.redis_url = Some(url)).await;
    test(&app).await;
    app.finish().await;
}

async fn the_account_list_is_for_moderators_and_admins(app: &TestApp) {
    let alice = app.signup("alice").await;
    app.signup("alfred").await;
    app.signup("bob").await;
    let moderator = app.signup_as("mod", Role::Moderator).await;
    let admin = app.signup_as("root", Role::Admin).await;
    let res = app.call(Method::GET, "/admin/users", None, None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .call(Method::GET, "/admin/users", Some(&alice), None)
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;

    let names = |list: &Value| -> Vec<String> {
        list["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_name"].as_str().unwrap().to_owned())
            .collect()
    };
    let found = app
        .ok(
            Method::GET,
            "/admin/users?q=AL",
            Some(&moderator),
            None,
            StatusCode::OK,
        )
        .await;
    let mut got = names(&found);
    got.sort();
    assert_eq!(got, ["alfred", "alice"]);
    // Moderators see roles and bans; only admins see quotas.
    assert!(found["users"][0].get("quota").is_none(), "{found}");
    assert_eq!(found["users"][0]["role"], "user");
    let all = app
        .ok(
            Method::GET,
            "/admin/users?limit=2",
            Some(&admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert!(all["users"][0]["quota"].is_object());
    let mut seen = names(&all);
    let mut cursor = all["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let page = app
            .ok(
                Method::GET,
                &format!("/admin/users?limit=2&cursor={c}"),
                Some(&admin),
                None,
                StatusCode::OK,
            )
            .await;
        seen.extend(names(&page));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    seen.sort();
    assert_eq!(seen, ["alfred", "alice", "bob", "mod", "root"]);
    // Wildcards are searched for as text.
    let none = app
        .ok(
            Method::GET,
            "/admin/users?q=%25",
            Some(&admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(none["users"], json!([]));
    let path = format!("/admin/users?q={}", "x".repeat(65));
    let res = app.call(Method::GET, &path, Some(&admin), None).await;
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
}

async fn moderators_may_only_ban_and_admins_may_do_all(app: &TestApp) {
    let alice = app.signup("alice").await;
    let moderator = app.signup_as("mod", Role::Moderator).await;
    let admin = app.signup_as("root", Role::Admin).await;
    let patch = |body: Value| Some(body);
    let res = app
        .call(
            Method::PATCH,
            "/admin/users/alice",
            None,
            patch(json!({"banned": true})),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .call(
            Method::PATCH,
            "/admin/users/mod",
            Some(&alice),
            patch(json!({"banned": true})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    for body in [
        json!({"role": "admin"}),
        json!({"approved": true}),
        json!({"bytes_limit": 5}),
        json!({"banned": true, "daily_bytes_limit": 5}),
    ] {
        let res = app
            .call(
                Method::PATCH,
                "/admin/users/alice",
                Some(&moderator),
                patch(body),
            )
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Moderators ban plain users, not staff, not themselves.
    let res = app
        .call(
            Method::PATCH,
            "/admin/users/root",
            Some(&moderator),
            patch(json!({"banned": true})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app
        .call(
            Method::PATCH,
            "/admin/users/mod",
            Some(&moderator),
            patch(json!({"banned": true})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    let banned = app
        .ok(
            Method::PATCH,
            "/admin/users/alice",
            Some(&moderator),
            patch(json!({"banned": true, "note": "spam"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(banned["banned"], true);
    // The banned user's session is over: every endpoint treats them as logged out.
    let res = app
        .call(Method::GET, "/admin/users", Some(&alice), None)
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .call(
            Method::PATCH,
            "/admin/users/mod",
            Some(&alice),
            patch(json!({"banned": true})),
        )
        .await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;

    // Admins change roles (not their own), approvals and quotas.
    let promoted = app
        .ok(
            Method::PATCH,
            "/admin/users/mod",
            Some(&admin),
            patch(json!({"role": "admin"})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(promoted["role"], "admin");
    // The new role applies to the session the user already has.
    app.ok(
        Method::GET,
        "/admin/audit",
        Some(&moderator),
        None,
        StatusCode::OK,
    )
    .await;
    let res = app
        .call(
            Method::PATCH,
            "/admin/users/root",
            Some(&admin),
            patch(json!({"role": "user"})),
        )
        .await;
    assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    for bad in [
        json!({}),
        json!({"role": "root"}),
        json!({"banned": "yes"}),
        json!({"colour": "red"}),
        json!({"banned": true, "note": ""}),
    ] {
        let res = app
            .call(
                Method::PATCH,
                "/admin/users/alice",
                Some(&admin),
                patch(bad),
            )
            .await;
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }
    let res = app
        .call(
            Method::PATCH,
            "/admin/users/nobody",
            Some(&admin),
            patch(json!({"banned": true})),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    let back = app
        .ok(
            Method::PATCH,
            "/admin/users/alice",
            Some(&admin),
            patch(json!({"banned": false})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(back["banned"], false);
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

async fn the_audit_log_is_for_admins(app: &TestApp) {
    let alice = app.signup("alice").await;
    let moderator = app.signup_as("mod", Role::Moderator).await;
    let admin = app.signup_as("root", Role::Admin).await;
    let res = app.call(Method::GET, "/admin/audit", None, None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for session in [&alice, &moderator] {
        let res = app
            .call(Method::GET, "/admin/audit", Some(session), None)
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    app.ok(
        Method::PATCH,
        "/admin/users/alice",
        Some(&admin),
        Some(json!({"bytes_limit": 1000, "note": "small"})),
        StatusCode::OK,
    )
    .await;
    app.clock.advance(1);
    app.ok(
        Method::PATCH,
        "/admin/users/alice",
        Some(&moderator),
        Some(json!({"banned": true})),
        StatusCode::OK,
    )
    .await;
    let log = app
        .ok(
            Method::GET,
            "/admin/audit?limit=1",
            Some(&admin),
            None,
            StatusCode::OK,
        )
        .await;
    let entry = &log["entries"][0];
    assert_eq!(entry["actor"], "mod");
    assert_eq!(entry["action"], "ban");
    assert_eq!(entry["target"], "alice");
    assert_eq!(entry["target_kind"], "user");
    assert!(entry["time"].as_str().unwrap().ends_with('Z'), "{entry}");
    let next = log["next_cursor"].as_str().unwrap();
    let rest = app
        .ok(
            Method::GET,
            &format!("/admin/audit?cursor={next}"),
            Some(&admin),
            None,
            StatusCode::OK,
        )
        .await;
    // The roles given by the test's set-up come first in time: the command line's.
    let first = rest["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "set_quota")
        .cloned()
        .unwrap();
    assert_eq!(first["actor"], "root");
    assert_eq!(first["note"], "1000 bytes: small");
    assert!(
        rest["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == "(command line)" && e["action"] == "set_role")
    );
}

async fn a_ban_ends_sessions_cached_by_every_node(app: &TestApp) {
    let alice = app.signup("alice").await;
    let admin = app.signup_as("root", Role::Admin).await;
    // Another node of the site, with its own in-process cache, has seen the session.
    let other = app.another_node().await;
    let id = reel_core::ids::SessionId::parse(&alice).unwrap();
    assert!(other.sessions().lookup(&id).await.unwrap().is_some());
    // The ban is made on this node, or by `reel user ban` in another process: the
    // other node's cache still holds the session, but its next request is refused.
    let user = app.db().user_by_name("alice").await.unwrap();
    let actor = reel_core::db::Actor {
        name: reel_core::db::COMMAND_LINE,
        note: None,
        now_ms: 1,
    };
    app.db()
        .change_account(&user, reel_core::db::AccountChange::Banned(true), &actor)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(reel_api::serve(listener, other.clone(), async {
        let _ = stopped.await;
    }));
    let res = app
        .client
        .get(format!("{base}/user/alice"))
        .header("x-session-id", &alice)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // And the session is over in the database too.
    assert!(app.db().session_keys_of(user.id).await.unwrap().is_empty());
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    other.db().close().await;
    // Through the API, the ban also ends the sessions on the node that bans.
    let bob = app.signup("bob").await;
    app.ok(
        Method::PATCH,
        "/admin/users/bob",
        Some(&admin),
        Some(json!({"banned": true})),
        StatusCode::OK,
    )
    .await;
    let res = app.call(Method::GET, "/user/bob", Some(&bob), None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

async fn a_ban_ends_sessions_in_redis(app: &TestApp) {
    let alice = app.signup("alice").await;
    let admin = app.signup_as("root", Role::Admin).await;
    let other = app.another_node().await;
    let id = reel_core::ids::SessionId::parse(&alice).unwrap();
    assert!(other.sessions().lookup(&id).await.unwrap().is_some());
    let client = redis::Client::open(reel_testkit::redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("reel:session:{}", id.key().as_str());
    let cached: bool = redis::AsyncCommands::exists(&mut conn, &key).await.unwrap();
    assert!(cached, "the session is in Redis");
    app.ok(
        Method::PATCH,
        "/admin/users/alice",
        Some(&admin),
        Some(json!({"banned": true})),
        StatusCode::OK,
    )
    .await;
    let cached: bool = redis::AsyncCommands::exists(&mut conn, &key).await.unwrap();
    assert!(!cached, "the ban removed the session from Redis");
    assert!(other.sessions().lookup(&id).await.unwrap().is_none());
    other.db().close().await;
}
