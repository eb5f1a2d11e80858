use std::ffi::OsString;

use super::probe::Probe;
use super::{MediaError, Source};

/// The working directory's layout: ffmpeg runs in it and is given these relative paths,
/// so that no path ever needs escaping inside a `tee` or filter specification.
pub mod files {
    /// The upload: a link to the stored file on local disk, a download from S3.
    pub const ORIGINAL: &str = "original";
    /// Everything to store, laid out as under `videos/{vid}/`.
    pub const OUT: &str = "out";
    /// The browser-safe MP4.
    pub const PLAYABLE: &str = "out/playable.mp4";
    /// The poster.
    pub const POSTER: &str = "out/poster.jpg";
    /// The HLS renditions.
    pub const HLS: &str = "out/hls";
    /// The HLS master playlist, relative to [`HLS`].
    pub const MASTER: &str = "master.m3u8";
    /// Each rendition's playlist, relative to its directory.
    pub const MEDIA_PLAYLIST: &str = "index.m3u8";
}

/// The longest HLS segment wanted, in seconds.
pub const SEGMENT_SECONDS: u32 = 4;
/// The shorter sides of the ladder's fixed rungs; the source's own (up to 1080) tops it.
const LADDER: [u32; 2] = [360, 720];
/// The largest rendition's shorter side.
const MAX_SHORT_SIDE: u32 = 1080;
/// The poster's shorter side at most.
const POSTER_SHORT_SIDE: u32 = 720;

/// One rendition of the HLS ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    /// Its directory under `hls/` (`720p`, or `audio` for an audio-only upload).
    pub name: String,
    /// Frame size in pixels; `None` for audio only.
    pub size: Option<(u32, u32)>,
    /// Whether the source's video stream is copied rather than encoded.
    pub copy: bool,
    /// The video bitrate cap when encoded, in kbit/s.
    pub max_kbps: u32,
}

/// What happens to the audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioPlan {
    /// There is none.
    None,
    /// Copied: it is AAC already.
    Copy,
    /// Encoded to AAC.
    Encode,
}

/// What to make of an upload, decided from its probe.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The ladder, smallest first; the last rung also becomes `playable.mp4`.
    pub rungs: Vec<Rung>,
    pub audio: AudioPlan,
    /// The poster's size (`None`: a waveform picture, for audio only).
    pub poster_size: Option<(u32, u32)>,
    /// Where the poster frame is taken, in seconds.
    pub poster_at: f64,
}

/// Rounds to the nearest even number, at least 2: H.264 in 4:2:0 needs even sizes.
fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32).max(1) * 2
}

/// The size with shorter side `short`, keeping the aspect of `display`.
fn scaled(display: (u32, u32), short: u32) -> (u32, u32) {
    let (w, h) = (f64::from(display.0), f64::from(display.1));
    let short = f64::from(short);
    if w >= h {
        (even(w * short / h), even(short))
    } else {
        (even(short), even(h * short / w))
    }
}

/// A bitrate cap for a rendition, by its shorter side.
fn max_kbps(short: u32) -> u32 {
    match short {
        0..=240 => 500,
        241..=360 => 1000,
        361..=480 => 1500,
        481..=720 => 3000,
        _ => 6000,
    }
}

