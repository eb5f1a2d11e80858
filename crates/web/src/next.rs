//! The `next` parameter of `/login` and `/register`: where the page goes once the
//! visitor is in. Only a path of this site may be followed; anything else would make
//! the site a springboard to another (an open redirect). Browsers drop tabs and line
//! breaks from URLs and read `\` as `/`, so `/\t/evil.example`, `/\evil.example` and
//! `//evil.example` all lead off-site; so do their percent-encoded forms once a layer
//! decodes them. The page script applies the same rule (`static/js/pages/auth.js`); the
//! server sends a page asked for with an off-site `next` home instead.

use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};

/// Whether `next` is a path of this site, as given and once more decoded.
pub(crate) fn is_local_path(next: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(next).decode_utf8_lossy();
    plain_local_path(next) && plain_local_path(&decoded)
}

/// One `/`, then no `/` or `\` right after it, and no backslash or control character
/// (tabs and line breaks included) anywhere.
fn plain_local_path(path: &str) -> bool {
    let mut bytes = path.bytes();
    bytes.next() == Some(b'/')
        && !matches!(bytes.next(), Some(b'/' | b'\\'))
        && !path.chars().any(|c| c == '\\' || c.is_control())
}

/// For a page asked for with an off-site `next`: the same page with `next` leading
/// home. `None` when every `next` is local, or there is none.
pub(crate) fn send_home_instead(uri: &Uri) -> Option<Response> {
    let query = uri.query()?;
    let off_site = form_urlencoded::parse(query.as_bytes())
        .any(|(key, value)| key == "next" && !is_local_path(&value));
    off_site.then(|| Redirect::to(&format!("{}?next=/", uri.path())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_this_site_are_followed() {
        for local in [
            "/",
            "/u/alice",
            "/watch/a/b?t=1#c",
            "/search?q=a%20b",
            "/%E2%9C%93",
        ] {
            assert!(is_local_path(local), "{local:?} is local");
        }
        for away in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "\t//evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "evil.example",
            "",
            "/%09/evil.example",
            "/%2Fevil.example",
            "%2F%2Fevil.example",
            "/%5Cevil.example",
            "/a\\b",
            "/\u{85}/evil.example",
        ] {
            assert!(!is_local_path(away), "{away:?} leaves the site");
        }
    }

    #[test]
    fn an_off_site_next_is_sent_home() {
        let uri: Uri = "/login?next=%2F%09%2Fevil.example".parse().unwrap();
        let res = send_home_instead(&uri).expect("redirected");
        assert_eq!(res.headers()["location"], "/login?next=/");
        let uri: Uri = "/register?next=%2Fu%2Falice".parse().unwrap();
        assert!(send_home_instead(&uri).is_none());
        assert!(send_home_instead(&"/login".parse().unwrap()).is_none());
    }
}
