use std::collections::HashMap;

use serde::Deserialize;

/// What ffprobe says about a media file, reduced to what processing decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    /// Length in milliseconds, when the container says.
    pub duration_ms: Option<i64>,
    /// The first video stream that is not a cover picture.
    pub video: Option<VideoStream>,
    /// The first audio stream.
    pub audio: Option<AudioStream>,
}

/// A video stream.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoStream {
    /// ffprobe's codec name (`h264`, `vp9`, `hevc`, …).
    pub codec: String,
    /// The codec profile (`High`, `Main`, …).
    pub profile: Option<String>,
    /// The pixel format (`yuv420p`, `yuv420p10le`, …).
    pub pix_fmt: Option<String>,
    /// The codec level as ffprobe gives it (31 for 3.1).
    pub level: Option<i64>,
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Display rotation in degrees, a multiple of 90.
    pub rotation: i32,
    /// Pixel aspect ratio (width, height) when not square.
    pub sample_aspect: Option<(u32, u32)>,
}

/// An audio stream.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioStream {
    /// ffprobe's codec name (`aac`, `opus`, …).
    pub codec: String,
    /// The codec profile (`LC`, `HE-AAC`, …).
    pub profile: Option<String>,
}

impl VideoStream {
    /// The size people see: pixel aspect and rotation applied.
    pub fn display_size(&self) -> (u32, u32) {
        let width = match self.sample_aspect {
            Some((n, d)) if d > 0 => {
                (u64::from(self.width) * u64::from(n) / u64::from(d)).max(1) as u32
            }
            _ => self.width,
        };
        if self.rotation.rem_euclid(180) == 90 {
            (self.height, width)
        } else {
            (width, self.height)
        }
    }

    /// Whether every browser plays this stream as it is: 8-bit 4:2:0 H.264 in a
    /// profile browsers decode, upright and with square pixels (the HLS segments
    /// cannot carry rotation).
    pub fn plays_everywhere(&self) -> bool {
        self.codec == "h264"
            && matches!(self.pix_fmt.as_deref(), Some("yuv420p" | "yuvj420p"))
            && matches!(
                self.profile.as_deref(),
                Some("Baseline" | "Constrained Baseline" | "Main" | "High")
            )
            && self.rotation.rem_euclid(360) == 0
            && self.sample_aspect.is_none()
    }
}

impl AudioStream {
    /// Whether every browser plays this stream as it is: AAC.
    pub fn plays_everywhere(&self) -> bool {
        self.codec == "aac"
            && matches!(
                self.profile.as_deref(),
                None | Some("LC" | "HE-AAC" | "HE-AACv2")
            )
    }
}

/// ffprobe's `-print_format json -show_format -show_streams` output.
#[derive(Deserialize)]
struct ProbeJson {
    /// Every stream.
    #[serde(default)]
    streams: Vec<StreamJson>,
    /// The container.
    format: Option<FormatJson>,
}

/// One stream as ffprobe prints it.
#[derive(Deserialize)]
struct StreamJson {
    /// `video`, `audio`, `subtitle`, `data`.
    codec_type: Option<String>,
    codec_name: Option<String>,
    /// The codec profile.
    profile: Option<String>,
    /// Video: pixel format.
    pix_fmt: Option<String>,
    /// Video: codec level.
    level: Option<i64>,
    /// Video: width.
    width: Option<u32>,
    /// Video: height.
    height: Option<u32>,
    /// Video: pixel aspect ratio, `n:d`.
    sample_aspect_ratio: Option<String>,
    /// Flags such as `attached_pic` (a cover image, not a video).
    #[serde(default)]
    disposition: HashMap<String, i64>,
    /// Side data, where the display matrix's rotation is.
    #[serde(default)]
    side_data_list: Vec<SideDataJson>,
    /// Tags, where older files keep `rotate`.
    #[serde(default)]
    tags: HashMap<String, String>,
}

/// One side data entry.
#[derive(Deserialize)]
struct SideDataJson {
    /// The display matrix's rotation in degrees.
    rotation: Option<f64>,
}

