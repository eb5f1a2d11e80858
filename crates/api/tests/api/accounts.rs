//! Roles, the user JSON's role, ban and quota, and the registration modes.

use reel_api::Registration;
use reel_core::account::Role;
use reel_core::clock::Clock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{DbKind, PASSWORD, TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        the_user_json_shows_role_ban_and_quota_to_self_and_admins,
        quotas_count_originals_and_follow_overrides,
        banned_users_cannot_log_in,
    ]
);

reel_testkit::per_backend!(
    [
        approval_sqlite => reel_testkit::DbKind::Sqlite,
        approval_mysql => reel_testkit::DbKind::MySql,
        approval_postgres => reel_testkit::DbKind::Postgres,
    ],
    crate::accounts::with_approval,
    [registration_can_await_approval]
);

reel_testkit::per_backend!(
    [
        closed_sqlite => reel_testkit::DbKind::Sqlite,
        closed_mysql => reel_testkit::DbKind::MySql,
        closed_postgres => reel_testkit::DbKind::Postgres,
    ],
    crate::accounts::with_closed,
    [registration_can_be_closed]
);

/// An API that approves registrations.
async fn with_approval(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(kind, |c| c.registration = Registration::Approval).await;
    test(&app).await;
    app.finish().await;
}

/// An API that takes no registrations.
async fn with_closed(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(kind, |c| c.registration = Registration::Closed).await;
    test(&app).await;
    app.finish().await;
}

const GIB: i64 = 1 << 30;

