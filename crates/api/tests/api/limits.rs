//! What stands in front of password hashing: log-ins and registrations per client
//! address, a backoff per account that fades, X-Forwarded-For believed from trusted
//! proxies only, and a 503 when every hashing slot is taken. The limits run on the
//! API's clock, which the tests move.

use std::time::{Duration, Instant};

use reel_core::client_addr::TrustedProxies;
use reqwest::{Method, Response, StatusCode};
use serde_json::json;

use crate::helpers::{DbKind, PASSWORD, TestApp, assert_error};

reel_testkit::per_backend!(
    databases,
    crate::limits::with_tight_limits,
    [
        logins_and_registrations_count_per_address,
        an_account_backs_off_and_recovers
    ]
);

const SECOND: i64 = 1000;

/// Three log-ins or registrations a minute per address; on an account, three attempts
/// before waits of 1 s, 2 s, 4 s and 8 s at most, the count halving every 10 minutes.
async fn with_tight_limits(kind: DbKind, test: impl AsyncFnOnce(&TestApp)) {
    let app = TestApp::spawn_with(kind, |c| {
        c.auth_attempts_per_minute = 3;
        c.login_backoff_after = 3;
        c.login_backoff_first = Duration::from_secs(1);
        c.login_backoff_max = Duration::from_secs(8);
        c.login_backoff_half_life = Duration::from_secs(600);
    })
    .await;
    test(&app).await;
    app.finish().await;
}

/// Logs in to `name` as a client at `client` behind the local proxy.
async fn login_from(app: &TestApp, client: &str, name: &str, pwd: &str) -> Response {
    app.request(Method::POST, &format!("/user/{name}"))
        .header("x-forwarded-for", client)
        .json(&json!({ "pwd": pwd }))
        .send()
        .await
        .unwrap()
}

async fn register_from(app: &TestApp, client: &str, name: &str) -> Response {
    app.request(Method::POST, "/user")
        .header("x-forwarded-for", client)
        .json(&json!({ "user_name": name, "pwd": PASSWORD }))
        .send()
        .await
        .unwrap()
}

/// A 429's `Retry-After`, after checking its body.
async fn refused(res: Response) -> u64 {
    let retry = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "too_many_requests").await;
    retry
}

