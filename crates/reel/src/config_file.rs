//! reel.toml: every option of the command line, in a file.
//!
//! The file's values become the defaults of the options they name before clap parses
//! the command line, so clap itself layers them: a flag beats its `REEL_*` variable,
//! which beats the file, which beats the default written in the option's `#[arg]`.
//! One parser reads all four, with the same value parsers and errors, and no default
//! is written twice.
//!
//! Keys are the options' long names with `_` for `-` (`session_ttl = "2h"`). Top-level
//! keys apply to every command that has the option; a table named after a command
//! (`[api]`, `[stream]`, …) applies to that command alone and wins over the top level,
//! so one file can describe every service of a site.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Arg, ArgAction};

/// The files looked for, in order, when neither `--config` nor `REEL_CONFIG` names one.
const DEFAULT_PATHS: [&str; 2] = ["./reel.toml", "/etc/reel/reel.toml"];

/// The commands whose options the file may set; each may also have a table.
pub const COMMANDS: [&str; 7] = [
    "serve",
    "api",
    "stream",
    "web",
    "scheduler",
    "migrate",
    "user",
];

/// The commands that read `[serve]`'s table, having no table of their own.
const SITE_TOOLS: [&str; 3] = ["doctor", "backup", "restore"];

/// Options the file cannot set.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// A loaded reel.toml.
pub struct ConfigFile {
    path: PathBuf,
    table: toml::Table,
}

impl ConfigFile {
    /// The file named by `--config` in `args` or by `REEL_CONFIG`, which must exist;
    /// else the first default path present; else none.
    pub fn find(args: &[OsString]) -> anyhow::Result<Option<Self>> {
        let named = flag_value(args, "--config")
            .or_else(|| std::env::var_os("REEL_CONFIG"))
            .map(PathBuf::from);
        let path = match named {
            Some(path) => path,
            None => match DEFAULT_PATHS
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_file())
            {
                Some(path) => path,
                None => return Ok(None),
            },
        };
        Self::load(&path).map(Some)
    }

    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        let table = text
            .parse::<toml::Table>()
            .with_context(|| format!("{} is not valid TOML", path.display()))?;
        Ok(Self {
            path: path.to_owned(),
            table,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Makes the file's values the defaults of the options of `command`'s commands
    /// (and of those under `reel config`), after checking that every key names an
    /// option and every value parses.
    pub fn apply(&self, command: clap::Command) -> anyhow::Result<clap::Command> {
        let mut built = command.clone();
        built.build();
        self.check(&built)?;
        let mut command = command;
        for name in COMMANDS {
            let defaults = self.defaults_for(&built, name)?;
            command = command.mut_subcommand(name, |sub| with_defaults(sub, &defaults));
            let shown = built
                .find_subcommand("config")
                .is_some_and(|c| c.find_subcommand(name).is_some());
            if shown {
                command = command.mut_subcommand("config", |config| {
                    config.mut_subcommand(name, |sub| with_defaults(sub, &defaults))
                });
            }
        }
        // The commands that look after a site see it as `reel serve` runs it.
        let serve = self.defaults_for(&built, "serve")?;
        for name in SITE_TOOLS {
            command = command.mut_subcommand(name, |sub| with_defaults(sub, &serve));
        }
        let global = self.defaults_for_args(built.get_arguments(), None)?;
        Ok(with_defaults(command, &global))
    }

    /// The value the file gives option `key` of `command`, and whether its table gave it.
    pub fn value(&self, command: &str, key: &str) -> Option<&toml::Value> {
        self.section(command)
            .and_then(|t| t.get(key))
            .or_else(|| self.table.get(key).filter(|v| !v.is_table()))
    }

    fn section(&self, command: &str) -> Option<&toml::Table> {
        self.table.get(command).and_then(toml::Value::as_table)
    }

    /// Refuses keys that name no option: a typo must not pass for a setting.
    fn check(&self, built: &clap::Command) -> anyhow::Result<()> {
        let path = self.path.display();
        let known = |command: &clap::Command, key: &str| {
            command
                .get_arguments()
                .any(|arg| file_key(arg).as_deref() == Some(key))
        };
        for (key, value) in &self.table {
            if COMMANDS.contains(&key.as_str()) {
                let Some(section) = value.as_table() else {
                    bail!("{path}: [{key}] must be a table of {key}'s options");
                };
                let command = built
                    .find_subcommand(key)
                    .expect("every listed command exists");
                if let Some(unknown) = section.keys().find(|k| !known(command, k)) {
                    bail!(
                        "{path}: unknown key `{unknown}` in [{key}]: `reel {key}` has no such option"
                    );
                }
            } else if !known(built, key) && !built.get_subcommands().any(|c| known(c, key)) {
                bail!("{path}: unknown key `{key}`: no command has such an option");
            }
        }
        Ok(())
    }

    fn defaults_for(
        &self,
        built: &clap::Command,
        name: &str,
    ) -> anyhow::Result<Vec<(String, Vec<String>)>> {
        let command = built
            .find_subcommand(name)
            .expect("every listed command exists");
        self.defaults_for_args(command.get_arguments(), Some(name))
    }

    /// The file's values for these options, as text, each checked by its option's own
    /// parser.
    fn defaults_for_args<'a>(
        &self,
        args: impl Iterator<Item = &'a Arg>,
        command: Option<&str>,
    ) -> anyhow::Result<Vec<(String, Vec<String>)>> {
        let mut defaults = Vec::new();
        for arg in args {
            let Some(key) = file_key(arg) else { continue };
            let value = match command {
                Some(command) => self.value(command, &key),
                None => self.table.get(&key),
            };
            let Some(value) = value else { continue };
            let texts = texts(value).with_context(|| format!("{}: {key}", self.path.display()))?;
            validate(arg, &texts).with_context(|| format!("{}: {key}", self.path.display()))?;
            defaults.push((arg.get_id().to_string(), texts));
        }
        Ok(defaults)
    }
}

