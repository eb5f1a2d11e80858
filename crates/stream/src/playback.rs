//! Playback: `GET`/`HEAD /videos/{vid}` (the scheduler's `playable.mp4` when it exists,
//! else the original), its poster and HLS renditions, with ranges, validators and
//! conditional requests as RFC 9110 describes them. Each is served with the type stored
//! with it (an original's was sniffed once, at upload). A deleted video serves nothing
//! (410) once its tombstone is seen, within the state marker cache's TTL; a private one
//! serves only URLs with a playback grant ([`crate::private`]).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use reel_core::conditional::{self, Precondition};
use reel_core::error_body::ErrorBody;
use reel_core::ids::VideoId;
use reel_core::storage::{OCTET_STREAM, OpenObject, keys};

use crate::StreamState;
use crate::error::StreamError;
use crate::private::{self, Access};
use crate::range::{self, RangeRequest};

/// Shared caches may keep the bytes for an hour: long enough to offload playback to a
/// CDN, short enough that the switch to `playable.mp4` after processing, or a
/// deletion, shows within the hour (revalidation by `ETag` is cheap meanwhile).
const CACHE_CONTROL: &str = "public, max-age=3600";
/// `GET`/`HEAD /videos/{vid}`.
pub async fn video(
    State(state): State<StreamState>,
    Path(vid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, StreamError> {
    let video = VideoId::parse(&vid).map_err(|_| StreamError::BadId)?;
    let (object, access) = open_first(
        &state,
        video,
        &uri,
        &[keys::playable(video), keys::original(video)],
    )
    .await?;
    respond(&method, &headers, object, &access).await
}

/// `GET`/`HEAD /videos/{vid}/poster.jpg`.
pub async fn poster(
    State(state): State<StreamState>,
    Path(vid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, StreamError> {
    let video = VideoId::parse(&vid).map_err(|_| StreamError::BadId)?;
    let (object, access) = open_first(&state, video, &uri, &[keys::poster(video)]).await?;
    respond(&method, &headers, object, &access).await
}

/// `GET`/`HEAD /videos/{vid}/hls/{*path}`.
pub async fn hls(
    State(state): State<StreamState>,
    Path((vid, path)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, StreamError> {
    let video = VideoId::parse(&vid).map_err(|_| StreamError::BadId)?;
    let key = keys::hls(video, &path).ok_or(StreamError::NotFound)?;
    let (object, access) = open_first(&state, video, &uri, &[key]).await?;
    match &access {
        Access::Granted(grant) if private::is_playlist(&path) => {
            private::playlist(&method, object, grant).await
        }
        _ => respond(&method, &headers, object, &access).await,
    }
}

/// The first of `keys` of `video` that is stored, opened, and how `uri` may read it;
/// not found when none is, gone when the video is deleted, refused when it is private
/// and `uri` has no grant.
async fn open_first(
    state: &StreamState,
    video: VideoId,
    uri: &Uri,
    keys: &[String],
) -> Result<(OpenObject, Access), StreamError> {
    let access = private::access(state, video, uri).await?;
    let object = state
        .storage()
        .open_first(keys)
        .await?
        .ok_or(StreamError::NotFound)?;
    Ok((object, access))
}

async fn respond(
    method: &Method,
    headers: &HeaderMap,
    object: OpenObject,
    access: &Access,
) -> Result<Response, StreamError> {
    let cache_control = match access {
        Access::Open => CACHE_CONTROL,
        Access::Granted(_) => private::CACHE_CONTROL,
    };
    let info = &object.info;
    let mut response = Response::new(Body::empty());
    let out = response.headers_mut();
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(etag) = HeaderValue::from_str(&info.etag) {
        out.insert(header::ETAG, etag);
    }
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(info.last_modified)) {
        out.insert(header::LAST_MODIFIED, date);
    }
    let honour_range = match conditional::evaluate(headers, &info.etag, info.last_modified) {
        Precondition::Failed => return Err(StreamError::PreconditionFailed),
        Precondition::NotModified => {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(response);
        }
        Precondition::Proceed { honour_range } => honour_range,
    };
    let requested = if honour_range {
        let value = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
        range::resolve(value, info.size)
    } else {
        RangeRequest::Full
    };
    let span = match requested {
        RangeRequest::Unsatisfiable => {
            let mut refused = ErrorBody::new(
                "range_not_satisfiable",
                format!("the video has {} bytes", info.size),
            )
            .into_response_with(StatusCode::RANGE_NOT_SATISFIABLE);
            let out = refused.headers_mut();
            for (name, value) in response.headers() {
                out.insert(name.clone(), value.clone());
            }
            out.insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes */{}", info.size)),
            );
            return Ok(refused);
        }
        RangeRequest::Full => 0..info.size,
        RangeRequest::Single(span) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let last = span.end - 1;
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(format!("bytes {}-{last}/{}", span.start, info.size)),
            );
            span
        }
    };
    let out = response.headers_mut();
    let content_type = HeaderValue::from_str(&object.content_type)
        .unwrap_or(HeaderValue::from_static(OCTET_STREAM));
    out.insert(header::CONTENT_TYPE, content_type);
    out.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(span.end - span.start),
    );
    if method != Method::HEAD {
        let stream = object.read_range(span).await?;
        *response.body_mut() = Body::from_stream(stream);
    }
    Ok(response.into_response())
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).expect("digits, spaces and punctuation form a header value")
}
