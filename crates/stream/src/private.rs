//! Private videos: their bytes are served only to URLs that carry a valid playback
//! grant (`?grant=…`, signed by the API for a reader who may watch the video), on any
//! stream node, as soon as the video's state marker says it is private (within the
//! marker cache's TTL). HLS playlists served with a grant have every URI they name
//! rewritten to carry it too, so a player needs nothing but the playlist's URL.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use bytes::Bytes;
use futures::TryStreamExt;
use reel_core::domain::Visibility;
use reel_core::ids::VideoId;
use reel_core::playback_grant::{PlaybackGrant, QUERY_PARAM};
use reel_core::storage::{OCTET_STREAM, OpenObject};

use crate::StreamState;
use crate::error::StreamError;

/// Responses served under a grant stay out of shared caches, and browsers check them
/// again (cheaply, by `ETag`) before each use.
pub const CACHE_CONTROL: &str = "private, no-cache";
/// Playlists longer than this are not rewritten (ffmpeg's are a few kilobytes).
const MAX_PLAYLIST_BYTES: u64 = 4 * 1024 * 1024;

/// How a request may read a video's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    /// A public or unlisted video: anyone, and shared caches may keep the bytes.
    Open,
    /// A private video, under this valid grant.
    Granted(String),
}

/// How `uri` may read the bytes of `video`: refused when the video is deleted, or
/// private and `uri` carries no valid grant for it.
pub async fn access(state: &StreamState, video: VideoId, uri: &Uri) -> Result<Access, StreamError> {
    let marker = state.live_state(video).await?;
    if marker.is_none_or(|m| m.visibility != Visibility::Private) {
        return Ok(Access::Open);
    }
    let grant = Query::<HashMap<String, String>>::try_from_uri(uri)
        .ok()
        .and_then(|Query(mut q)| q.remove(QUERY_PARAM))
        .ok_or(StreamError::PrivateVideo)?;
    PlaybackGrant::verify(&grant, state.signing_key(), video, state.now_ms())
        .map_err(StreamError::Token)?;
    Ok(Access::Granted(grant))
}

/// Whether an HLS path names a playlist.
pub fn is_playlist(path: &str) -> bool {
    path.ends_with(".m3u8")
}

/// A playlist of a private video, its URIs rewritten to carry `grant`. Served whole
/// (a player reads playlists whole), never from a shared cache.
pub async fn playlist(
    method: &Method,
    object: OpenObject,
    grant: &str,
) -> Result<Response, StreamError> {
    if object.info.size > MAX_PLAYLIST_BYTES {
        return Err(StreamError::NotFound);
    }
    let content_type = HeaderValue::from_str(&object.content_type)
        .unwrap_or(HeaderValue::from_static(OCTET_STREAM));
    let size = object.info.size;
    let bytes: Vec<Bytes> = object
        .read_range(0..size)
        .await?
        .try_collect()
        .await
        .map_err(|e| StreamError::Storage(e.into()))?;
    let text = String::from_utf8_lossy(&bytes.concat()).into_owned();
    let body = rewrite(&text, &format!("{QUERY_PARAM}={grant}"));
    let mut response = Response::new(Body::empty());
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if method != Method::HEAD {
        *response.body_mut() = Body::from(body);
    }
    *response.status_mut() = StatusCode::OK;
    Ok(response)
}

/// `uri` with `param` (`name=value`) added to its query.
fn with_param(uri: &str, param: &str) -> String {
    let (path, fragment) = match uri.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (uri, None),
    };
    let join = if path.contains('?') { '&' } else { '?' };
    let mut out = format!("{path}{join}{param}");
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// Adds `param` to every URI of an M3U8 playlist (RFC 8216, section 4.1): each line
/// that is not blank and not a tag or comment, and each `URI="…"` attribute of a tag
/// (keys, maps, alternative renditions). Everything else is kept byte for byte, which
/// is why this edits lines rather than parsing and writing the playlist again.
pub fn rewrite(playlist: &str, param: &str) -> String {
    let mut out = String::with_capacity(playlist.len() + 64);
    for line in playlist.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let ending = &line[content.len()..];
        if content.trim().is_empty() {
            out.push_str(line);
        } else if content.starts_with('#') {
            out.push_str(&rewrite_attributes(content, param));
            out.push_str(ending);
        } else {
            out.push_str(&with_param(content, param));
            out.push_str(ending);
        }
    }
    out
}

fn rewrite_attributes(tag: &str, param: &str) -> String {
    const ATTRIBUTE: &str = "URI=\"";
    let mut out = String::with_capacity(tag.len());
    let mut rest = tag;
    while let Some(at) = rest.find(ATTRIBUTE) {
        let start = at + ATTRIBUTE.len();
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('"') else {
            rest = &rest[start..];
            break;
        };
        out.push_str(&with_param(&rest[start..start + len], param));
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_uri_of_a_playlist_carries_the_grant() {
        let master = "#EXTM3U\r\n#EXT-X-VERSION:3\r\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"audio/index.m3u8\"\r\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\r\n\
            360p/index.m3u8\r\n\r\n";
        assert_eq!(
            rewrite(master, "grant=G"),
            "#EXTM3U\r\n#EXT-X-VERSION:3\r\n\
            #EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",URI=\"audio/index.m3u8?grant=G\"\r\n\
            #EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360\r\n\
            360p/index.m3u8?grant=G\r\n\r\n"
        );
        let media = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg_000.ts\n\
            #EXTINF:4.0,\nseg_001.ts?v=2#t\n#EXT-X-ENDLIST";
        assert_eq!(
            rewrite(media, "grant=G"),
            "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4?grant=G\"\n#EXTINF:4.0,\nseg_000.ts?grant=G\n\
            #EXTINF:4.0,\nseg_001.ts?v=2&grant=G#t\n#EXT-X-ENDLIST"
        );
        assert_eq!(rewrite("#EXT-X-KEY:URI=\"k", "g=1"), "#EXT-X-KEY:URI=\"k");
    }
}