/// The key an option has in the file: its long name with `_` for `-`.
pub fn file_key(arg: &Arg) -> Option<String> {
    let long = arg.get_long()?;
    (!NOT_IN_FILE.contains(&long)).then(|| long.replace('-', "_"))
}

fn with_defaults(command: clap::Command, defaults: &[(String, Vec<String>)]) -> clap::Command {
    command.mut_args(|arg| {
        let Some((_, values)) = defaults.iter().find(|(id, _)| arg.get_id() == id.as_str()) else {
            return arg;
        };
        // A secret's variable is hidden from `--help`; so is its value from the file.
        let secret = arg.is_hide_env_values_set();
        arg.default_values(values.clone())
            .hide_default_value(secret)
    })
}

/// A TOML value as the text(s) a flag would take.
fn texts(value: &toml::Value) -> anyhow::Result<Vec<String>> {
    Ok(match value {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(items) => items
            .iter()
            .map(|item| match item {
                toml::Value::Array(_) | toml::Value::Table(_) => {
                    bail!("a list holds plain values only")
                }
                other => Ok(texts(other)?.remove(0)),
            })
            .collect::<anyhow::Result<_>>()?,
        toml::Value::Table(_) => bail!("expected a value, found a table"),
        other => vec![other.to_string()],
    })
}

/// Parses `values` with the option's own parser, so that a bad value is reported with
/// the file's name and key even when a flag overrides it.
fn validate(arg: &Arg, values: &[String]) -> anyhow::Result<()> {
    let long = arg.get_long().expect("file keys are long options");
    if !arg.get_action().takes_values() {
        return match values {
            [v] if v == "true" || v == "false" => Ok(()),
            _ => bail!("expected true or false"),
        };
    }
    let probe = clap::Command::new("reel.toml").no_binary_name(true).arg(
        arg.clone()
            .env(None)
            .required(false)
            .action(ArgAction::Append),
    );
    let flags = values.iter().map(|v| format!("--{long}={v}"));
    probe.try_get_matches_from(flags).map_err(|e| {
        use std::error::Error;
        let reason = e
            .source()
            .map_or_else(|| e.kind().to_string(), |s| s.to_string());
        anyhow::anyhow!("{values:?}: {reason}")
    })?;
    Ok(())
}

/// The value of `--name VALUE` or `--name=VALUE` among `args`, before any `--`.
fn flag_value(args: &[OsString], name: &str) -> Option<OsString> {
    let mut args = args.iter().skip(1).take_while(|a| *a != "--");
    let prefix = format!("{name}=");
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next().cloned();
        }
        if let Some(value) = arg.to_str().and_then(|a| a.strip_prefix(&prefix)) {
            return Some(value.into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_flag_is_found_in_either_form() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            flag_value(&args(&["reel", "serve", "--config", "a.toml"]), "--config"),
            Some("a.toml".into())
        );
        assert_eq!(
            flag_value(&args(&["reel", "--config=b.toml", "api"]), "--config"),
            Some("b.toml".into())
        );
        assert_eq!(
            flag_value(&args(&["reel", "serve", "--", "--config", "c"]), "--config"),
            None
        );
    }

    #[test]
    fn values_become_flag_texts() {
        let table: toml::Table = "a = 3\nb = true\nc = [\"x\", \"y\"]\nd = \"2h\""
            .parse()
            .unwrap();
        assert_eq!(texts(&table["a"]).unwrap(), ["3"]);
        assert_eq!(texts(&table["b"]).unwrap(), ["true"]);
        assert_eq!(texts(&table["c"]).unwrap(), ["x", "y"]);
        assert_eq!(texts(&table["d"]).unwrap(), ["2h"]);
    }
}
