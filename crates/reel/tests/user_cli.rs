//! `reel user`: accounts managed from the command line on the site's own database,
//! the password read from standard input, and a ban honoured at once by a running
//! `reel serve` that caches sessions in its own memory.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{ApiClient, Reel};
use reel_core::account::Role;
use reel_core::db::{Db, DbOptions};
use reel_testkit::{DbKind, ScratchDb};
use reqwest::{Method, StatusCode};

const PASSWORD: &str = "a long password";

/// Runs `reel user ARGS` with `stdin` as its standard input.
fn reel_user(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel"));
    cmd.arg("user")
        .args(args)
        .env_remove("REEL_DATABASE_URL")
        .env_remove("REEL_REDIS_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("reel runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().expect("reel ends")
}

/// Runs `reel user ARGS`, which must succeed; returns what it printed.
fn ok(args: &[&str], env: &[(&str, &str)], stdin: &str) -> String {
    let out = reel_user(args, env, stdin);
    assert!(
        out.status.success(),
        "reel user {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `reel user ARGS`, which must fail; returns its error message.
fn fails(args: &[&str], env: &[(&str, &str)], stdin: &str) -> String {
    let out = reel_user(args, env, stdin);
    assert_eq!(out.status.code(), Some(1), "reel user {args:?} should fail");
    String::from_utf8(out.stderr).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_managed_on_a_running_site() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let site: &[(&str, &str)] = &[("REEL_DATA_DIR", dir)];
    let printed = ok(
        &["add", "root", "--role", "admin"],
        site,
        &format!("{PASSWORD}\n"),
    );
    assert!(printed.contains("added root (admin)"), "{printed}");
    // The options may also come before the action, and from reel.toml.
    ok(
        &["--data-dir", dir, "add", "alice"],
        &[],
        &format!("{PASSWORD}\r\n"),
    );
    let message = fails(&["add", "bob"], site, "");
    assert!(message.contains("standard input"), "{message}");
    let message = fails(&["add", "bob"], site, "short\n");
    assert!(message.contains("8 to 256"), "{message}");
    let message = fails(&["add", "alice"], site, &format!("{PASSWORD}\n"));
    assert!(message.contains("taken"), "{message}");
    let message = fails(&["add", "no way"], site, &format!("{PASSWORD}\n"));
    assert!(message.contains("user name"), "{message}");
    let message = fails(&["set-role", "nobody", "admin"], site, "");
    assert!(message.contains("no user is named nobody"), "{message}");
    let out = reel_user(&["set-role", "alice", "root"], site, "");
    assert_eq!(out.status.code(), Some(2), "clap refuses an unknown role");

    let serve = Reel::start(&["serve", "--data-dir", dir], &[]);
    let mut admin = ApiClient::new(format!("{}/api", serve.base));
    admin.sign_in("root", PASSWORD, true).await;
    let (status, me) = admin.call(Method::GET, "/user/root", None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["role"], "admin");
    let mut alice = ApiClient::new(format!("{}/api", serve.base));
    alice.sign_in("alice", PASSWORD, true).await;
    assert_eq!(
        alice.call(Method::GET, "/user/alice", None).await.0,
        StatusCode::OK
    );

    // A ban from the command line ends the session the running site cached.
    let printed = ok(&["ban", "alice", "--note", "spam"], site, "");
    assert!(printed.contains("alice is banned"), "{printed}");
    let (status, body) = alice.call(Method::GET, "/user/alice", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let login = serde_json::json!({"user_name": "alice", "pwd": PASSWORD});
    let (status, body) = alice
        .call(Method::POST, "/user/alice", Some(login.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "banned");
    let listed = ok(&["list"], site, "");
    let line = listed.lines().find(|l| l.starts_with("alice ")).unwrap();
    assert!(line.contains("banned"), "{listed}");
    ok(&["unban", "alice"], site, "");
    ok(&["set-role", "alice", "moderator"], site, "");
    alice.sign_in("alice", PASSWORD, true).await;
    let (_, me) = alice.call(Method::GET, "/user/alice", None).await;
    assert_eq!(me["role"], "moderator");

    // Every change is in the audit log, by the command line.
    let (status, log) = admin.call(Method::GET, "/admin/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let actions: Vec<String> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["actor"], "(command line)");
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["target"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            "set_role alice",
            "unban alice",
            "ban alice",
            "add_user alice",
            "add_user root"
        ]
    );
    // The password never reached a log line.
    assert!(!serve.log_text().contains(PASSWORD));
}

/// The same commands on a database server, named by `--database-url`.
async fn on_a_server(backend: DbKind) {
    let scratch = ScratchDb::new(backend).await;
    let data = tempfile::tempdir().unwrap();
    let site: &[(&str, &str)] = &[
        ("REEL_DATA_DIR", data.path().to_str().unwrap()),
        ("REEL_DATABASE_URL", scratch.url()),
    ];
    ok(
        &["add", "root", "--role", "moderator"],
        site,
        &format!("{PASSWORD}\n"),
    );
    ok(&["set-role", "root", "admin"], site, "");
    ok(&["ban", "root"], site, "");
    let db = Db::connect(&DbOptions::new(scratch.url())).await.unwrap();
    let root = db.user_by_name("root").await.unwrap();
    assert_eq!(root.role, Role::Admin);
    assert!(root.banned && root.approved);
    assert!(root.pwd_hash.starts_with("$argon2id$"));
    db.close().await;
    let listed = ok(&["list"], site, "");
    assert!(
        listed.contains("root") && listed.contains("banned"),
        "{listed}"
    );
    assert!(!Path::new(&data.path().join("reel.db")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_managed_on_mariadb() {
    on_a_server(DbKind::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_managed_on_postgres() {
    on_a_server(DbKind::Postgres).await;
}