async fn the_user_json_shows_role_ban_and_quota_to_self_and_admins(app: &TestApp) {
    let alice = app.signup("alice").await;
    let bob = app.signup("bob").await;
    let moderator = app.signup_as("mod", Role::Moderator).await;
    let admin = app.signup_as("root", Role::Admin).await;

    let me = app
        .ok(
            Method::GET,
            "/user/alice",
            Some(&alice),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(me["user_name"], "alice");
    assert_eq!(me["role"], "user");
    assert_eq!(me["banned"], false);
    assert_eq!(
        me["quota"],
        json!({"bytes_used": 0, "bytes_limit": 10 * GIB, "daily_bytes_used": 0,
               "daily_bytes_limit": null})
    );
    let mine = app
        .ok(
            Method::GET,
            "/user/mod",
            Some(&moderator),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(mine["role"], "moderator");

    // Admins read anyone's account with its quota; nobody else does.
    let seen = app
        .ok(
            Method::GET,
            "/user/alice",
            Some(&admin),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(seen["user_name"], "alice");
    assert!(seen["quota"].is_object(), "{seen}");
    for other in [&bob, &moderator] {
        let res = app
            .call(Method::GET, "/user/alice", Some(other), None)
            .await;
        assert_error(res, StatusCode::FORBIDDEN, "forbidden").await;
    }
    let res = app.call(Method::GET, "/user/alice", None, None).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "unauthorized").await;
    let res = app
        .call(Method::GET, "/user/nobody", Some(&admin), None)
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
}

/// Records an upload of `size` bytes landing for `video` now, as the scheduler's intake
/// does.
async fn set_size(app: &TestApp, video: &Value, size: i64) {
    let id = reel_core::ids::VideoId::parse(video["id"].as_str().unwrap()).unwrap();
    let now = app.clock.now_ms();
    assert!(app.db().record_upload(id, size, now).await.unwrap());
}

async fn quotas_count_originals_and_follow_overrides(app: &TestApp) {
    let alice = app.signup("alice").await;
    let admin = app.signup_as("root", Role::Admin).await;
    let first = app.create_video("alice", &alice, "first").await;
    set_size(app, &first, 1000).await;
    let quota = |v: Value| v["quota"].clone();
    let me = app
        .ok(
            Method::GET,
            "/user/alice",
            Some(&alice),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(quota(me)["bytes_used"], 1000);

    // Admins override either limit: bytes, null for unlimited, "default" back.
    let patch = json!({"bytes_limit": 5000, "daily_bytes_limit": 2000, "note": "trusted"});
    let changed = app
        .ok(
            Method::PATCH,
            "/admin/users/alice",
            Some(&admin),
            Some(patch),
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        quota(changed),
        json!({"bytes_used": 1000, "bytes_limit": 5000, "daily_bytes_used": 1000,
               "daily_bytes_limit": 2000})
    );
    let patch = json!({"bytes_limit": null});
    let changed = app
        .ok(
            Method::PATCH,
            "/admin/users/alice",
            Some(&admin),
            Some(patch),
            StatusCode::OK,
        )
        .await;
    assert_eq!(quota(changed)["bytes_limit"], Value::Null);
    let patch = json!({"bytes_limit": "default", "daily_bytes_limit": "default"});
    let changed = app
        .ok(
            Method::PATCH,
            "/admin/users/alice",
            Some(&admin),
            Some(patch),
            StatusCode::OK,
        )
        .await;
    assert_eq!(quota(changed.clone())["bytes_limit"], 10 * GIB);
    assert_eq!(quota(changed)["daily_bytes_limit"], Value::Null);
    for bad in [json!({"bytes_limit": -5}), json!({"bytes_limit": "lots"})] {
        let res = app
            .call(Method::PATCH, "/admin/users/alice", Some(&admin), Some(bad))
            .await;
        assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    }

    // A day later the first video no longer counts against the daily quota; deleting
    // it frees its bytes.
    app.clock.advance(25 * 3600 * 1000);
    let alice = app
        .login("alice", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = app
        .ok(
            Method::GET,
            "/user/alice",
            Some(&alice),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(quota(me.clone())["bytes_used"], 1000);
    assert_eq!(quota(me)["daily_bytes_used"], 0);
    let path = format!("/user/alice/videos/{}", first["id"].as_str().unwrap());
    app.ok(
        Method::DELETE,
        &path,
        Some(&alice),
        None,
        StatusCode::NO_CONTENT,
    )
    .await;
    let me = app
        .ok(
            Method::GET,
            "/user/alice",
            Some(&alice),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(quota(me)["bytes_used"], 0);
}

async fn banned_users_cannot_log_in(app: &TestApp) {
    app.signup("alice").await;
    let admin = app.signup_as("root", Role::Admin).await;
    let ban = json!({"banned": true});
    let user = app
        .ok(
            Method::PATCH,
            "/admin/users/alice",
            Some(&admin),
            Some(ban),
            StatusCode::OK,
        )
        .await;
    assert_eq!(user["banned"], true);
    assert_error(
        app.login("alice", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "banned",
    )
    .await;
    // A wrong password says nothing of the ban.
    assert_error(
        app.login("alice", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
    )
    .await;
    let unban = json!({"banned": false});
    app.ok(
        Method::PATCH,
        "/admin/users/alice",
        Some(&admin),
        Some(unban),
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

async fn registration_can_await_approval(app: &TestApp) {
    let admin_sid = {
        // The first admin comes from the command line on such a site; here, the DB.
        let id = reel_core::ids::UserId::random();
        let hash = reel_api::hash_password(&reel_core::domain::Password::parse(PASSWORD).unwrap())
            .unwrap();
        app.db().create_user(id, "root", &hash, 1).await.unwrap();
        app.set_role("root", Role::Admin).await;
        let res = app.login("root", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json::<Value>().await.unwrap()["session_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let res = app.register("carol", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert!(res.headers().get("set-cookie").is_none());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body, json!({"success": true, "pending": true}));
    assert_error(
        app.login("carol", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "pending_approval",
    )
    .await;
    assert_error(
        app.login("carol", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
    )
    .await;
    // Admins see the pending account and approve it; moderators cannot.
    let list = app
        .ok(
            Method::GET,
            "/admin/users?q=car",
            Some(&admin_sid),
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(list["users"][0]["user_name"], "carol");
    assert_eq!(list["users"][0]["approved"], false);
    let approve = json!({"approved": true});
    let user = app
        .ok(
            Method::PATCH,
            "/admin/users/carol",
            Some(&admin_sid),
            Some(approve),
            StatusCode::OK,
        )
        .await;
    assert_eq!(user["approved"], true);
    assert_eq!(app.login("carol", PASSWORD).await.status(), StatusCode::OK);
}

async fn registration_can_be_closed(app: &TestApp) {
    assert_error(
        app.register("dave", PASSWORD).await,
        StatusCode::FORBIDDEN,
        "registration_closed",
    )
    .await;
    // Nothing was stored.
    assert_error(
        app.login("dave", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
    )
    .await;
}
