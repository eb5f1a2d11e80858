//! Conditional requests (RFC 9110 §13): `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range`, evaluated in the RFC's order.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use axum::http::header::{
    IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE,
};

/// What the preconditions say about a GET or HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Serve it; `honour_range` is false when `If-Range` no longer matches.
    Proceed {
        /// Whether a `Range` header may be applied.
        honour_range: bool,
    },
    /// 304: the client's copy is current.
    NotModified,
    /// 412: `If-Match` or `If-Unmodified-Since` failed.
    PreconditionFailed,
}

/// Evaluates the conditional headers against the representation's validators.
pub fn evaluate(headers: &HeaderMap, etag: &str, last_modified: SystemTime) -> Outcome {
    let modified = whole_seconds(last_modified);
    if let Some(value) = text(headers, IF_MATCH) {
        if !(value.trim() == "*" || tags(value).any(|t| strong_eq(t, etag))) {
            return Outcome::PreconditionFailed;
        }
    } else if let Some(date) = date(headers, IF_UNMODIFIED_SINCE)
        && modified > date
    {
        return Outcome::PreconditionFailed;
    }
    if let Some(value) = text(headers, IF_NONE_MATCH) {
        if value.trim() == "*" || tags(value).any(|t| weak_eq(t, etag)) {
            return Outcome::NotModified;
        }
    } else if let Some(date) = date(headers, IF_MODIFIED_SINCE)
        && modified <= date
    {
        return Outcome::NotModified;
    }
    let honour_range = match text(headers, IF_RANGE).map(str::trim) {
        None => true,
        Some(v) if v.starts_with('"') || v.starts_with("W/") => strong_eq(v, etag),
        Some(v) => httpdate::parse_http_date(v).is_ok_and(|d| whole_seconds(d) == modified),
    };
    Outcome::Proceed { honour_range }
}

fn text(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn date(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<SystemTime> {
    text(headers, name)
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
        .map(whole_seconds)
}

/// HTTP dates have one-second resolution, so stored times are compared truncated.
fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn tags(list: &str) -> impl Iterator<Item = &str> {
    list.split(',').map(str::trim).filter(|t| !t.is_empty())
}

/// Strong comparison: both tags strong and identical.
fn strong_eq(candidate: &str, etag: &str) -> bool {
    !candidate.starts_with("W/") && candidate == etag
}

/// Weak comparison: identical once any `W/` is dropped.
fn weak_eq(candidate: &str, etag: &str) -> bool {
    candidate.trim_start_matches("W/") == etag.trim_start_matches("W/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const TAG: &str = "\"abc\"";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn check(pairs: &[(&'static str, String)]) -> Outcome {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        evaluate(&h, TAG, at(1_700_000_000) + Duration::from_millis(300))
    }

    fn http(secs: u64) -> String {
        httpdate::fmt_http_date(at(secs))
    }

    #[test]
    fn none_match_and_modified_since() {
        use Outcome::*;
        let go = Proceed { honour_range: true };
        assert_eq!(check(&[]), go);
        assert_eq!(check(&[("if-none-match", TAG.into())]), NotModified);
        assert_eq!(
            check(&[("if-none-match", format!("\"x\", W/{TAG}"))]),
            NotModified
        );
        assert_eq!(check(&[("if-none-match", "*".into())]), NotModified);
        assert_eq!(check(&[("if-none-match", "\"x\"".into())]), go);
        assert_eq!(
            check(&[("if-modified-since", http(1_700_000_000))]),
            NotModified
        );
        assert_eq!(check(&[("if-modified-since", http(1_699_999_999))]), go);
        // If-None-Match wins over If-Modified-Since.
        let both = [
            ("if-none-match", "\"x\"".to_string()),
            ("if-modified-since", http(1_700_000_000)),
        ];
        assert_eq!(check(&both), go);
    }

    #[test]
    fn match_and_unmodified_since() {
        use Outcome::*;
        assert_eq!(check(&[("if-match", "\"x\"".into())]), PreconditionFailed);
        assert_eq!(
            check(&[("if-match", format!("W/{TAG}"))]),
            PreconditionFailed
        );
        assert!(matches!(check(&[("if-match", TAG.into())]), Proceed { .. }));
        let old = [("if-unmodified-since", http(1_600_000_000))];
        assert_eq!(check(&old), PreconditionFailed);
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        let honour = |h: &[(&'static str, String)]| match check(h) {
            Outcome::Proceed { honour_range } => honour_range,
            other => panic!("{other:?}"),
        };
        assert!(honour(&[("if-range", TAG.into())]));
        assert!(!honour(&[("if-range", "\"old\"".into())]));
        assert!(!honour(&[("if-range", format!("W/{TAG}"))]));
        assert!(honour(&[("if-range", http(1_700_000_000))]));
        assert!(!honour(&[("if-range", http(1_600_000_000))]));
        assert!(!honour(&[("if-range", "garbage".into())]));
    }
}
