use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::helpers::with_app,
    [
        register_logs_the_user_in,
        register_refuses_bad_input,
        register_refuses_a_taken_name,
        racing_registrations_of_one_name_leave_one_user,
        bodies_over_64_kib_are_refused,
        login_checks_the_password,
        login_refuses_bad_input,
        user_info_is_for_the_owner_only,
        logout_ends_the_session,
        logout_refuses_other_users_and_bad_names,
        health_and_readiness
    ]
);

#[tokio::test]
async fn secure_cookies_are_marked_secure() {
    let app = crate::helpers::TestApp::spawn_with(crate::helpers::DbKind::Sqlite, |c| {
        c.secure_cookies = true
    })
    .await;
    let res = app.register("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    app.finish().await;
}

async fn register_logs_the_user_in(app: &TestApp) {
    let res = app.register("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let cookie = res
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    let sid = body["session_id"].as_str().unwrap();
    assert_eq!(sid.len(), 32);
    assert!(cookie.starts_with(&format!("reel_session={sid}")));
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"));

    let me = app
        .as_user(Method::GET, "/user/alice", sid)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["user_name"], "alice");
    assert!(me["id"].as_str().is_some());

    // The stored password is an argon2id hash, never the password.
    let user = app.db().user_by_name("alice").await.unwrap();
    assert!(user.pwd_hash.starts_with("$argon2id$"));
    assert!(!user.pwd_hash.contains(PASSWORD));
}

async fn register_refuses_bad_input(app: &TestApp) {
    for (name, pwd) in [
        ("ab", PASSWORD),
        (&"a".repeat(65) as &str, PASSWORD),
        ("bad name", PASSWORD),
        ("émile", PASSWORD),
        ("alice", "short"),
        ("alice", &"p".repeat(257)),
    ] {
        assert_error(
            app.register(name, pwd).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("not json", Some("application/json")),
        ("{\"user_name\": \"alice\"}", Some("application/json")),
        (
            "{\"user_name\": 5, \"pwd\": \"12345678\"}",
            Some("application/json"),
        ),
        ("{\"user_name\": \"alice\", \"pwd\": \"12345678\"}", None),
        ("[]", Some("application/json")),
    ];
    for (body, content_type) in cases {
        let mut req = app.request(Method::POST, "/user").body(body.to_owned());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        assert_error(
            req.send().await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        )
        .await;
    }
    // Nothing was stored by the refused requests.
    assert_error(
        app.login("alice", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
    )
    .await;
}

async fn register_refuses_a_taken_name(app: &TestApp) {
    app.signup("alice").await;
    let res = app.register("alice", "another password").await;
    assert_error(res, StatusCode::CONFLICT, "conflict").await;
    // The first account still works with its own password.
    assert_eq!(app.login("alice", PASSWORD).await.status(), StatusCode::OK);
}

/// Registrations of one name sent at once: one gets 201, every other a 409, and the
/// name is the winner's, with the winner's password alone.
async fn racing_registrations_of_one_name_leave_one_user(app: &TestApp) {
    const RACERS: usize = 6;
    let passwords: Vec<String> = (0..RACERS).map(|i| format!("{PASSWORD} {i}")).collect();
    let racing: Vec<_> = passwords
        .iter()
        .map(|pwd| {
            let request = app
                .request(Method::POST, "/user")
                .json(&json!({"user_name": "alice", "pwd": pwd}));
            tokio::spawn(request.send())
        })
        .collect();
    let mut winners = Vec::new();
    for (i, racer) in racing.into_iter().enumerate() {
        let res = racer.await.unwrap().unwrap();
        if res.status() == StatusCode::CREATED {
            winners.push(i);
        } else {
            assert_error(res, StatusCode::CONFLICT, "conflict").await;
        }
    }
    assert_eq!(winners.len(), 1, "one registration wins: {winners:?}");
    let winner = winners[0];
    assert_eq!(
        app.login("alice", &passwords[winner]).await.status(),
        StatusCode::OK
    );
    let loser = (winner + 1) % RACERS;
    let res = app.login("alice", &passwords[loser]).await;
    assert_error(res, StatusCode::UNAUTHORIZED, "wrong_credentials").await;
}

async fn bodies_over_64_kib_are_refused(app: &TestApp) {
    let big = json!({"user_name": "alice", "pwd": PASSWORD, "pad": "x".repeat(70_000)});
    let res = app
        .request(Method::POST, "/user")
        .json(&big)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let sid = app.signup("bob").await;
    let res = app
        .as_user(Method::POST, "/user/bob/videos", &sid)
        .json(&json!({"name": "x".repeat(70_000)}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

async fn login_checks_the_password(app: &TestApp) {
    let first = app.signup("alice").await;
    let res = app.login("alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("set-cookie").is_some());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["success"], true);
    let second = body["session_id"].as_str().unwrap();
    assert_ne!(first, second);
    assert_eq!(
        app.as_user(Method::GET, "/user/alice", second)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_error(
        app.login("alice", "wrong password").await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
    )
    .await;
    assert_error(
        app.login("nobody", PASSWORD).await,
        StatusCode::UNAUTHORIZED,
        "wrong_credentials",
    )
    .await;
    // The first design's clients may leave the name out of the body.
    let res = app
        .request(Method::POST, "/user/alice")
        .json(&json!({"pwd": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn login_refuses_bad_input(app: &TestApp) {
    app.signup("alice").await;
    assert_error(
        app.login("a b", PASSWORD).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    assert_error(
        app.login("alice", "short").await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    let res = app
        .request(Method::POST, "/user/alice")
        .json(&json!({"user_name": "bob", "pwd": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
    let res = app
        .request(Method::POST, "/user/alice")
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "bad_request").await;
}

async fn user_info_is_for_the_owner_only(app: &TestApp) {
    let alice = app.signup("alice").await;
    app.signup("bob").await;
    let get = |path: &str, sid: Option<&str>| {
        let req = app.request(Method::GET, path);
        let req = match sid {
            Some(s) => req.header("x-session-id", s),
            None => req,
        };
        req.send()
    };
    assert_eq!(
        get("/user/alice", Some(&alice)).await.unwrap().status(),
        StatusCode::OK
    );
    assert_error(
        get("/user/alice", None).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        get("/user/alice", Some("0123456789abcdef0123456789abcdef"))
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        get("/user/alice", Some("not-a-session")).await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        get("/user/bob", Some(&alice)).await.unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        get("/user/nobody", Some(&alice)).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_error(
        get("/user/x%20y", Some(&alice)).await.unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // The cookie works as well as the header.
    let res = app
        .request(Method::GET, "/user/alice")
        .header("cookie", format!("reel_session={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

async fn logout_ends_the_session(app: &TestApp) {
    let sid = app.signup("alice").await;
    let other = app
        .login("alice", PASSWORD)
        .await
        .json::<Value>()
        .await
        .unwrap()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .as_user(Method::DELETE, "/user/alice", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = res.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("reel_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_error(
        app.as_user(Method::GET, "/user/alice", &sid)
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    assert_error(
        app.as_user(Method::DELETE, "/user/alice", &sid)
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
    // Only that session ended.
    assert_eq!(
        app.as_user(Method::GET, "/user/alice", &other)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

async fn logout_refuses_other_users_and_bad_names(app: &TestApp) {
    let alice = app.signup("alice").await;
    app.signup("bob").await;
    assert_error(
        app.as_user(Method::DELETE, "/user/bob", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_error(
        app.as_user(Method::DELETE, "/user/%20", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "bad_request",
    )
    .await;
    // The refused log-out left the session alive.
    assert_eq!(
        app.as_user(Method::GET, "/user/alice", &alice)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

async fn health_and_readiness(app: &TestApp) {
    let res = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.request(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app
        .request(Method::GET, "/no/such/route")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "not_found").await;
    app.db().close().await;
    let res = app.request(Method::GET, "/readyz").send().await.unwrap();
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "not_ready").await;
}
