//! Recognises video containers from their first bytes, so that an upload that is not a
//! video is refused before it is stored, and is stored with its real type.

/// How many leading bytes a decision needs: enough for two MPEG-TS packets and the
/// Matroska doctype.
pub const SNIFF_LEN: usize = 512;

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
}

/// The container that `head` (the first bytes of a file, ideally `SNIFF_LEN` of them)
/// starts, if any.
pub fn detect(head: &[u8]) -> Option<Container> {
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    if at(4, b"ftyp") {
        return Some(if at(8, b"qt  ") {
            Container::QuickTime
        } else {
            Container::Mp4
        });
    }
    // QuickTime files written before `ftyp` existed open with one of these atoms.
    if [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"]
        .iter()
        .any(|atom| at(4, *atom))
    {
        return Some(Container::QuickTime);
    }
    if at(0, &[0x1A, 0x45, 0xDF, 0xA3]) {
        let header = &head[..head.len().min(64)];
        let webm = header.windows(4).any(|w| w == b"webm");
        return Some(if webm {
            Container::WebM
        } else {
            Container::Matroska
        });
    }
    if at(0, b"RIFF") && at(8, b"AVI ") {
        return Some(Container::Avi);
    }
    if at(0, b"FLV\x01") {
        return Some(Container::Flv);
    }
    if at(0, b"OggS") {
        return Some(Container::Ogg);
    }
    let sync = |i: usize| head.get(i) == Some(&0x47);
    if (sync(0) && sync(188)) || (sync(4) && sync(196)) {
        return Some(Container::MpegTs);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(head: &[u8]) -> Vec<u8> {
        let mut v = head.to_vec();
        v.resize(SNIFF_LEN, 0);
        v
    }

    #[test]
    fn every_accepted_container_is_recognised() {
        let cases: Vec<(Vec<u8>, Container)> = vec![
            (padded(b"\0\0\0\x20ftypisom\0\0\x02\0"), Container::Mp4),
            (
                padded(b"\0\0\0\x14ftypqt  \0\0\x02\0"),
                Container::QuickTime,
            ),
            (padded(b"\0\0\0\x08wide\0\0\0\0mdat"), Container::QuickTime),
            (
                padded(b"\x1A\x45\xDF\xA3\x9F\x42\x86\x81\x01\x42\x82\x84webm"),
                Container::WebM,
            ),
            (
                padded(b"\x1A\x45\xDF\xA3\xA3\x42\x86\x81\x01\x42\x82\x88matroska"),
                Container::Matroska,
            ),
            (padded(b"RIFF\0\0\0\0AVI LIST"), Container::Avi),
            (padded(b"FLV\x01\x05"), Container::Flv),
            (padded(b"OggS\0\x02"), Container::Ogg),
        ];
        for (bytes, want) in cases {
            assert_eq!(detect(&bytes), Some(want), "{want:?}");
        }
        let mut ts = vec![0u8; 376];
        ts[0] = 0x47;
        ts[188] = 0x47;
        assert_eq!(detect(&ts), Some(Container::MpegTs));
    }

    #[test]
    fn other_files_are_refused() {
        for bytes in [
            &b"%PDF-1.7\n"[..],
            b"\x89PNG\r\n\x1a\n",
            b"<html><body>",
            b"RIFF\0\0\0\0WAVEfmt ",
            b"PK\x03\x04",
            b"",
            b"\x47 a lone sync byte",
        ] {
            assert_eq!(detect(&padded(bytes)), None, "{bytes:?}");
        }
    }
}
