//! ffmpeg and ffprobe as child processes: probing, running a plan with `-progress`
//! parsing, and at most one job per core.
//!
//! An upload is hostile until proven otherwise, so every run opens it with the demuxer
//! of the container the sniffer recognised (`-f`, never a guess that could pick the HLS,
//! SDP or concat demuxers) and the `file` protocol alone (`-protocol_whitelist file`),
//! with a bounded number of threads, a cleared environment, and a time limit derived
//! from the probed duration but never above the configured maximum, whatever the upload
//! declares.

/// Running the programs: environment, process group, time limit, output.
mod child;
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

use reel_core::sniff::Container;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use child::Stopped;
pub use probe::Probe;

/// The longest an ffprobe run may take: reading headers is quick for any real file.
const PROBE_LIMIT: Duration = Duration::from_secs(60);
/// What any ffmpeg run may take on top of its share per second of media.
const RUN_FLOOR: Duration = Duration::from_secs(120);

/// Why a media step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The file cannot be made playable; retrying would fail the same way. The message
    /// is meant for the video's owner.
    #[error("{0}")]
    Unusable(String),
    /// The tool could not run to its end for a reason that may pass (killed, could not
    /// start).
    #[error("{0}")]
    Interrupted(String),
}

/// How ffmpeg and ffprobe are run.
#[derive(Clone, Debug)]
pub struct FfmpegSettings {
    /// The ffmpeg program (a name looked up in `PATH`, or a path).
    pub ffmpeg: PathBuf,
    /// The ffprobe program.
    pub ffprobe: PathBuf,
    /// Jobs at once.
    pub jobs: usize,
    /// Threads each run may use (`-threads`, for decoding, filtering and encoding).
    pub threads: usize,
    /// The longest any run may take, whatever the upload says of itself.
    pub max_runtime: Duration,
    /// A run's time limit per second of the probed duration (on top of two minutes),
    /// up to `max_runtime`.
    pub runtime_per_media_second: Duration,
}

/// How ffmpeg is to open an upload: with the demuxer of its sniffed container, the
/// `file` protocol alone, and a bounded number of threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// The demuxer (`-f`), from [`reel_core::sniff::Container::ffmpeg_format`].
    pub format: &'static str,
    /// Decoding threads.
    pub threads: usize,
}

impl Source {
    /// The input options and `-i file`.
    pub fn input_args(&self, file: &str) -> Vec<String> {
        [
            "-threads",
            &self.threads.to_string(),
            "-f",
            self.format,
            "-protocol_whitelist",
            "file",
            "-i",
            file,
        ]
        .map(String::from)
        .to_vec()
    }
}

/// The ffmpeg and ffprobe programs, found working at start.
#[derive(Clone, Debug)]
pub struct Ffmpeg {
    /// How they run.
    settings: FfmpegSettings,
    /// One permit per job that may run at once.
    jobs: Arc<Semaphore>,
}

impl Ffmpeg {
    /// Checks that both programs run (as they will: with a cleared environment); `None`
    /// (with the reason logged) when either does not.
    pub async fn detect(settings: FfmpegSettings) -> Option<Self> {
        for program in [&settings.ffmpeg, &settings.ffprobe] {
            let ran = child::command(program)
                .arg("-version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
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
            jobs: Arc::new(Semaphore::new(settings.jobs.max(1))),
            settings,
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

    /// How to open a file of `container`.
    pub fn source(&self, container: Container) -> Source {
        Source {
            format: container.ffmpeg_format(),
            threads: self.settings.threads.max(1),
        }
    }

    /// The time limit of a run on media of `duration_ms`: two minutes and
    /// `runtime_per_media_second` for each second, never more than `max_runtime` (which
    /// is also the limit when the duration is unknown).
    pub fn time_limit(&self, duration_ms: Option<i64>) -> Duration {
        let max = self.settings.max_runtime;
        match duration_ms {
            Some(ms) => {
                let seconds = ms.max(0) as f64 / 1000.0;
                let per = self.settings.runtime_per_media_second.as_secs_f64();
                let wanted = RUN_FLOOR.as_secs_f64() + seconds * per;
                Duration::try_from_secs_f64(wanted).map_or(max, |d| d.min(max))
            }
            None => max,
        }
    }

    /// What ffprobe says about `file` in `dir`, opened as `source` says. A file it
    /// cannot read, or takes too long to, is [`MediaError::Unusable`].
    pub async fn probe(
        &self,
        dir: &Path,
        file: &str,
        source: &Source,
    ) -> Result<Probe, MediaError> {
        let limit = PROBE_LIMIT.min(self.settings.max_runtime);
        let args = probe_args(file, source);
        let out = child::run(&self.settings.ffprobe, dir, &args, limit, None, None)
            .await
            .map_err(|stopped| stopped_error(stopped, limit, "reading the file"))?;
        if !out.success {
            return Err(MediaError::Unusable(format!(
                "not a video file ffmpeg can read ({})",
                readable(&out.stderr, file)
            )));
        }
        Probe::from_json(&out.stdout)
            .map_err(|e| MediaError::Interrupted(format!("unexpected ffprobe output: {e}")))
    }

    /// Runs ffmpeg with `args` in `dir` on media of `duration_ms`, sending progress in
    /// percent to `progress`, within [`Ffmpeg::time_limit`]. A non-zero exit, or a run
    /// past its limit, is [`MediaError::Unusable`] with the reason.
    pub async fn run(
        &self,
        dir: &Path,
        args: &[OsString],
        duration_ms: Option<i64>,
        progress: Option<&watch::Sender<u8>>,
    ) -> Result<(), MediaError> {
        let limit = self.time_limit(duration_ms);
        let out = child::run(
            &self.settings.ffmpeg,
            dir,
            args,
            limit,
            duration_ms,
            progress,
        )
        .await
        .map_err(|stopped| stopped_error(stopped, limit, "processing"))?;
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

/// A run that passed its limit fails for good (the same file would take as long again);
/// one that could not start or was killed from outside may pass.
fn stopped_error(stopped: Stopped, limit: Duration, what: &str) -> MediaError {
    match stopped {
        Stopped::TimedOut => MediaError::Unusable(format!(
            "{what} took longer than {} s, the most this file may take, and was stopped",
            limit.as_secs()
        )),
        Stopped::Interrupted(why) => MediaError::Interrupted(why),
    }
}

/// The ffprobe arguments that describe `file`, opened as `source` says, as JSON.
pub fn probe_args(file: &str, source: &Source) -> Vec<OsString> {
    let mut args: Vec<String> = [
        "-v",
        "error",
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
    ]
    .map(String::from)
    .to_vec();
    args.extend(source.input_args(file));
    args.into_iter().map(OsString::from).collect()
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