async fn logins_and_registrations_count_per_address(app: &TestApp) {
    app.signup("alice").await;
    let here = "203.0.113.7";
    assert_eq!(
        register_from(app, here, "bob").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        login_from(app, here, "alice", "wrong password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login_from(app, here, "bob", PASSWORD).await.status(),
        StatusCode::OK
    );
    // The fourth from this address, whatever it is, waits its turn: 3 a minute.
    assert_eq!(refused(register_from(app, here, "carol").await).await, 20);
    assert_eq!(
        refused(login_from(app, here, "bob", PASSWORD).await).await,
        20
    );
    assert!(
        app.db().user_by_name("carol").await.is_err(),
        "no hash, no user"
    );
    // Another address is not affected.
    assert_eq!(
        login_from(app, "203.0.113.8", "alice", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    // IPv6 clients count per /64.
    for host in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"] {
        assert_eq!(
            login_from(app, host, "alice", PASSWORD).await.status(),
            StatusCode::OK
        );
    }
    refused(login_from(app, "2001:db8:1:2::4", "alice", PASSWORD).await).await;
    assert_eq!(
        login_from(app, "2001:db8:1:3::1", "alice", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    // One attempt comes back every 20 s of the API's clock, and not before.
    app.clock.advance(19 * SECOND);
    refused(register_from(app, here, "carol").await).await;
    app.clock.advance(SECOND);
    assert_eq!(
        register_from(app, here, "carol").await.status(),
        StatusCode::CREATED
    );
    refused(register_from(app, here, "dave").await).await;
}

async fn an_account_backs_off_and_recovers(app: &TestApp) {
    app.signup("alice").await;
    // Every attempt from its own address: the backoff is the account's, from anywhere.
    let mut n = 0;
    let mut attempt = async |pwd: &str| {
        n += 1;
        login_from(app, &format!("198.51.100.{n}"), "alice", pwd).await
    };
    for _ in 0..3 {
        assert_eq!(
            attempt("a wrong guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Even the right password waits: checking it would let a guess through.
    assert_eq!(refused(attempt(PASSWORD).await).await, 1);
    app.clock.advance(SECOND);
    assert_eq!(
        attempt("a wrong guess").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(refused(attempt(PASSWORD).await).await, 2);
    // The owner gets in once the wait is over, and that starts the count over.
    app.clock.advance(2 * SECOND);
    assert_eq!(attempt(PASSWORD).await.status(), StatusCode::OK);
    for _ in 0..3 {
        assert_eq!(
            attempt("a wrong guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The waits double up to the cap, and no further: a stranger who keeps guessing
    // costs the owner 8 s at most.
    let mut wait = refused(attempt(PASSWORD).await).await;
    let mut waits = vec![wait];
    for _ in 0..6 {
        app.clock.advance(wait as i64 * SECOND);
        assert_eq!(
            attempt("a wrong guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
        wait = refused(attempt(PASSWORD).await).await;
        waits.push(wait);
    }
    assert_eq!(waits, [1, 2, 4, 8, 8, 8, 8]);
    // Left alone, the count fades: an hour later a few guesses are free again.
    app.clock.advance(3600 * SECOND);
    for _ in 0..2 {
        assert_eq!(
            attempt("a wrong guess").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(attempt(PASSWORD).await.status(), StatusCode::OK);
}

/// Two attempts a minute per address, behind the given proxies.
async fn app_behind(trusted: &str) -> TestApp {
    let trusted: TrustedProxies = trusted.parse().unwrap();
    TestApp::spawn_with(DbKind::Sqlite, move |c| {
        c.auth_attempts_per_minute = 2;
        c.trusted_proxies = trusted;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_counts_only_from_trusted_proxies() {
    // Trusting no proxy, the header changes nothing: every request is the peer's.
    let app = app_behind("").await;
    assert_eq!(
        register_from(&app, "203.0.113.1", "ann").await.status(),
        StatusCode::CREATED
    );
    assert_eq!(
        register_from(&app, "203.0.113.2", "ben").await.status(),
        StatusCode::CREATED
    );
    refused(register_from(&app, "203.0.113.3", "cat").await).await;
    app.finish().await;

    // Behind a trusted proxy (the test's own loopback peer), the client it names counts.
    let app = app_behind("127.0.0.1/32").await;
    for name in ["ann", "ben"] {
        let res = register_from(&app, "203.0.113.1", name).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    refused(register_from(&app, "203.0.113.1", "cat").await).await;
    assert_eq!(
        register_from(&app, "203.0.113.2", "cat").await.status(),
        StatusCode::CREATED
    );
    // An address the client wrote in front of what the proxy appended changes nothing.
    refused(register_from(&app, "192.0.2.99, 203.0.113.1", "dan").await).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hashing_pool_answers_503_at_once() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.hash_threads = Some(1);
        c.hash_queue = 0;
    })
    .await;
    // Log-ins to names that do not exist still cost a hash (against a decoy), and
    // earn no backoff: only the pool can refuse them.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (mut served, mut busy) = (0, None);
    while busy.is_none() {
        assert!(
            Instant::now() < deadline,
            "16 log-ins at once never filled one thread"
        );
        let burst = (0..16).map(|i| {
            let app = &app;
            async move {
                let (client, name) = (format!("192.0.2.{i}"), format!("ghost{i}"));
                login_from(app, &client, &name, "a password").await
            }
        });
        for res in futures::future::join_all(burst).await {
            match res.status() {
                StatusCode::UNAUTHORIZED => served += 1,
                StatusCode::SERVICE_UNAVAILABLE => busy = Some(res),
                other => panic!("unexpected {other}"),
            }
        }
    }
    let res = busy.unwrap();
    assert_eq!(res.headers()["retry-after"], "1");
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "busy").await;
    assert!(served > 0, "the thread served some");
    app.finish().await;
}
