//! Recognises the video containers reel accepts from an upload's first bytes, so that an
//! upload that is not a video is refused before it is stored, is stored with its real
//! type, and is later opened by ffmpeg with the demuxer of that container and no other.
//!
//! A magic number alone is not enough: a text file that happens to start with `G` or
//! `OggS` must not pass, because ffmpeg left to guess would open an SDP description or
//! an HLS playlist and follow the network addresses inside. So each container is checked
//! by its structure as far as the first [`SNIFF_LEN`] bytes show it: an ISO-BMFF `ftyp`
//! box of sane size and brands followed by a plausible box, an EBML header whose DocType
//! is `matroska` or `webm` followed by a Segment, `RIFF…AVI LIST hdrl avih`, MPEG-TS sync
//! bytes at every packet over several packets, the FLV header's fields and first tag, an
//! Ogg first page and the page after it. Parsing these few headers is small and has no
//! crate of its own worth taking (`infer` and friends check magic numbers only).

mod formats;

/// How many leading bytes a decision needs: six MPEG-TS packets, and the headers of
/// every other container with the box, element, tag or page that follows them.
pub const SNIFF_LEN: usize = 1024;

/// The containers reel accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// ISO base media (MP4, M4V, 3GP).
    Mp4,
    /// Apple QuickTime (MOV).
    QuickTime,
    /// WebM (a Matroska profile).
    WebM,
    /// Matroska (MKV).
    Matroska,
    /// RIFF AVI.
    Avi,
    /// MPEG transport stream (188-byte packets, or 192-byte M2TS).
    MpegTs,
    /// Flash video.
    Flv,
    /// Ogg (Theora, VP8 in Ogg).
    Ogg,
}

impl Container {
    /// The media type browsers and players expect for this container.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Mp4 => "video/mp4",
            Self::QuickTime => "video/quicktime",
            Self::WebM => "video/webm",
            Self::Matroska => "video/x-matroska",
            Self::Avi => "video/x-msvideo",
            Self::MpegTs => "video/mp2t",
            Self::Flv => "video/x-flv",
            Self::Ogg => "video/ogg",
        }
    }

    /// The ffmpeg demuxer (`-f`) that reads this container. Forcing it keeps ffmpeg from
    /// guessing the format from the content, a guess that can pick the HLS, SDP or
    /// concat demuxers, which open other files and network addresses.
    pub fn ffmpeg_format(self) -> &'static str {
        match self {
            Self::Mp4 | Self::QuickTime => "mov",
            Self::WebM | Self::Matroska => "matroska",
            Self::Avi => "avi",
            Self::MpegTs => "mpegts",
            Self::Flv => "flv",
            Self::Ogg => "ogg",
        }
    }
}

/// The container that `head` (the first bytes of a file, ideally [`SNIFF_LEN`] of them)
/// starts, if any.
pub fn detect(head: &[u8]) -> Option<Container> {
    formats::iso_bmff(head)
        .or_else(|| formats::ebml(head))
        .or_else(|| formats::avi(head))
        .or_else(|| formats::flv(head))
        .or_else(|| formats::ogg(head))
        .or_else(|| formats::mpeg_ts(head))
}

/// Accepted containers built as their muxers lay them out, and lookalikes refused.
#[cfg(test)]
mod tests;
