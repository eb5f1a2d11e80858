use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use reel_core::account::Role;
use reel_core::config::{DbConfig, SiteConfig};
use reel_core::http::ListenerConfig;

/// reel: a self-hosted video-on-demand server.
///
/// `reel serve` runs the whole site in one process on SQLite and ./data; the other
/// commands run one service each, to scale out. Every option can also be set with the
/// `REEL_*` variable shown next to it, or in reel.toml; flags win over variables, which
/// win over the file. `reel config` shows what a command would run with.
#[derive(Debug, Parser)]
#[command(name = "reel", version = crate::LONG_VERSION, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log line format.
    #[arg(long, env = "REEL_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// The configuration file, whose keys are the options' long names with `_` for `-`
    /// (a `[serve]`, `[api]`, … table applies to that command alone) [default:
    /// ./reel.toml, else /etc/reel/reel.toml, when present]
    #[arg(long, env = "REEL_CONFIG", global = true)]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Service(Service),
    /// Manage accounts on the site's database: add one (its password read from standard
    /// input), change a role, ban, unban, list.
    User(UserArgs),
    /// Show the options a command would run with (flags, `REEL_*` variables, reel.toml
    /// and defaults applied), each with where it came from; secrets are masked.
    Config {
        /// The command, with any flags it would be given [default: serve]
        #[command(subcommand)]
        command: Option<Service>,
    },
}

/// The commands that run something.
#[derive(Debug, Clone, Subcommand)]
pub enum Service {
    /// Run the whole site in one process (default: SQLite and files under ./data, on
    /// http://127.0.0.1:8080, the API under /api).
    Serve(ServeArgs),
    /// Run the API service alone (default :8000), at the root paths.
    Api(ApiArgs),
    /// Run the stream server alone (default :9000): playback, uploads, tus.
    Stream(StreamArgs),
    /// Run the web pages alone (default :8080), forwarding /api to the API and /videos,
    /// /upload to the stream server.
    Web(WebArgs),
    /// Run the scheduler alone (default :9001): the task intake and the runner that
    /// deletes files and processes uploads with ffmpeg.
    Scheduler(SchedulerArgs),
    /// Bring the database schema up to date, then exit.
    Migrate(MigrateArgs),
    /// Check what matters before going live (ffmpeg, disk, permissions, database,
    /// Redis, open-files limit, clocks, signing key), with the options `reel serve`
    /// would run with; one line each, OK, WARN or FAIL; exits non-zero on a FAIL.
    Doctor(ServeArgs),
    /// Copy the site, while it runs, into the new directory DEST: the database, the
    /// signing key and the stored files.
    Backup(BackupArgs),
    /// Bring a fresh data dir (and database) back to the state of a backup.
    Restore(RestoreArgs),
}

/// Where this process publishes its Prometheus metrics.
#[derive(Debug, Clone, Args)]
pub struct MetricsArgs {
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, env = "REEL_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

/// `reel serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten, next_help_heading = "Connections")]
    pub connections: ListenerConfig,
    #[command(flatten)]
    pub site: SiteConfig,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten, next_help_heading = "API")]
    pub api: reel_api::Config,
    #[command(flatten, next_help_heading = "Stream server")]
    pub stream: reel_stream::Config,
    #[command(flatten, next_help_heading = "Scheduler")]
    pub scheduler: reel_scheduler::Config,
}

/// `reel api`.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    #[command(flatten, next_help_heading = "Connections")]
    pub connections: ListenerConfig,
    #[command(flatten)]
    pub site: SiteConfig,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten, next_help_heading = "API")]
    pub api: reel_api::Config,
}

/// `reel stream`.
#[derive(Debug, Clone, Args)]
pub struct StreamArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:9000")]
    pub listen: SocketAddr,
    #[command(flatten, next_help_heading = "Connections")]
    pub connections: ListenerConfig,
    #[command(flatten)]
    pub site: SiteConfig,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten, next_help_heading = "Stream server")]
    pub stream: reel_stream::Config,
    /// The scheduler to tell about finished uploads (http://host:9001) [default: none,
    /// uploads are only logged]
    #[arg(long, env = "REEL_SCHEDULER_URL")]
    pub scheduler_url: Option<String>,
}