impl Plan {
    /// Decides what to make: the ladder (360p, 720p, and the source's own height up to
    /// 1080p, never upscaled), whether the video can be copied (browser-safe H.264 no
    /// taller than 1080p) or must be encoded, and the same for the audio.
    pub fn new(probe: &Probe) -> Result<Self, MediaError> {
        let audio = match &probe.audio {
            None => AudioPlan::None,
            Some(a) if a.plays_everywhere() => AudioPlan::Copy,
            Some(_) => AudioPlan::Encode,
        };
        let poster_at = probe
            .duration_ms
            .map_or(0.0, |d| (d as f64 / 1000.0 * 0.1).min(10.0));
        let Some(video) = &probe.video else {
            if audio == AudioPlan::None {
                return Err(MediaError::Unusable(
                    "the file has neither video nor audio".into(),
                ));
            }
            return Ok(Self {
                rungs: vec![Rung {
                    name: "audio".into(),
                    size: None,
                    copy: false,
                    max_kbps: 0,
                }],
                audio,
                poster_size: None,
                poster_at,
            });
        };
        let display = video.display_size();
        let short = display.0.min(display.1);
        let top = short.min(MAX_SHORT_SIDE);
        let copy_top = video.plays_everywhere() && short <= MAX_SHORT_SIDE;
        let mut shorts: Vec<u32> = LADDER.into_iter().filter(|&s| s < top).collect();
        shorts.push(top);
        let rungs = shorts
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let is_top = i + 1 == shorts.len();
                let copy = is_top && copy_top;
                let size = if copy { display } else { scaled(display, s) };
                Rung {
                    name: format!("{}p", size.0.min(size.1)),
                    size: Some(size),
                    copy,
                    max_kbps: max_kbps(s),
                }
            })
            .collect();
        Ok(Self {
            rungs,
            audio,
            poster_size: Some(scaled(display, short.min(POSTER_SHORT_SIDE))),
            poster_at,
        })
    }

    /// Whether the source's video is copied as it is (a remux, no video encoding for
    /// the playable MP4).
    pub fn remuxes(&self) -> bool {
        self.rungs.last().is_some_and(|r| r.copy)
    }

    /// The one ffmpeg command that makes `playable.mp4` and every rendition from the
    /// upload, opened as `source` says: the source is decoded once and split; the top
    /// rung is encoded (or copied) once and written both as the MP4 (`faststart`) and as
    /// HLS through the `tee` muxer.
    pub fn main_args(&self, source: &Source) -> Vec<OsString> {
        self.ladder_args(source, true)
    }

    /// The HLS ladder alone, or with `playable.mp4` from its top rung when `mp4`: the
    /// command [`Plan::main_args`] describes. Without the MP4 it is for an upload whose
    /// first rendition is the final one already (a remux).
    pub fn ladder_args(&self, source: &Source, mp4: bool) -> Vec<OsString> {
        let threads = source.threads.to_string();
        let mut args = preamble(&threads);
        args.extend(["-progress", "pipe:1", "-nostats"].map(String::from));
        args.extend(source.input_args(files::ORIGINAL));
        let encoded: Vec<(usize, &Rung)> = self
            .rungs
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.copy && r.size.is_some())
            .collect();
        if !encoded.is_empty() {
            args.push("-filter_complex".into());
            args.push(filter_graph(&encoded));
        }
        // Encoded rungs get a keyframe where the copied one has one, or every 2 s, so
        // that segments line up across the ladder and players switch cleanly.
        let keyframes = if self.remuxes() {
            "source"
        } else {
            "expr:gte(t,n_forced*2)"
        };
        let last = self.rungs.len() - 1;
        for (i, rung) in self.rungs.iter().enumerate() {
            match (rung.size, rung.copy) {
                (None, _) => args.extend(["-vn".into()]),
                (Some(_), true) => args.extend(["-map", "0:v:0", "-c:v", "copy"].map(String::from)),
                (Some(_), false) => {
                    args.extend([
                        "-map".into(),
                        format!("[v{i}]"),
                        "-c:v".into(),
                        "libx264".into(),
                        "-preset".into(),
                        "veryfast".into(),
                        "-crf".into(),
                        "23".into(),
                        "-maxrate".into(),
                        format!("{}k", rung.max_kbps),
                        "-bufsize".into(),
                        format!("{}k", rung.max_kbps * 2),
                        "-profile:v".into(),
                        "high".into(),
                        "-force_key_frames".into(),
                        keyframes.into(),
                    ]);
                }
            }
            match self.audio {
                AudioPlan::None => args.push("-an".into()),
                AudioPlan::Copy => {
                    args.extend(["-map", "0:a:0", "-c:a", "copy"].map(String::from));
                }
                AudioPlan::Encode => args.extend(
                    ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ac", "2"].map(String::from),
                ),
            }
            args.extend(["-threads".into(), threads.clone()]);
            let dir = format!("{}/{}", files::HLS, rung.name);
            let segments = format!("{dir}/seg_%03d.ts");
            let playlist = format!("{dir}/{}", files::MEDIA_PLAYLIST);
            if i == last && mp4 {
                // The MP4 wants codec headers out of band and the TS segments in band;
                // with `tee` ffmpeg cannot tell, so ask for global headers explicitly.
                args.extend([
                    "-flags".into(),
                    "+global_header".into(),
                    "-f".into(),
                    "tee".into(),
                    format!(
                        "[f=mp4:movflags=+faststart]{}|[f=hls:hls_time={SEGMENT_SECONDS}:\
                         hls_playlist_type=vod:hls_segment_filename={segments}]{playlist}",
                        files::PLAYABLE
                    ),
                ]);
            } else {
                args.extend([
                    "-f".into(),
                    "hls".into(),
                    "-hls_time".into(),
                    SEGMENT_SECONDS.to_string(),
                    "-hls_playlist_type".into(),
                    "vod".into(),
                    "-hls_segment_filename".into(),
                    segments,
                    playlist,
                ]);
            }
        }
        args.into_iter().map(OsString::from).collect()
    }

    /// The ffmpeg command that makes the poster from the upload, opened as `source`
    /// says: a frame a tenth of the way in (at most 10 s), found by a fast input seek,
    /// or a waveform picture for audio only.
    pub fn poster_args(&self, source: &Source) -> Vec<OsString> {
        let threads = source.threads.to_string();
        let mut args = preamble(&threads);
        match self.poster_size {
            Some((w, h)) => {
                args.extend(["-ss".into(), format!("{:.3}", self.poster_at)]);
                args.extend(source.input_args(files::ORIGINAL));
                args.extend([
                    "-map".into(),
                    "0:v:0".into(),
                    "-vf".into(),
                    format!("scale={w}:{h},setsar=1"),
                ]);
            }
            None => {
                args.extend(source.input_args(files::ORIGINAL));
                args.extend([
                    "-filter_complex".into(),
                    "[0:a:0]showwavespic=s=1280x720:colors=0x4f9cf7[p]".into(),
                    "-map".into(),
                    "[p]".into(),
                ]);
            }
        }
        args.extend(
            [
                "-threads",
                &threads,
                "-frames:v",
                "1",
                "-q:v",
                "3",
                "-update",
                "1",
                files::POSTER,
            ]
            .map(String::from),
        );
        args.into_iter().map(OsString::from).collect()
    }
}

/// What every ffmpeg command starts with: no stdin, errors only, overwrite, and
/// `threads` for the filter graph.
fn preamble(threads: &str) -> Vec<String> {
    [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-filter_complex_threads",
        threads,
    ]
    .map(String::from)
    .to_vec()
}

/// Splits the decoded source into one scaled, 8-bit 4:2:0 branch per encoded rung.
fn filter_graph(encoded: &[(usize, &Rung)]) -> String {
    let branch = |input: String, i: usize, rung: &Rung| {
        let (w, h) = rung.size.expect("encoded rungs have a size");
        format!("{input}scale={w}:{h},setsar=1,format=yuv420p[v{i}]")
    };
    if let [(i, rung)] = encoded {
        return branch("[0:v:0]".into(), *i, rung);
    }
    let mut graph = format!("[0:v:0]split={}", encoded.len());
    for (i, _) in encoded {
        graph.push_str(&format!("[s{i}]"));
    }
    for (i, rung) in encoded {
        graph.push(';');
        graph.push_str(&branch(format!("[s{i}]"), *i, rung));
    }
    graph
}

/// The first rendition: what makes an upload playable soonest.
mod first;

/// The plan's decisions for the kinds of upload that matter.
#[cfg(test)]
mod tests;
