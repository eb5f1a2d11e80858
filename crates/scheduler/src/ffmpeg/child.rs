//! Running ffmpeg and ffprobe as children that an upload cannot turn against the
//! machine: no environment but `PATH` (the signing key, the database URL and the S3
//! credentials are in ours), in a process group of their own that is killed whole when a
//! run passes its time limit or is abandoned, with at most the end of their stderr kept.

use std::ffi::OsString;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::progress_percent;

/// The most stderr kept from one command: enough for its error lines.
const STDERR_KEEP: usize = 4096;
/// `PATH` for the children when ours has none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// What a finished command left.
pub(super) struct Finished {
    /// It exited with status 0.
    pub success: bool,
    /// Its standard output, unless it was read as progress.
    pub stdout: Vec<u8>,
    /// The end of its standard error.
    pub stderr: String,
}

/// How a run went wrong before it could finish.
pub(super) enum Stopped {
    /// It ran past its limit and was killed.
    TimedOut,
    /// It could not start, or died by a signal: something that may pass.
    Interrupted(String),
}

/// `program` with a cleared environment but `PATH`, its standard streams set, in a
/// process group of its own.
pub(super) fn command(program: &Path) -> Command {
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    let mut command = Command::new(program);
    command
        .env_clear()
        .env("PATH", path)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    command
}

/// Kills the child's whole process group when dropped before the child was reaped: a
/// run past its limit, or one whose task was abandoned, leaves nothing running.
struct GroupGuard {
    /// The group's id (the child's pid) while the child is not reaped.
    #[cfg_attr(not(unix), allow(dead_code))]
    group: Option<u32>,
}

impl GroupGuard {
    fn reaped(&mut self) {
        self.group = None;
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(pid) = self
            .group
            .and_then(|id| i32::try_from(id).ok())
            .and_then(rustix::process::Pid::from_raw)
        {
            // The leader is not reaped yet, so its pid (the group's id) is still ours.
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
}

/// Runs `program` in `dir` for at most `limit`. With `progress`, stdout is read as
/// `-progress` lines and turned into percent of `duration_ms`; otherwise it is kept.
pub(super) async fn run(
    program: &Path,
    dir: &Path,
    args: &[OsString],
    limit: Duration,
    duration_ms: Option<i64>,
    progress: Option<&watch::Sender<u8>>,
) -> Result<Finished, Stopped> {
    tracing::debug!(program = %program.display(), ?args, limit_s = limit.as_secs(), "running");
    let mut child = command(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Stopped::Interrupted(format!("cannot start {}: {e}", program.display())))?;
    let mut guard = GroupGuard { group: child.id() };
    let outcome = tokio::time::timeout(limit, outputs(&mut child, duration_ms, progress)).await;
    let Ok((stdout, stderr, status)) = outcome else {
        drop(guard);
        let _ = child.wait().await;
        return Err(Stopped::TimedOut);
    };
    guard.reaped();
    let status = status
        .map_err(|e| Stopped::Interrupted(format!("waiting for {}: {e}", program.display())))?;
    if status.code().is_none() {
        return Err(Stopped::Interrupted(format!(
            "{} was stopped by a signal ({status})",
            program.display()
        )));
    }
    Ok(Finished {
        success: status.success(),
        stdout,
        stderr,
    })
}

/// Reads the child's output to its end and waits for it.
async fn outputs(
    child: &mut Child,
    duration_ms: Option<i64>,
    progress: Option<&watch::Sender<u8>>,
) -> (Vec<u8>, String, std::io::Result<ExitStatus>) {
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let read_stdout = async {
        let mut kept = Vec::new();
        match progress {
            Some(sender) => {
                let mut lines = BufReader::new(stdout).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(percent) = progress_percent(&line, duration_ms) {
                        sender.send_if_modified(|p| {
                            let changed = *p != percent;
                            *p = percent;
                            changed
                        });
                    }
                }
            }
            None => {
                let _ = BufReader::new(stdout).read_to_end(&mut kept).await;
            }
        }
        kept
    };
    let read_stderr = async {
        let mut tail = String::new();
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tail.push_str(&line);
            tail.push('\n');
            if tail.len() > STDERR_KEEP {
                let cut = tail.len() - STDERR_KEEP;
                let cut = (cut..tail.len())
                    .find(|&i| tail.is_char_boundary(i))
                    .unwrap_or(tail.len());
                tail.drain(..cut);
            }
        }
        tail
    };
    let (stdout, stderr) = tokio::join!(read_stdout, read_stderr);
    let status = child.wait().await;
    (stdout, stderr, status)
}
