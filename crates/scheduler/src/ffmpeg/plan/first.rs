//! The first rendition: the quickest way to a `playable.mp4` every browser plays, made
//! before the ladder so that a video is watchable long before it is fully processed
//! (docs/architecture.md, "How an upload flows").
//!
//! An upload whose video is browser-safe H.264 (and whose audio is AAC, or absent) is
//! only remuxed, with `faststart`: that takes well under a second, and it is the final
//! MP4 as well. Anything else is encoded once with x264's fastest preset, no taller
//! than [`FIRST_SHORT_SIDE`]; the ladder then makes the MP4 at full quality, which
//! replaces it.

use std::ffi::OsString;

use super::{AudioPlan, Plan, files, preamble, scaled};
use crate::ffmpeg::Source;

/// The shorter side of an encoded first rendition at most: decoding the upload costs
/// the same whatever the output, but encoding and scaling cost by the pixel, and a
/// smaller first rendition is ready sooner.
pub const FIRST_SHORT_SIDE: u32 = 480;

impl Plan {
    /// Whether the first rendition is a remux that is also the final MP4: the video is
    /// copied and the audio copied or absent (an upload browsers play as it is).
    pub fn remux_only(&self) -> bool {
        self.remuxes() && self.audio != AudioPlan::Encode
    }

    /// The frame size of the first rendition when it is encoded: the top rung's, or
    /// that scaled to [`FIRST_SHORT_SIDE`] when taller.
    pub fn first_size(&self) -> Option<(u32, u32)> {
        let top = self.rungs.last()?.size?;
        Some(if top.0.min(top.1) <= FIRST_SHORT_SIDE {
            top
        } else {
            scaled(top, FIRST_SHORT_SIDE)
        })
    }

    /// The ffmpeg command that makes the first `playable.mp4` (with `faststart`) from
    /// the upload, opened as `source` says, reporting progress on stdout.
    pub fn first_args(&self, source: &Source) -> Vec<OsString> {
        let threads = source.threads.to_string();
        let mut args = preamble(&threads);
        args.extend(["-progress", "pipe:1", "-nostats"].map(String::from));
        args.extend(source.input_args(files::ORIGINAL));
        if self.remuxes() {
            args.extend(["-map", "0:v:0", "-c:v", "copy"].map(String::from));
        } else if let Some((w, h)) = self.first_size() {
            args.extend([
                "-map".into(),
                "0:v:0".into(),
                "-vf".into(),
                format!("scale={w}:{h},setsar=1,format=yuv420p"),
                "-c:v".into(),
                "libx264".into(),
                // No B-frames and CAVLC: the cheapest encode there is, which every
                // H.264 decoder plays.
                "-preset".into(),
                "ultrafast".into(),
                "-crf".into(),
                "26".into(),
            ]);
        } else {
            args.push("-vn".into());
        }
        match self.audio {
            AudioPlan::None => args.push("-an".into()),
            AudioPlan::Copy => args.extend(["-map", "0:a:0", "-c:a", "copy"].map(String::from)),
            AudioPlan::Encode => args.extend(
                ["-map", "0:a:0", "-c:a", "aac", "-b:a", "128k", "-ac", "2"].map(String::from),
            ),
        }
        args.extend(
            [
                "-threads",
                &threads,
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
                files::PLAYABLE,
            ]
            .map(String::from),
        );
        args.into_iter().map(OsString::from).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffmpeg::probe::{AudioStream, Probe, VideoStream};

    const SOURCE: Source = Source {
        format: "mov",
        threads: 2,
    };

    fn plan(codec: &str, width: u32, height: u32, audio: Option<&str>) -> Plan {
        Plan::new(&Probe {
            duration_ms: Some(60_000),
            video: Some(VideoStream {
                codec: codec.into(),
                profile: Some("High".into()),
                pix_fmt: Some("yuv420p".into()),
                level: Some(40),
                width,
                height,
                rotation: 0,
                sample_aspect: None,
            }),
            audio: audio.map(|c| AudioStream {
                codec: c.into(),
                profile: Some("LC".into()),
            }),
        })
        .unwrap()
    }

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn browser_ready_uploads_are_remuxed_to_faststart() {
        let p = plan("h264", 1280, 720, Some("aac"));
        assert!(p.remux_only());
        let args = strings(p.first_args(&SOURCE));
        assert!(!args.iter().any(|a| a == "libx264"), "{args:?}");
        assert!(args.windows(2).any(|w| w == ["-c:v", "copy"]));
        assert!(args.windows(2).any(|w| w == ["-c:a", "copy"]));
        assert!(args.windows(2).any(|w| w == ["-movflags", "+faststart"]));
        assert_eq!(args.last().unwrap(), files::PLAYABLE);
    }

    #[test]
    fn other_uploads_get_a_quick_encode_no_taller_than_480p() {
        let p = plan("vp9", 1280, 720, Some("opus"));
        assert!(!p.remux_only());
        assert_eq!(p.first_size(), Some((854, 480)));
        let args = strings(p.first_args(&SOURCE));
        assert!(args.windows(2).any(|w| w == ["-preset", "ultrafast"]));
        assert!(args.iter().any(|a| a.starts_with("scale=854:480,")));
        assert!(args.windows(2).any(|w| w == ["-c:a", "aac"]));

        let small = plan("vp9", 640, 360, None);
        assert_eq!(small.first_size(), Some((640, 360)));
        assert!(
            strings(small.first_args(&SOURCE))
                .iter()
                .any(|a| a == "-an")
        );

        // H.264 with audio to encode: the video is copied, only the audio is encoded.
        let p = plan("h264", 1280, 720, Some("opus"));
        assert!(p.remuxes() && !p.remux_only());
        let args = strings(p.first_args(&SOURCE));
        assert!(args.windows(2).any(|w| w == ["-c:v", "copy"]));
        assert!(args.windows(2).any(|w| w == ["-c:a", "aac"]));
    }

    #[test]
    fn the_ladder_can_leave_the_mp4_out() {
        let p = plan("h264", 1280, 720, Some("aac"));
        let with = strings(p.ladder_args(&SOURCE, true));
        let without = strings(p.ladder_args(&SOURCE, false));
        assert!(with.iter().any(|a| a.contains(files::PLAYABLE)));
        assert!(
            !without.iter().any(|a| a.contains(files::PLAYABLE)),
            "{without:?}"
        );
        assert!(without.iter().any(|a| a.ends_with("720p/index.m3u8")));
    }
}
