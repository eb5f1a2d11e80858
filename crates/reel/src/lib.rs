#![forbid(unsafe_code)]
//! The `reel` command: runs the whole site (`reel serve`) or any one service.

/// The command line: subcommands, flags and their `REEL_*` variables.
mod cli;
/// Logs and Prometheus metrics.
mod observability;
/// Starting each service from its options.
mod run;
/// The routes of `reel serve`, for the binary and for the tests of the pages.
pub mod site;

use clap::Parser;

/// Parses the command line, runs the command, and reports a failure as a clear message
/// and a non-zero exit status.
pub fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    observability::init_logs(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reel: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run::run(cli.command)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "reel stopped");
            eprintln!("reel: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