/// The container as ffprobe prints it.
#[derive(Deserialize)]
struct FormatJson {
    /// Seconds, as a decimal string.
    duration: Option<String>,
}

impl Probe {
    /// Reads ffprobe's JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let json: ProbeJson = serde_json::from_slice(bytes)?;
        let duration_ms = json
            .format
            .and_then(|f| f.duration)
            .and_then(|d| d.parse::<f64>().ok())
            .filter(|d| d.is_finite() && *d > 0.0)
            .map(|d| (d * 1000.0).round() as i64);
        let video = json
            .streams
            .iter()
            .filter(|s| s.codec_type.as_deref() == Some("video"))
            .filter(|s| s.disposition.get("attached_pic").copied().unwrap_or(0) == 0)
            .find_map(VideoStream::from_json);
        let audio = json
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("audio"))
            .map(|s| AudioStream {
                codec: s.codec_name.clone().unwrap_or_default(),
                profile: s.profile.clone(),
            });
        Ok(Self {
            duration_ms,
            video,
            audio,
        })
    }
}

impl VideoStream {
    fn from_json(s: &StreamJson) -> Option<Self> {
        let (width, height) = (s.width?, s.height?);
        if width == 0 || height == 0 {
            return None;
        }
        // The display matrix gives the counter-clockwise rotation to apply; only its
        // being a quarter turn or not matters here.
        let rotation = s
            .side_data_list
            .iter()
            .find_map(|d| d.rotation)
            .map(|r| r.round() as i32)
            .or_else(|| s.tags.get("rotate").and_then(|r| r.parse().ok()))
            .unwrap_or(0);
        let sample_aspect = s
            .sample_aspect_ratio
            .as_deref()
            .and_then(|r| r.split_once(':'))
            .and_then(|(n, d)| Some((n.parse::<u32>().ok()?, d.parse::<u32>().ok()?)))
            .filter(|&(n, d)| n > 0 && d > 0 && n != d);
        Some(Self {
            codec: s.codec_name.clone().unwrap_or_default(),
            profile: s.profile.clone(),
            pix_fmt: s.pix_fmt.clone(),
            level: s.level,
            width,
            height,
            rotation,
            sample_aspect,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_streams_duration_and_rotation() {
        let json = br#"{
            "streams": [
                {"codec_type": "video", "codec_name": "mjpeg", "width": 300, "height": 300,
                 "disposition": {"attached_pic": 1}},
                {"codec_type": "video", "codec_name": "h264", "profile": "High",
                 "pix_fmt": "yuv420p", "level": 40, "width": 1920, "height": 1080,
                 "sample_aspect_ratio": "1:1",
                 "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}]},
                {"codec_type": "audio", "codec_name": "aac", "profile": "LC"}
            ],
            "format": {"duration": "12.345000"}
        }"#;
        let probe = Probe::from_json(json).unwrap();
        assert_eq!(probe.duration_ms, Some(12_345));
        let video = probe.video.unwrap();
        assert_eq!(video.codec, "h264");
        assert_eq!(video.rotation, -90);
        assert_eq!(video.display_size(), (1080, 1920));
        assert!(!video.plays_everywhere(), "rotated video is re-encoded");
        assert!(probe.audio.unwrap().plays_everywhere());
    }

    #[test]
    fn anamorphic_pixels_widen_the_picture() {
        let video = VideoStream {
            codec: "h264".into(),
            profile: Some("Main".into()),
            pix_fmt: Some("yuv420p".into()),
            level: Some(30),
            width: 720,
            height: 576,
            rotation: 0,
            sample_aspect: Some((64, 45)),
        };
        assert_eq!(video.display_size(), (1024, 576));
        assert!(!video.plays_everywhere());
    }

    #[test]
    fn audio_only_files_have_no_video() {
        let json = br#"{"streams": [{"codec_type": "audio", "codec_name": "opus"}],
                        "format": {"duration": "N/A"}}"#;
        let probe = Probe::from_json(json).unwrap();
        assert!(probe.video.is_none());
        assert_eq!(probe.duration_ms, None);
        assert!(!probe.audio.unwrap().plays_everywhere());
    }
}
