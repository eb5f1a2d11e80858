//! The structure checks of each container, over the first bytes of a file. Each answers
//! `None` unless the bytes it can see are laid out as that container lays them out;
//! structures that run past the end of `head` are taken on trust from their start.

use super::Container;

/// The largest `ftyp` box taken for real: room for 250 compatible brands.
const MAX_FTYP: u64 = 1024;
/// The largest EBML header taken for real (ffmpeg writes about 30 bytes).
const MAX_EBML_HEADER: u64 = 256;
/// MPEG-TS packets that must all carry their sync byte.
const MIN_TS_PACKETS: usize = 5;
/// Top-level atoms that QuickTime files written before `ftyp` existed open with.
const LEGACY_QUICKTIME: [&[u8; 4]; 6] = [b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"];

fn bytes_at<const N: usize>(head: &[u8], at: usize) -> Option<[u8; N]> {
    head.get(at..at.checked_add(N)?)?.try_into().ok()
}

fn u32_be(head: &[u8], at: usize) -> Option<u32> {
    bytes_at(head, at).map(u32::from_be_bytes)
}

fn is_fourcc(code: &[u8]) -> bool {
    code.len() == 4 && code.iter().all(|b| b.is_ascii_alphanumeric() || *b == b' ')
}

/// An ISO-BMFF box header at `at`: its size (to the end of the file for 0) and type.
fn box_header(head: &[u8], at: usize) -> Option<(u64, [u8; 4])> {
    let size = u64::from(u32_be(head, at)?);
    let kind = bytes_at::<4>(head, at + 4)?;
    let size = match size {
        0 => u64::MAX,
        1 => u64::from_be_bytes(bytes_at(head, at + 8)?).max(1),
        n => n,
    };
    (size >= 8).then_some((size, kind))
}

/// Whether a box that starts at `at` looks like one, when `head` reaches that far.
fn next_box_plausible(head: &[u8], at: u64) -> bool {
    let Ok(at) = usize::try_from(at) else {
        return true;
    };
    if at + 8 > head.len() {
        return true;
    }
    box_header(head, at).is_some_and(|(_, kind)| kind.iter().all(u8::is_ascii_graphic))
}

pub(super) fn iso_bmff(head: &[u8]) -> Option<Container> {
    let (size, kind) = box_header(head, 0)?;
    if &kind == b"ftyp" {
        // major brand, minor version, then whole compatible brands.
        if !(16..=MAX_FTYP).contains(&size) || size % 4 != 0 {
            return None;
        }
        let major = bytes_at::<4>(head, 8)?;
        let end = usize::try_from(size).ok()?.min(head.len() / 4 * 4);
        let compatible = head.get(16..end.max(16))?;
        let brands_ok = is_fourcc(&major)
            && compatible
                .chunks_exact(4)
                .all(|b| is_fourcc(b) || b == [0; 4]);
        if !brands_ok || !next_box_plausible(head, size) {
            return None;
        }
        return Some(if &major == b"qt  " {
            Container::QuickTime
        } else {
            Container::Mp4
        });
    }
    // A first atom's size that reads as four characters of text is what a text file
    // starting with `moov` or `mdat` after four letters has; real files of this old
    // kind start with small atoms, or with an `mdat` whose size is not such a number.
    let size_is_text = head[..4].iter().all(|b| (0x20..=0x7E).contains(b));
    (LEGACY_QUICKTIME.contains(&&kind) && !size_is_text && next_box_plausible(head, size))
        .then_some(Container::QuickTime)
}

/// An EBML element id at `at` (1 to 4 bytes, marker bit kept) and its length.
fn ebml_id(head: &[u8], at: usize) -> Option<(u32, usize)> {
    let first = *head.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 4 {
        return None;
    }
    let bytes = head.get(at..at + len)?;
    Some((bytes.iter().fold(0u32, |v, b| v << 8 | u32::from(*b)), len))
}

/// An EBML size at `at` (1 to 8 bytes, marker bit removed; `None` for "unknown").
fn ebml_size(head: &[u8], at: usize) -> Option<(Option<u64>, usize)> {
    let first = *head.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let bytes = head.get(at..at + len)?;
    let marker = if len == 8 { 0 } else { 0xFFu8 >> len };
    let value = bytes[1..]
        .iter()
        .fold(u64::from(first & marker), |v, b| v << 8 | u64::from(*b));
    let all_ones = (1u64 << (7 * len)) - 1;
    Some(((value != all_ones).then_some(value), len))
}

const EBML_HEADER: u32 = 0x1A45_DFA3;
const EBML_DOCTYPE: u32 = 0x4282;
const MATROSKA_SEGMENT: u32 = 0x1853_8067;

pub(super) fn ebml(head: &[u8]) -> Option<Container> {
    let (id, id_len) = ebml_id(head, 0)?;
    if id != EBML_HEADER {
        return None;
    }
    let (size, size_len) = ebml_size(head, id_len)?;
    let size = size.filter(|&s| s <= MAX_EBML_HEADER)?;
    let start = id_len + size_len;
    let end = start + usize::try_from(size).ok()?;
    if end > head.len() {
        return None;
    }
    let mut at = start;
    let mut doctype = None;
    while at < end {
        let (child, child_len) = ebml_id(head, at)?;
        let (child_size, child_size_len) = ebml_size(head, at + child_len)?;
        let body = at + child_len + child_size_len;
        let next = body + usize::try_from(child_size?).ok()?;
        if next > end {
            return None;
        }
        if child == EBML_DOCTYPE {
            doctype = Some(&head[body..next]);
        }
        at = next;
    }
    let container = match doctype?.split(|b| *b == 0).next()? {
        b"webm" => Container::WebM,
        b"matroska" => Container::Matroska,
        _ => return None,
    };
    match ebml_id(head, end) {
        Some((MATROSKA_SEGMENT, _)) => Some(container),
        Some(_) => None,
        None => (head.len() < end + 4).then_some(container),
    }
}

pub(super) fn avi(head: &[u8]) -> Option<Container> {
    let at = |i: usize, magic: &[u8; 4]| bytes_at::<4>(head, i).as_ref() == Some(magic);
    (at(0, b"RIFF") && at(8, b"AVI ") && at(12, b"LIST") && at(20, b"hdrl") && at(24, b"avih"))
        .then_some(Container::Avi)
}

/// FLV: signature and version 1, no reserved flag set, a header length of at least 9,
/// a zero first back-pointer, and a first tag of audio, video or script data.
pub(super) fn flv(head: &[u8]) -> Option<Container> {
    if bytes_at::<4>(head, 0)? != *b"FLV\x01" || head.get(4)? & 0xFA != 0 {
        return None;
    }
    let data_offset = usize::try_from(u32_be(head, 5)?).ok()?;
    if !(9..=256).contains(&data_offset) {
        return None;
    }
    match (u32_be(head, data_offset), head.get(data_offset + 4)) {
        (Some(0), Some(tag)) => {
            (tag & 0xC0 == 0 && matches!(tag & 0x1F, 8 | 9 | 18)).then_some(Container::Flv)
        }
        (Some(0), None) | (None, _) => (head.len() < data_offset + 5).then_some(Container::Flv),
        (Some(_), _) => None,
    }
}

/// Ogg: a first page (version 0, beginning of stream, not a continuation) whose
/// segment table adds up to where the next page starts, when `head` reaches it.
pub(super) fn ogg(head: &[u8]) -> Option<Container> {
    if bytes_at::<4>(head, 0)? != *b"OggS" || *head.get(4)? != 0 {
        return None;
    }
    let flags = *head.get(5)?;
    if flags & 0x02 == 0 || flags & 0xF9 != 0 {
        return None;
    }
    let segments = usize::from(*head.get(26)?);
    let table = head.get(27..27 + segments)?;
    let body: usize = table.iter().map(|b| usize::from(*b)).sum();
    if body == 0 {
        return None;
    }
    let next = 27 + segments + body;
    match bytes_at::<4>(head, next) {
        Some(magic) => (magic == *b"OggS").then_some(Container::Ogg),
        None => Some(Container::Ogg),
    }
}

/// MPEG-TS: a sync byte at the start of every packet over at least [`MIN_TS_PACKETS`]
/// packets, each with a payload or adaptation field (the reserved value 0 is refused),
/// in 188-byte packets or 192-byte M2TS ones (a 4-byte timestamp first).
pub(super) fn mpeg_ts(head: &[u8]) -> Option<Container> {
    [(188usize, 0usize), (192, 4)]
        .into_iter()
        .any(|(stride, first)| {
            let starts: Vec<usize> = (first..head.len()).step_by(stride).collect();
            starts.len() >= MIN_TS_PACKETS
                && starts.iter().all(|&p| {
                    head[p] == 0x47 && head.get(p + 3).is_none_or(|b| (b >> 4) & 0x3 != 0)
                })
        })
        .then_some(Container::MpegTs)
}
