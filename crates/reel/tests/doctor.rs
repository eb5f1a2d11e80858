//! `reel doctor`: a good site passes with every line OK (or a warning), on each
//! database; a broken one gets a FAIL line per fault, naming what to do, and a
//! non-zero exit; the signing key shows as its fingerprint only.

use std::path::Path;
use std::process::Command;

use reel_core::signing::SigningKey;
use reel_testkit::{DbKind, ScratchDb, per_backend};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";

/// Runs `reel doctor ARGS` with only `env` (and `PATH`) set; whether it succeeded,
/// and its report.
fn doctor(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel"));
    cmd.arg("doctor")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("reel runs");
    let report = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (out.status.success(), format!("{report}{stderr}"))
}

/// The report's line about `name`.
fn line<'a>(report: &'a str, name: &str) -> &'a str {
    report
        .lines()
        .find(|l| {
            l.get(5..)
                .is_some_and(|rest| rest.starts_with(&format!("{name}: ")))
        })
        .unwrap_or_else(|| panic!("no line about {name} in:\n{report}"))
}

fn assert_level(report: &str, name: &str, level: &str) {
    let found = line(report, name);
    assert!(
        found.starts_with(level),
        "{name} should be {level}:\n{report}"
    );
}

async fn on(backend: DbKind, test: impl AsyncFnOnce(DbKind)) {
    test(backend).await;
}

per_backend!(databases, crate::on, [a_good_site_passes]);

async fn a_good_site_passes(backend: DbKind) {
    let scratch = ScratchDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let redis = reel_testkit::redis_url();
    let (ok, report) = doctor(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            scratch.url(),
        ],
        &[
            ("REEL_SIGNING_KEY", KEY),
            ("REEL_REDIS_URL", &redis),
            ("REEL_MAX_UPLOAD_BYTES", "1MiB"),
            ("REEL_MAX_CONNECTIONS", "16"),
        ],
    );
    assert!(ok, "{report}");
    for name in [
        "data dir",
        "disk",
        "open files",
        "database",
        "schema",
        "database clock",
        "redis",
        "redis clock",
        "signing key",
    ] {
        assert_level(&report, name, "OK");
    }
    let fingerprint = SigningKey::from_base64(KEY).unwrap().fingerprint();
    assert!(
        line(&report, "signing key").contains(&fingerprint),
        "{report}"
    );
    assert!(!report.contains(KEY), "the key itself never shows");
    assert!(report.contains(" 0 FAIL"), "{report}");
}

#[test]
fn a_broken_site_fails_naming_each_fault() {
    let dir = tempfile::tempdir().unwrap();
    // A data dir that cannot be made, even by root: its parent is a file.
    std::fs::write(dir.path().join("file"), b"not a directory").unwrap();
    let data = dir.path().join("file/data");
    let (ok, report) = doctor(
        dir.path(),
        &[
            "--data-dir",
            data.to_str().unwrap(),
            "--database-url",
            "postgres://reel:hunter2@127.0.0.1:1/reel",
            "--redis-url",
            "redis://127.0.0.1:1",
            "--max-connections",
            "1000000000",
            "--max-upload-bytes",
            "1000PiB",
            "--ffmpeg",
            "/nonexistent/ffmpeg",
        ],
        &[],
    );
    assert!(!ok, "a FAIL makes the command fail:\n{report}");
    for name in ["data dir", "database", "redis", "open files", "disk"] {
        assert_level(&report, name, "FAIL");
    }
    assert_level(&report, "ffmpeg", "WARN");
    assert!(line(&report, "data dir").contains("install -d"), "{report}");
    assert!(
        !report.contains("hunter2"),
        "passwords never show:\n{report}"
    );
}

#[test]
fn a_shared_key_file_shows_its_fingerprint_and_a_loose_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signing.key");
    std::fs::write(&key_file, KEY).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, report) = doctor(
        dir.path(),
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--max-upload-bytes",
            "1MiB",
        ],
        &[],
    );
    assert!(ok, "{report}");
    let fingerprint = SigningKey::from_base64(KEY).unwrap().fingerprint();
    assert!(
        line(&report, "signing key").contains(&fingerprint),
        "{report}"
    );
    assert_level(&report, "key file", "WARN");
    assert!(!report.contains(KEY), "the key itself never shows");
}
