use std::fmt::Write as _;
use std::path::Path;

use super::probe::Probe;

/// One entry of the master playlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its playlist, relative to the master (`720p/index.m3u8`).
    pub uri: String,
    /// The highest bitrate of any segment, in bit/s.
    pub peak_bps: u64,
    /// The bitrate over the whole rendition, in bit/s.
    pub average_bps: u64,
    /// Frame size, for video.
    pub resolution: Option<(u32, u32)>,
    /// RFC 6381 codec names (`avc1.64001f,mp4a.40.2`), when known.
    pub codecs: Option<String>,
}

/// The master playlist over `variants`, smallest first so that playback starts fast.
pub fn master_playlist(variants: &[Variant]) -> String {
    let mut out = String::from("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    for v in variants {
        let _ = write!(
            out,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={}",
            v.peak_bps.max(1),
            v.average_bps.max(1)
        );
        if let Some((w, h)) = v.resolution {
            let _ = write!(out, ",RESOLUTION={w}x{h}");
        }
        if let Some(codecs) = &v.codecs {
            let _ = write!(out, ",CODECS=\"{codecs}\"");
        }
        let _ = writeln!(out, "\n{}", v.uri);
    }
    out
}

/// The segments of a media playlist: (file name, duration in seconds).
pub fn segments(playlist: &str) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let mut duration = None;
    for line in playlist.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest.split(',').next().and_then(|d| d.parse::<f64>().ok());
        } else if !line.is_empty() && !line.starts_with('#') {
            out.push((line.to_owned(), duration.take().unwrap_or(0.0)));
        }
    }
    out
}

/// Peak and average bitrates of the rendition in `dir` whose playlist is `playlist`.
pub async fn bitrates(dir: &Path, playlist: &str) -> std::io::Result<(u64, u64)> {
    let (mut peak, mut bytes, mut seconds) = (0u64, 0u64, 0f64);
    for (name, duration) in segments(playlist) {
        let size = tokio::fs::metadata(dir.join(&name)).await?.len();
        bytes += size;
        seconds += duration;
        if duration > 0.0 {
            peak = peak.max((size as f64 * 8.0 / duration).ceil() as u64);
        }
    }
    let average = if seconds > 0.0 {
        (bytes as f64 * 8.0 / seconds).ceil() as u64
    } else {
        peak
    };
    Ok((peak, average))
}

/// The RFC 6381 codec names of a rendition, from a probe of one of its segments.
pub fn codecs(probe: &Probe) -> Option<String> {
    let mut names = Vec::new();
    if let Some(v) = &probe.video {
        if v.codec != "h264" {
            return None;
        }
        // profile_idc and the constraint flags usually set with it.
        let profile = match v.profile.as_deref()? {
            "Constrained Baseline" | "Baseline" => "42e0",
            "Main" => "4d40",
            "High" => "6400",
            _ => return None,
        };
        let level = u8::try_from(v.level?).ok()?;
        names.push(format!("avc1.{profile}{level:02x}"));
    }
    if let Some(a) = &probe.audio {
        let object_type = match (a.codec.as_str(), a.profile.as_deref()) {
            ("aac", Some("HE-AAC")) => 5,
            ("aac", Some("HE-AACv2")) => 29,
            ("aac", _) => 2,
            _ => return None,
        };
        names.push(format!("mp4a.40.{object_type}"));
    }
    (!names.is_empty()).then(|| names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffmpeg::probe::{AudioStream, VideoStream};

    #[test]
    fn media_playlists_list_their_segments() {
        let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.000000,\nseg_000.ts\n\
                        #EXTINF:2.5,\nseg_001.ts\n#EXT-X-ENDLIST\n";
        assert_eq!(
            segments(playlist),
            [
                ("seg_000.ts".to_owned(), 4.0),
                ("seg_001.ts".to_owned(), 2.5)
            ]
        );
    }

    #[test]
    fn the_master_names_every_variant() {
        let master = master_playlist(&[Variant {
            uri: "360p/index.m3u8".into(),
            peak_bps: 900_000,
            average_bps: 700_000,
            resolution: Some((640, 360)),
            codecs: Some("avc1.64001e,mp4a.40.2".into()),
        }]);
        assert_eq!(
            master,
            "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n\
             #EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,\
             CODECS=\"avc1.64001e,mp4a.40.2\"\n360p/index.m3u8\n"
        );
    }

    #[test]
    fn codec_names_follow_rfc_6381() {
        let probe = Probe {
            duration_ms: None,
            video: Some(VideoStream {
                codec: "h264".into(),
                profile: Some("High".into()),
                pix_fmt: Some("yuv420p".into()),
                level: Some(31),
                width: 1280,
                height: 720,
                rotation: 0,
                sample_aspect: None,
            }),
            audio: Some(AudioStream {
                codec: "aac".into(),
                profile: Some("LC".into()),
            }),
        };
        assert_eq!(codecs(&probe).as_deref(), Some("avc1.64001f,mp4a.40.2"));
    }
}
