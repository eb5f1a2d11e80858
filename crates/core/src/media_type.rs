//! Media types by file extension: the one table behind stored renditions, the stream
//! server's answers and the web pages' assets. Each caller picks its own fallback for a
//! name the table does not know.

/// The media type of a file or key named `name`, from its extension (any case).
pub fn by_extension(name: &str) -> Option<&'static str> {
    let file = name.rsplit('/').next().unwrap_or(name);
    let (_, ext) = file.rsplit_once('.')?;
    let known = match ext.to_ascii_lowercase().as_str() {
        "m3u8" => "application/vnd.apple.mpegurl",
        "ts" => "video/mp2t",
        "m4s" => "video/iso.segment",
        "mp4" | "m4v" => "video/mp4",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "vtt" => "text/vtt",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "json" => "application/json",
        _ => return None,
    };
    Some(known)
}

#[cfg(test)]
mod tests {
    use super::by_extension;

    #[test]
    fn types_follow_the_last_extension_of_the_file_name() {
        assert_eq!(
            by_extension("videos/x/hls/720p/index.m3u8"),
            Some("application/vnd.apple.mpegurl")
        );
        assert_eq!(by_extension("seg-1.TS"), Some("video/mp2t"));
        assert_eq!(by_extension("poster.jpg"), Some("image/jpeg"));
        assert_eq!(
            by_extension("app.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(by_extension("videos/x/original"), None);
        assert_eq!(
            by_extension("a.b/original"),
            None,
            "a dot in a folder is no extension"
        );
        assert_eq!(by_extension("notes.txt"), None);
    }
}
