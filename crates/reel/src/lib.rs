#![forbid(unsafe_code)]
//! The `reel` command: runs the whole site (`reel serve`) or any one service.

/// `reel backup` and `reel restore`.
mod backup;
/// The command line: subcommands, flags and their `REEL_*` variables.
mod cli;
/// reel.toml, layered under the flags and variables.
mod config_file;
/// `reel doctor`: the checks before going live.
mod doctor;
/// Logs and Prometheus metrics.
mod observability;
/// Starting each service from its options.
mod run;
/// `reel config`: the effective options and where each came from.
mod show_config;
/// The routes of `reel serve`, for the binary and for the tests of the pages.
pub mod site;
/// `reel user`: accounts on the command line.
mod user_cmd;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::FromArgMatches;

use crate::cli::{Cli, Command};
use crate::config_file::ConfigFile;

/// The build, as `reel --version` names it: version, git commit and build date.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("REEL_BUILD_COMMIT"),
    ", built ",
    env!("REEL_BUILD_DATE"),
    ")"
);

/// Parses the command line (over reel.toml), runs the command, and reports a failure
/// as a clear message and a non-zero exit status.
pub fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let file = match ConfigFile::find(&args) {
        Ok(file) => file,
        Err(e) => return usage_error(&e),
    };
    let mut command = cli::command();
    if let Some(file) = &file {
        command = match file.apply(command) {
            Ok(command) => command,
            Err(e) => return usage_error(&e),
        };
    }
    let matches = command.clone().get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let service = match cli.command {
        Command::Service(service) => service,
        Command::User(args) => return user_cmd::main(args),
        Command::Config { command: shown } => {
            return show(
                command,
                matches,
                shown.is_none().then_some(args),
                file.as_ref(),
            );
        }
    };
    observability::init_logs(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reel: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::run(service)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "reel stopped");
            eprintln!("reel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints `reel config [COMMAND]`; with no command given (`bare_args`), as for
/// `reel config serve`.
fn show(
    mut command: clap::Command,
    matches: clap::ArgMatches,
    bare_args: Option<Vec<OsString>>,
    file: Option<&ConfigFile>,
) -> ExitCode {
    let matches = match bare_args {
        Some(mut args) => {
            args.push("serve".into());
            command.clone().get_matches_from(args)
        }
        None => matches,
    };
    command.build();
    let config = matches
        .subcommand_matches("config")
        .expect("reel config was parsed");
    let (name, service) = config.subcommand().expect("a command to show");
    let shown = command
        .find_subcommand("config")
        .and_then(|c| c.find_subcommand(name))
        .expect("every command can be shown");
    print!("{}", show_config::render(shown, service, file));
    ExitCode::SUCCESS
}

fn usage_error(e: &anyhow::Error) -> ExitCode {
    eprintln!("reel: {e:#}");
    ExitCode::from(2)
}
