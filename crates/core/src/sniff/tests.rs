use super::*;

/// `head` followed by filler up to [`SNIFF_LEN`], as the first bytes of a longer file.
fn padded(head: &[u8], fill: u8) -> Vec<u8> {
    let mut v = head.to_vec();
    v.resize(SNIFF_LEN.max(head.len()), fill);
    v
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `ftyp` with `major` and `compatible` brands, then `free` and the start of `mdat`.
fn iso(major: &[u8; 4], compatible: &[u8]) -> Vec<u8> {
    let size = (16 + compatible.len()) as u32;
    padded(
        &concat(&[
            &size.to_be_bytes(),
            b"ftyp",
            major,
            &[0, 0, 2, 0],
            compatible,
            b"\0\0\0\x08free\0\x10\0\0mdat",
        ]),
        0x5A,
    )
}

/// An EBML header with `doctype` (as ffmpeg writes it), then a Segment of unknown size.
fn ebml(doctype: &[u8]) -> Vec<u8> {
    let mut children = concat(&[
        b"\x42\x86\x81\x01\x42\xF7\x81\x01\x42\xF2\x81\x04\x42\xF3\x81\x08\x42\x82",
        &[0x80 | doctype.len() as u8],
        doctype,
        b"\x42\x87\x81\x04\x42\x85\x81\x02",
    ]);
    let mut v = concat(&[b"\x1A\x45\xDF\xA3", &[0x80 | children.len() as u8]]);
    v.append(&mut children);
    v.extend_from_slice(b"\x18\x53\x80\x67\x01\xFF\xFF\xFF\xFF\xFF\xFF\xFF");
    padded(&v, 0x11)
}

fn avi() -> Vec<u8> {
    padded(
        &concat(&[
            b"RIFF",
            &9000u32.to_le_bytes(),
            b"AVI LIST",
            &1000u32.to_le_bytes(),
            b"hdrlavih",
            &56u32.to_le_bytes(),
        ]),
        0,
    )
}

/// `packets` MPEG-TS packets (PAT, payload only), each after `prefix` timestamp bytes.
fn ts(prefix: usize, packets: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..packets {
        v.extend(std::iter::repeat_n(0u8, prefix));
        let mut packet = vec![0xFF; 188];
        packet[..4].copy_from_slice(&[0x47, 0x40, 0x00, 0x10]);
        v.extend(packet);
    }
    v
}

fn flv() -> Vec<u8> {
    padded(b"FLV\x01\x05\0\0\0\x09\0\0\0\0\x12\0\x01\x2A", 0)
}

/// An Ogg first page holding a 30-byte Theora header, then the second page.
fn ogg() -> Vec<u8> {
    let mut page = concat(&[b"OggS\0\x02", &[0; 20], &[1, 30], b"\x80theora"]);
    page.resize(27 + 1 + 30, 0);
    page.extend_from_slice(b"OggS\0\0");
    padded(&page, 0)
}

#[test]
fn every_accepted_container_is_recognised() {
    let cases = [
        (iso(b"isom", b"isomiso2avc1mp41"), Container::Mp4),
        (iso(b"qt  ", b"qt  "), Container::QuickTime),
        (
            padded(b"\0\0\0\x08wide\x01\0\0\0mdat", 0x33),
            Container::QuickTime,
        ),
        (ebml(b"webm"), Container::WebM),
        (ebml(b"matroska"), Container::Matroska),
        (avi(), Container::Avi),
        (ts(0, 6), Container::MpegTs),
        (ts(4, 6), Container::MpegTs),
        (flv(), Container::Flv),
        (ogg(), Container::Ogg),
    ];
    for (bytes, want) in cases {
        assert_eq!(detect(&bytes), Some(want), "{want:?}");
    }
}

#[test]
fn every_container_has_its_own_demuxer() {
    assert_eq!(Container::Mp4.ffmpeg_format(), "mov");
    assert_eq!(Container::WebM.ffmpeg_format(), "matroska");
    assert_eq!(Container::MpegTs.ffmpeg_format(), "mpegts");
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
        assert_eq!(detect(&padded(bytes, 0)), None, "{bytes:?}");
    }
}

#[test]
fn descriptions_that_ffmpeg_would_follow_onto_the_network_are_refused() {
    let sdp = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nc=IN IP4 127.0.0.1\r\n\
               t=0 0\r\nm=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    let hls = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n\
               http://127.0.0.1:9/segment.ts\n#EXT-X-ENDLIST\n";
    for text in [sdp, hls] {
        assert_eq!(detect(&padded(text.as_bytes(), b'\n')), None, "{text}");
    }
}

/// Text that the first bytes' magic alone took for a video.
#[test]
fn text_that_starts_with_a_lucky_magic_is_refused() {
    let mut sync_at_packets = padded(b"GET /a/playlist HTTP/1.1 ", b' ');
    sync_at_packets[188] = b'G';
    let lucky: Vec<Vec<u8>> = vec![
        sync_at_packets,
        padded(b"OggS is the capture pattern of an Ogg page.\n", b' '),
        padded(b"FLV\x01 then some words about Flash video\n", b' '),
        padded(b"RIFF\0\0\0\0AVI LIST of things to do\n", b' '),
        padded(b"\x1A\x45\xDF\xA3 is not a header here\n", b' '),
        padded(b"beefftyp is what the box would be called\n", b' '),
        padded(b"    moov along, nothing to see\n", b' '),
        padded(b"say mdat and hope\n", b' '),
    ];
    for text in &lucky {
        assert_eq!(
            detect(text),
            None,
            "{:?}",
            String::from_utf8_lossy(&text[..40])
        );
    }
}

#[test]
fn broken_structures_are_refused() {
    let mut ftyp_too_big = iso(b"isom", b"isom");
    ftyp_too_big[..4].copy_from_slice(&4096u32.to_be_bytes());
    let mut bad_brand = iso(b"isom", b"isom");
    bad_brand[8..12].copy_from_slice(b"\x01\x02\x03\x04");
    let mut unknown_doctype = ebml(b"webm");
    unknown_doctype[24..28].copy_from_slice(b"html");
    let mut no_segment = ebml(b"webm");
    no_segment[36..40].copy_from_slice(b"\x1F\x43\xB6\x75");
    let mut lost_sync = ts(0, 6);
    lost_sync[188 * 4] = 0x48;
    let mut ogg_continued = ogg();
    ogg_continued[5] = 0x01;
    let mut ogg_bad_next = ogg();
    ogg_bad_next[58] = b'X';
    let mut flv_bad_tag = flv();
    flv_bad_tag[13] = 0x07;
    for (name, bytes) in [
        ("ftyp larger than any real one", ftyp_too_big),
        ("brand of control bytes", bad_brand),
        ("EBML of another doctype", unknown_doctype),
        ("EBML without a Segment", no_segment),
        ("a packet without its sync byte", lost_sync),
        ("too few packets", ts(0, 3)),
        ("an Ogg page continuing nothing", ogg_continued),
        ("no Ogg page where the first ends", ogg_bad_next),
        ("an FLV tag of no known type", flv_bad_tag),
    ] {
        assert_eq!(detect(&bytes), None, "{name}");
    }
}
