//! reel.toml and `reel config`: flags beat `REEL_*` variables, which beat the file
//! (a command's table beating its top level), which beats the defaults; unknown keys
//! and bad values are refused naming the key; secrets never show.

use std::path::Path;
use std::process::{Command, Output};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";

/// Runs `reel ARGS` in `dir` with only `env` set.
fn reel(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reel"));
    cmd.args(args).current_dir(dir).env_clear();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("reel runs")
}

/// The value and source `reel config ARGS` shows for `key`.
fn shown(dir: &Path, args: &[&str], env: &[(&str, &str)], key: &str) -> (String, String) {
    let out = reel(dir, args, env);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("no {key} in:\n{stdout}"));
    let (value, source) = line[key.len() + 3..].split_once("  # ").unwrap();
    (value.to_owned(), source.to_owned())
}

fn dir_with(file: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("reel.toml"), file).unwrap();
    dir
}

#[test]
fn each_layer_beats_the_one_below() {
    let bare = tempfile::tempdir().unwrap();
    let args = ["config", "api"];
    let ttl = |dir: &Path, extra: &[&str], env: &[(&str, &str)]| {
        let args: Vec<&str> = args.iter().chain(extra).copied().collect();
        shown(dir, &args, env, "session_ttl")
    };
    assert_eq!(
        ttl(bare.path(), &[], &[]),
        ("\"30m\"".into(), "default".into())
    );

    let dir = dir_with("session_ttl = \"2h\"\n");
    let file = ("\"2h\"".to_owned(), "./reel.toml".to_owned());
    assert_eq!(ttl(dir.path(), &[], &[]), file);

    let env = [("REEL_SESSION_TTL", "3h")];
    let from_env = ("\"3h\"".to_owned(), "REEL_SESSION_TTL".to_owned());
    assert_eq!(ttl(dir.path(), &[], &env), from_env);

    let flag = ("\"4h\"".to_owned(), "flag".to_owned());
    assert_eq!(ttl(dir.path(), &["--session-ttl", "4h"], &env), flag);
}

#[test]
fn a_command_table_beats_the_top_level_for_that_command_only() {
    let dir = dir_with("listen = \"127.0.0.1:7000\"\n[api]\nlisten = \"127.0.0.1:7001\"\n");
    let listen = |command: &str| shown(dir.path(), &["config", command], &[], "listen").0;
    assert_eq!(listen("api"), "\"127.0.0.1:7001\"");
    assert_eq!(listen("stream"), "\"127.0.0.1:7000\"");
}

#[test]
fn the_file_is_found_by_flag_variable_or_default_path() {
    let dir = dir_with("task_concurrency = 7\n");
    let elsewhere = tempfile::tempdir().unwrap();
    let path = dir.path().join("reel.toml");
    let path = path.to_str().unwrap();
    let concurrency = |args: &[&str], env: &[(&str, &str)], cwd: &Path| {
        shown(cwd, args, env, "task_concurrency").0
    };
    let scheduler = ["config", "scheduler"];
    assert_eq!(concurrency(&scheduler, &[], dir.path()), "\"7\"");
    assert_eq!(concurrency(&scheduler, &[], elsewhere.path()), "\"4\"");
    let flag = ["--config", path, "config", "scheduler"];
    assert_eq!(concurrency(&flag, &[], elsewhere.path()), "\"7\"");
    let env = [("REEL_CONFIG", path)];
    assert_eq!(concurrency(&scheduler, &env, elsewhere.path()), "\"7\"");
    let missing = reel(elsewhere.path(), &["--config", "nope.toml", "config"], &[]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn unknown_keys_are_refused_by_name() {
    for (file, named) in [
        ("sesion_ttl = \"1h\"\n", "`sesion_ttl`"),
        (
            "[api]\nmax_upload_bytes = \"1GiB\"\n",
            "`max_upload_bytes` in [api]",
        ),
    ] {
        let dir = dir_with(file);
        let out = reel(dir.path(), &["config"], &[]);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(stderr.contains(named), "{file}: {stderr}");
    }
}

#[test]
fn bad_values_are_refused_with_their_key_even_when_a_flag_overrides_them() {
    let dir = dir_with("task_concurrency = \"many\"\n");
    let out = reel(
        dir.path(),
        &["config", "scheduler", "--task-concurrency", "2"],
        &[],
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("task_concurrency"), "{stderr}");
}

#[test]
fn secrets_are_masked() {
    let dir = dir_with(&format!(
        "signing_key = \"{KEY}\"\ndatabase_url = \"postgres://reel:hunter2@db/reel\"\n"
    ));
    let out = reel(dir.path(), &["config"], &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(!stdout.contains(KEY), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");
    assert!(stdout.contains("signing_key = \"***\""), "{stdout}");
    assert!(stdout.contains("postgres://reel:***@db/reel"), "{stdout}");
    let env = [("REEL_SIGNING_KEY", KEY)];
    let (key, source) = shown(dir.path(), &["config", "stream"], &env, "signing_key");
    assert_eq!(
        (key.as_str(), source.as_str()),
        ("\"***\"", "REEL_SIGNING_KEY")
    );
    let help = reel(dir.path(), &["serve", "--help"], &[]);
    assert!(!String::from_utf8(help.stdout).unwrap().contains(KEY));
}

#[test]
fn what_config_prints_loads_again() {
    let dir = dir_with("session_ttl = \"2h\"\nallowed_origins = [\"https://a.example\"]\n");
    let out = reel(dir.path(), &["config", "api"], &[]);
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let again = dir_with(&printed);
    let (ttl, _) = shown(again.path(), &["config", "api"], &[], "session_ttl");
    assert_eq!(ttl, "\"2h\"");
    let (origins, _) = shown(again.path(), &["config", "api"], &[], "allowed_origins");
    assert_eq!(origins, "[\"https://a.example\"]");
}
