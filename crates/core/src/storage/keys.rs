//! The object key layout: everything of a video lives under `videos/{vid}/`.
//!
//! ```text
//! videos/{vid}/original            the uploaded bytes, as sent
//! videos/{vid}/playable.mp4        the scheduler's browser-safe rendition (served first)
//! videos/{vid}/poster.jpg          the scheduler's thumbnail
//! videos/{vid}/hls/...             the scheduler's HLS renditions
//! videos/{vid}/...                 anything else the services keep for the video
//!                                  (resumable uploads being staged), deleted with it
//! outbox/process/{vid}             a "process this upload" notice not yet accepted
//! ```

use crate::ids::VideoId;

/// The prefix under which the outbox keeps undelivered "process this upload" notices.
pub const OUTBOX_PROCESS_PREFIX: &str = "outbox/process/";

/// Every object of one video, for listing and deletion by prefix.
pub fn video_prefix(video: VideoId) -> String {
    format!("videos/{video}/")
}

/// The bytes exactly as uploaded.
pub fn original(video: VideoId) -> String {
    format!("videos/{video}/original")
}

/// The browser-safe MP4 the scheduler makes; served instead of the original once present.
pub fn playable(video: VideoId) -> String {
    format!("videos/{video}/playable.mp4")
}

/// The thumbnail the scheduler makes.
pub fn poster(video: VideoId) -> String {
    format!("videos/{video}/poster.jpg")
}

/// The prefix of the scheduler's HLS renditions.
pub fn hls_prefix(video: VideoId) -> String {
    format!("videos/{video}/hls/")
}

/// One file of the HLS renditions, or `None` when `path` is not a plain relative path.
pub fn hls(video: VideoId, path: &str) -> Option<String> {
    let key = format!("videos/{video}/hls/{path}");
    is_valid(&key).then_some(key)
}

/// The outbox entry saying that `video` still has to be announced to the scheduler.
pub fn outbox_process(video: VideoId) -> String {
    format!("{OUTBOX_PROCESS_PREFIX}{video}")
}

/// A key is a `/`-separated list of non-empty segments of `[A-Za-z0-9._-]` that do not
/// start with a dot, so no key can escape the storage root or collide with its own
/// hidden working files.
pub fn is_valid(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 1024
        && key.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// A listing prefix is empty or a valid key followed by `/`.
pub fn is_valid_prefix(prefix: &str) -> bool {
    prefix.is_empty() || prefix.strip_suffix('/').is_some_and(is_valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_refuse_traversal_and_hidden_segments() {
        let v = VideoId::random();
        assert!(is_valid(&original(v)));
        assert!(hls(v, "720p/seg-001.ts").is_some());
        for bad in [
            "../x", "a/../b", ".tmp/x", "a//b", "/abs", "a/", "a\\b", "a b", "",
        ] {
            assert!(!is_valid(bad), "{bad:?} should be refused");
        }
        assert!(hls(v, "../../etc/passwd").is_none());
        assert!(hls(v, "").is_none());
        assert!(is_valid_prefix(&video_prefix(v)));
        assert!(!is_valid_prefix("videos"));
    }
}
