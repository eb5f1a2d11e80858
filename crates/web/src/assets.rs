//! The static files (CSS, page scripts, icons, vendored hls.js and tus-js-client),
//! compiled into the binary so that one file is all there is to deploy.
//!
//! They are served under `/static/{version}/{path}`, where `version` is a hash of all
//! of them: pages always link the current version, which browsers may keep forever
//! (`immutable`); a request for another version (a page rendered before an upgrade)
//! still gets the current file, but revalidated (`no-cache`), never a broken page.
//! One version for the whole set, rather than one per file, keeps the relative
//! `import`s between modules working. Text files are gzipped once, on first request.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use sha2::{Digest, Sha256};

/// Every embedded file, by its path under `static/` (a test checks that the folder
/// holds no file missing here).
macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!("../static/", $path)))),*]
    };
}

/// The files themselves.
static FILES: &[(&str, &[u8])] = embedded![
    "css/app.css",
    "img/favicon.svg",
    "js/api.js",
    "js/boot.js",
    "js/layout.js",
    "js/pages/auth.js",
    "js/pages/home.js",
    "js/pages/user.js",
    "js/pages/watch.js",
    "js/player.js",
    "js/tus.js",
    "js/ui.js",
    "js/videos.js",
    "vendor/hls.js/LICENSE",
    "vendor/hls.js/README.md",
    "vendor/hls.js/hls.min.mjs",
    "vendor/tus-js-client/LICENSE",
    "vendor/tus-js-client/README.md",
    "vendor/tus-js-client/tus.min.js",
];

/// How long browsers may keep a file of the current version: a year, the usual
/// maximum, since its URL changes whenever any file does.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Files smaller than this are not worth compressing.
const MIN_GZIP_LEN: usize = 1024;

/// One embedded file.
struct Asset {
    /// The bytes as written.
    bytes: &'static [u8],
    /// Its media type.
    content_type: &'static str,
    /// Its strong entity tag (a hash of the bytes), quoted.
    etag: String,
    /// The gzipped bytes, made on first request; `None` when not worth it.
    gzipped: OnceLock<Option<Bytes>>,
}

/// The embedded files, indexed by path.
pub struct Assets {
    /// Files by path under `static/`.
    files: HashMap<&'static str, Asset>,
    /// The hash of all of them, in their URLs.
    version: String,
    /// `/static/{version}`.
    base: String,
}

impl Assets {
    /// Indexes and hashes the embedded files.
    pub fn embedded() -> Self {
        let mut all = Sha256::new();
        let mut files = HashMap::with_capacity(FILES.len());
        for (path, bytes) in FILES {
            let digest = Sha256::digest(bytes);
            all.update(path.as_bytes());
            all.update(digest);
            files.insert(
                *path,
                Asset {
                    bytes,
                    content_type: content_type(path),
                    etag: format!("\"{}\"", &hex::encode(digest)[..20]),
                    gzipped: OnceLock::new(),
                },
            );
        }
        let version = hex::encode(all.finalize())[..12].to_owned();
        let base = format!("/static/{version}");
        Self {
            files,
            version,
            base,
        }
    }

    /// The URL prefix of this build's files, `/static/{version}`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The answer to `GET /static/{version}/{path}`.
    pub fn respond(&self, version: &str, path: &str, request: &HeaderMap) -> Option<Response> {
        let asset = self.files.get(path)?;
        let cache_control = if version == self.version {
            IMMUTABLE
        } else {
            "no-cache"
        };
        let gzipped = accepts_gzip(request).then(|| asset.gzipped()).flatten();
        let etag = match gzipped {
            // A compressed body is another representation: it needs its own tag.
            Some(_) => format!("{}-gz\"", asset.etag.trim_end_matches('"')),
            None => asset.etag.clone(),
        };
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        if reel_core::conditional::none_match(request, &etag) {
            return Some((StatusCode::NOT_MODIFIED, headers).into_response());
        }
        let body = match gzipped {
            Some(bytes) => {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                Body::from(bytes)
            }
            None => Body::from(Bytes::from_static(asset.bytes)),
        };
        Some((headers, body).into_response())
    }

    /// Whether a path is embedded (for tests and templates).
    #[cfg(test)]
    fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }
}

impl Asset {
    /// The gzipped bytes, compressed the first time they are asked for.
    fn gzipped(&self) -> Option<Bytes> {
        self.gzipped
            .get_or_init(|| {
                if self.bytes.len() < MIN_GZIP_LEN || !compressible(self.content_type) {
                    return None;
                }
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
                encoder.write_all(self.bytes).ok()?;
                let gz = encoder.finish().ok()?;
                (gz.len() < self.bytes.len()).then(|| Bytes::from(gz))
            })
            .clone()
    }
}

/// The media type of a file, from its extension.
fn content_type(path: &str) -> &'static str {
    reel_core::media_type::by_extension(path).unwrap_or("text/plain; charset=utf-8")
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("image/svg")
        || content_type == "application/json"
}

/// Whether the client takes gzip (listed with a non-zero weight, or `*`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_static_folder_is_embedded() {
        let assets = Assets::embedded();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("static");
        let mut stack = vec![root.clone()];
        let mut seen = 0;
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let rel = path.strip_prefix(&root).unwrap().to_str().unwrap();
                let rel = rel.replace('\\', "/");
                assert!(assets.contains(&rel), "static/{rel} is not in FILES");
                seen += 1;
            }
        }
        assert_eq!(seen, FILES.len());
    }

    #[test]
    fn gzip_is_taken_unless_refused() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(with("*"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br, identity"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_base_names_the_version() {
        let a = Assets::embedded();
        assert_eq!(a.version.len(), 12);
        assert_eq!(a.base(), format!("/static/{}", a.version));
    }
}
