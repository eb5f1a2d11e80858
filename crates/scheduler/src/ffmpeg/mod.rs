//! ffmpeg and ffprobe as child processes: probing, running a plan with `-progress`
//! parsing, and at most one job per core.

/// The HLS master playlist and the figures it needs.
pub mod hls;
/// What to make of an upload: the ladder, remux or transcode, and the command lines.
pub mod plan;
/// What ffprobe says about a file.
pub mod probe;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

pub use probe::Probe;

/// The most stderr kept from one command: enough for its error lines.
const STDERR_KEEP: usize = 4096;

/// Why a media step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The file cannot be made playable; retrying would fail the same way. The message
    /// is meant for the video's owner.
    #[error("{0}")]
    Unusable(String),
    /// The tool could not run to its end for a reason that may pass (killed, timed out,
    /// could not start).
    #[error("{0}")]
    Interrupted(String),
}

/// The ffmpeg and ffprobe programs, found working at start.
#[derive(Clone, Debug)]
pub struct Ffmpeg {
    /// The ffmpeg program.
    ffmpeg: PathBuf,
    /// The ffprobe program.
    ffprobe: PathBuf,
    /// One permit per job that may run at once.
    jobs: Arc<Semaphore>,
}

impl Ffmpeg {
    /// Checks that both programs run; `None` (with the reason logged) when either does not.
    pub async fn detect(ffmpeg: &Path, ffprobe: &Path, jobs: usize) -> Option<Self> {
        for program in [ffmpeg, ffprobe] {
            let ran = Command::new(program)
                .arg("-version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .status()
                .await;
            match ran {
                Ok(status) if status.success() => {}
                Ok(status) => {
                    tracing::warn!(program = %program.display(), %status,
                        "ffmpeg is not usable: uploads will be served as they came, unprocessed");
                    return None;
                }
                Err(e) => {
                    tracing::warn!(program = %program.display(), error = %e,
                        "ffmpeg not found: uploads will be served as they came, unprocessed \
                         (install ffmpeg to make every upload playable everywhere)");
                    return None;
                }
            }
        }
        Some(Self {
            ffmpeg: ffmpeg.to_owned(),
            ffprobe: ffprobe.to_owned(),
            jobs: Arc::new(Semaphore::new(jobs.max(1))),
        })
    }

    /// Waits for a job slot; the job may run while the permit is held.
    pub async fn job_slot(&self) -> OwnedSemaphorePermit {
        self.jobs
            .clone()
            .acquire_owned()
            .await
            .expect("the job semaphore is never closed")
    }

    /// What ffprobe says about `file`, in `dir`. A file it cannot read is
    /// [`MediaError::Unusable`].
    pub async fn probe(&self, dir: &Path, file: &str) -> Result<Probe, MediaError> {
        let out = run(
            &self.ffprobe,
            dir,
            &probe_args(file),
            Duration::from_secs(120),
            None,
            None,
        )
        .await?;
        if !out.success {
            return Err(MediaError::Unusable(format!(
                "not a video file ffmpeg can read ({})",
                readable(&out.stderr, file)
            )));
        }
        Probe::from_json(&out.stdout)
            .map_err(|e| MediaError::Interrupted(format!("unexpected ffprobe output: {e}")))
    }

    /// Runs ffmpeg with `args` in `dir`, sending progress in percent of `duration_ms`
    /// to `progress`. A non-zero exit is [`MediaError::Unusable`] with ffmpeg's reason.
    pub async fn run(
        &self,
        dir: &Path,
        args: &[OsString],
        duration_ms: Option<i64>,
        progress: Option<&watch::Sender<u8>>,
    ) -> Result<(), MediaError> {
        // Generous: far slower than any machine that can serve video at all.
        let limit = Duration::from_secs(1800)
            + Duration::from_millis(duration_ms.unwrap_or(0).max(0) as u64 * 20);
        let out = run(&self.ffmpeg, dir, args, limit, duration_ms, progress).await?;
        if out.success {
            Ok(())
        } else {
            Err(MediaError::Unusable(format!(
                "ffmpeg could not convert the file ({})",
                readable(&out.stderr, "original")
            )))
        }
    }
}

/// The ffprobe arguments that describe `file` as JSON.
pub fn probe_args(file: &str) -> Vec<OsString> {
    [
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        file,
    ]
    .iter()
    .map(OsString::from)
    .collect()
}

/// What a finished command left.
struct Finished {
    /// It exited with status 0.
    success: bool,
    /// Its standard output, unless it was read as progress.
    stdout: Vec<u8>,
    /// The end of its standard error.
    stderr: String,
}

/// Runs `program` in `dir`. With `progress`, stdout is read as `-progress` lines and
/// turned into percent of `duration_ms`; otherwise it is kept. Death by signal and
/// timeouts are [`MediaError::Interrupted`].
async fn run(
    program: &Path,
    dir: &Path,
    args: &[OsString],
    limit: Duration,
    duration_ms: Option<i64>,
    progress: Option<&watch::Sender<u8>>,
) -> Result<Finished, MediaError> {
    tracing::debug!(program = %program.display(), ?args, "running");
    let mut child = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| MediaError::Interrupted(format!("cannot start {}: {e}", program.display())))?;
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
    let all = async {
        let (stdout, stderr) = tokio::join!(read_stdout, read_stderr);
        let status = child.wait().await;
        (stdout, stderr, status)
    };
    let (stdout, stderr, status) = tokio::time::timeout(limit, all).await.map_err(|_| {
        MediaError::Interrupted(format!(
            "{} took longer than {} s and was stopped",
            program.display(),
            limit.as_secs()
        ))
    })?;
    let status = status
        .map_err(|e| MediaError::Interrupted(format!("waiting for {}: {e}", program.display())))?;
    if status.code().is_none() {
        return Err(MediaError::Interrupted(format!(
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

/// The percentage an ffmpeg `-progress` line reports, if it reports one: `out_time_us`
/// against the duration, kept below 100 until the work is really over.
pub fn progress_percent(line: &str, duration_ms: Option<i64>) -> Option<u8> {
    let duration_us = duration_ms.filter(|&d| d > 0)? * 1000;
    let value = line.strip_prefix("out_time_us=")?.trim();
    let done_us: i64 = value.parse().ok()?;
    let percent = (done_us.max(0) * 100 / duration_us).min(99);
    u8::try_from(percent).ok()
}

/// The last line of a tool's stderr, without our working file names, for people.
fn readable(stderr: &str, file: &str) -> String {
    let line = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no details");
    let line = line
        .strip_prefix(&format!("{file}: "))
        .unwrap_or(line)
        .replace(file, "the upload");
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_become_percentages() {
        assert_eq!(
            progress_percent("out_time_us=5000000", Some(10_000)),
            Some(50)
        );
        assert_eq!(
            progress_percent("out_time_us=12000000", Some(10_000)),
            Some(99)
        );
        assert_eq!(
            progress_percent("out_time_us=-40000", Some(10_000)),
            Some(0)
        );
        assert_eq!(progress_percent("out_time_us=N/A", Some(10_000)), None);
        assert_eq!(progress_percent("out_time_us=5000000", None), None);
        assert_eq!(progress_percent("frame=12", Some(10_000)), None);
    }

    #[test]
    fn errors_name_the_upload_not_our_files() {
        let stderr = "original: Invalid data found when processing input\n";
        assert_eq!(
            readable(stderr, "original"),
            "Invalid data found when processing input"
        );
        assert_eq!(readable("", "original"), "no details");
    }
}
