//! `reel config`: the options a command would run with, as a reel.toml that could be
//! loaded again, each line saying where its value came from. Secrets never show: the
//! signing key (and any option whose variable `--help` hides) is `***`, and so is the
//! password of any URL.

use std::fmt::Write;

use clap::ArgMatches;
use clap::parser::ValueSource;
use reel_core::secret::without_password;

use crate::config_file::{ConfigFile, file_key};

/// The effective options of `command` (built), parsed into `matches`.
pub fn render(command: &clap::Command, matches: &ArgMatches, file: Option<&ConfigFile>) -> String {
    let name = command.get_name();
    let mut out = String::new();
    let file_name = file.map_or_else(
        || "no reel.toml".to_owned(),
        |f| f.path().display().to_string(),
    );
    let _ = writeln!(
        out,
        "# reel {name}: flags > REEL_* variables > {file_name} > defaults"
    );
    for arg in command.get_arguments() {
        let Some(key) = file_key(arg) else { continue };
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag".to_owned(),
            Some(ValueSource::EnvVariable) => arg
                .get_env()
                .map_or_else(String::new, |v| v.to_string_lossy().into_owned()),
            Some(ValueSource::DefaultValue) => match file.filter(|f| f.value(name, &key).is_some())
            {
                Some(f) => f.path().display().to_string(),
                None => "default".to_owned(),
            },
            _ => {
                let _ = writeln!(out, "# {key} is not set");
                continue;
            }
        };
        let secret = arg.is_hide_env_values_set();
        let values: Vec<String> = matches
            .get_raw(id)
            .into_iter()
            .flatten()
            .map(|raw| {
                let text = raw.to_string_lossy();
                if secret {
                    "***".to_owned()
                } else {
                    without_password(&text)
                }
            })
            .collect();
        let value = match values.as_slice() {
            [one] if !matches!(arg.get_action(), clap::ArgAction::Append) => {
                toml::Value::String(one.clone())
            }
            many => toml::Value::Array(many.iter().cloned().map(toml::Value::String).collect()),
        };
        let _ = writeln!(out, "{key} = {value}  # {source}");
    }
    out
}
