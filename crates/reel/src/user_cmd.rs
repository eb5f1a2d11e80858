//! `reel user`: accounts managed on the command line, on the same database (and
//! session cache) as the site. Every change is written to the audit log with the actor
//! `(command line)`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use reel_core::account;
use reel_core::clock::{self, Clock};
use reel_core::db::{
    AccountChange, Actor, Audited, COMMAND_LINE, Db, DbError, DbOptions, NewAccount, PageCursor,
    TargetKind, UserRecord,
};
use reel_core::domain::{Password, UserName};
use reel_core::ids::UserId;
use reel_core::session::{Lifetimes, SessionStore};

use crate::cli::{UserAction, UserArgs};

/// Runs `reel user …` and reports a failure as a message and exit status 1.
pub fn main(args: UserArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("reel: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("reel: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: UserArgs) -> anyhow::Result<()> {
    let url = args.db.database_url()?;
    let db = Db::connect(&DbOptions {
        url,
        max_connections: 2,
    })
    .await
    .context("opening the database")?;
    let done = act(&db, args.redis_url.as_deref(), args.action).await;
    db.close().await;
    done
}

async fn act(db: &Db, redis_url: Option<&str>, action: UserAction) -> anyhow::Result<()> {
    let now_ms = clock::SystemClock.now_ms();
    let actor = |note| Actor {
        name: COMMAND_LINE,
        note,
        now_ms,
    };
    match action {
        UserAction::Add { name, role } => {
            let name = UserName::parse(&name)?;
            let password = Password::parse(&read_password()?)?;
            let hash = reel_api::hash_password(&password)
                .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
            let new = NewAccount {
                id: UserId::random(),
                name: name.as_str(),
                pwd_hash: &hash,
                role,
                approved: true,
                now_ms,
            };
            let user = match db.create_account(&new).await {
                Err(DbError::Conflict) => bail!("the name {name} is taken"),
                other => other?,
            };
            let what = Audited {
                action: "add_user",
                kind: TargetKind::User,
                target: &user.name,
                target_id: None,
                detail: Some(role.to_string()),
            };
            db.audit(&actor(None), what).await?;
            println!("added {} ({role})", user.name);
        }
        UserAction::SetRole { name, role } => {
            let user = find(db, &name).await?;
            db.change_account(&user, AccountChange::Role(role), &actor(None))
                .await?;
            println!("{} is now {role}", user.name);
        }
        UserAction::Ban { name, note } => {
            let user = find(db, &name).await?;
            let sessions = session_store(db, redis_url).await?;
            account::set_banned(db, &sessions, &user, true, &actor(note.as_deref())).await?;
            println!("{} is banned; their sessions are ended", user.name);
        }
        UserAction::Unban { name } => {
            let user = find(db, &name).await?;
            let sessions = session_store(db, redis_url).await?;
            account::set_banned(db, &sessions, &user, false, &actor(None)).await?;
            println!("{} is no longer banned", user.name);
        }
        UserAction::List => list(db).await?,
    }
    Ok(())
}

async fn find(db: &Db, name: &str) -> anyhow::Result<UserRecord> {
    match db.user_by_name(name).await {
        Err(DbError::NotFound) => bail!("no user is named {name}"),
        other => Ok(other?),
    }
}

/// The site's sessions: in Redis when it has one; otherwise the rows alone, which a
/// running node stops honouring at the banned user's next request.
async fn session_store(db: &Db, redis_url: Option<&str>) -> anyhow::Result<SessionStore> {
    SessionStore::new(
        db.clone(),
        clock::system(),
        // Ending sessions needs no lifetime; these only satisfy the store.
        Lifetimes {
            idle: Duration::from_secs(60),
            max: Duration::from_secs(60),
        },
        redis_url,
    )
    .await
    .context("connecting to the session cache")
}

/// Prints every account, newest first, one a line: name, role, state.
async fn list(db: &Db) -> anyhow::Result<()> {
    let mut cursor = PageCursor::start();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{:<64}  {:<9}  state", "name", "role")?;
    loop {
        let page = db.users(None, &cursor, 100).await?;
        for user in &page.items {
            let state = match (user.banned, user.approved) {
                (true, _) => "banned",
                (false, false) => "pending",
                (false, true) => "active",
            };
            writeln!(out, "{:<64}  {:<9}  {state}", user.name, user.role.as_str())?;
        }
        match page.next {
            Some(next) => cursor = next,
            None => return Ok(()),
        }
    }
}

/// The first line of standard input, without its line ending; a prompt is shown when
/// it is a terminal.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        bail!("give the password on standard input, e.g. `reel user add NAME < file`");
    }
    Ok(password.to_owned())
}