/// `reel web`.
#[derive(Debug, Clone, Args)]
pub struct WebArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten, next_help_heading = "Connections")]
    pub connections: ListenerConfig,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten, next_help_heading = "Web")]
    pub web: reel_web::Config,
}

/// `reel scheduler`.
#[derive(Debug, Clone, Args)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, env = "REEL_LISTEN", default_value = "127.0.0.1:9001")]
    pub listen: SocketAddr,
    #[command(flatten, next_help_heading = "Connections")]
    pub connections: ListenerConfig,
    #[command(flatten)]
    pub site: SiteConfig,
    #[command(flatten)]
    pub metrics: MetricsArgs,
    #[command(flatten, next_help_heading = "Scheduler")]
    pub scheduler: reel_scheduler::Config,
}

/// `reel backup`.
#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The directory to write, which must not exist yet or be empty.
    pub dest: PathBuf,
    #[command(flatten)]
    pub site: SiteConfig,
}

/// `reel restore`.
#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// A directory written by `reel backup`.
    pub src: PathBuf,
    #[command(flatten)]
    pub site: SiteConfig,
}

/// `reel migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DbConfig,
}

/// `reel user`: its options (the site's database and session cache) are given before
/// or after the action.
#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    #[command(flatten)]
    pub db: DbConfig,
    /// The site's Redis, when its API nodes share sessions there, so that a ban ends
    /// them at once (redis://host:6379)
    #[arg(long, env = "REEL_REDIS_URL")]
    pub redis_url: Option<String>,
    #[command(subcommand)]
    pub action: UserAction,
}

/// What `reel user` does.
#[derive(Debug, Clone, Subcommand)]
pub enum UserAction {
    /// Add an approved account. The password is read from standard input (its first
    /// line), never from the command line, where other users of the machine could
    /// read it.
    Add {
        /// The login name.
        name: String,
        /// user, moderator or admin.
        #[arg(long, default_value = "user")]
        role: Role,
    },
    /// Change an account's role (user, moderator or admin).
    SetRole {
        /// The login name.
        name: String,
        /// user, moderator or admin.
        role: Role,
    },
    /// Ban an account: its sessions end at once, it can no longer log in or upload,
    /// and its videos and comments are hidden from all but moderators and admins.
    Ban {
        /// The login name.
        name: String,
        /// Why, for the audit log.
        #[arg(long)]
        note: Option<String>,
    },
    /// Let a banned account back.
    Unban {
        /// The login name.
        name: String,
    },
    /// List the accounts: name, role, state.
    List,
}

/// The command line's definition: the `Cli` derive, with `reel user`'s options
/// accepted after its action too (`reel user add NAME --data-dir DIR`).
pub fn command() -> clap::Command {
    use clap::CommandFactory;
    Cli::command().mut_subcommand("user", |user| user.mut_args(|arg| arg.global(true)))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        super::command().debug_assert();
    }

    #[test]
    fn user_options_go_before_or_after_the_action() {
        use clap::FromArgMatches;
        for args in [
            ["reel", "user", "--data-dir", "x", "add", "bob"],
            ["reel", "user", "add", "bob", "--data-dir", "x"],
        ] {
            let matches = super::command().try_get_matches_from(args).unwrap();
            let cli = Cli::from_arg_matches(&matches).unwrap();
            let Command::User(user) = cli.command else {
                panic!("not user");
            };
            assert_eq!(user.db.data_dir, std::path::PathBuf::from("x"));
            assert!(matches!(
                user.action,
                UserAction::Add {
                    role: Role::User,
                    ..
                }
            ));
        }
    }

    #[test]
    fn serve_needs_no_options() {
        let cli = Cli::try_parse_from(["reel", "serve"]).unwrap();
        let Command::Service(Service::Serve(args)) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(args.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(args.api.session_ttl, Duration::from_secs(1800));
    }
}
