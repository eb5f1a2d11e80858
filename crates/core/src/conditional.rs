//! Conditional requests (RFC 9110 §13): `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range`, read with the `headers` crate's
//! typed headers and evaluated in the RFC's order.

use std::time::SystemTime;

use axum::http::HeaderMap;
use headers::{
    ETag, HeaderMapExt, IfMatch, IfModifiedSince, IfNoneMatch, IfRange, IfUnmodifiedSince,
};

/// What the preconditions say about a GET or HEAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Serve it; `honour_range` is false when `If-Range` no longer matches.
    Proceed { honour_range: bool },
    /// 304: the client's copy is current.
    NotModified,
    /// 412: `If-Match` or `If-Unmodified-Since` failed.
    Failed,
}

/// Evaluates the conditional headers against a representation's validators; `etag` is
/// the quoted entity tag as sent in `ETag`.
pub fn evaluate(headers: &HeaderMap, etag: &str, last_modified: SystemTime) -> Precondition {
    let tag = etag.parse::<ETag>().ok();
    if let Some(if_match) = headers.typed_get::<IfMatch>() {
        let passes = match &tag {
            Some(tag) => if_match.precondition_passes(tag),
            None => if_match.is_any(),
        };
        if !passes {
            return Precondition::Failed;
        }
    } else if headers
        .typed_get::<IfUnmodifiedSince>()
        .is_some_and(|since| !since.precondition_passes(last_modified))
    {
        return Precondition::Failed;
    }
    if headers.contains_key(axum::http::header::IF_NONE_MATCH) {
        if none_match(headers, etag) {
            return Precondition::NotModified;
        }
    } else if headers
        .typed_get::<IfModifiedSince>()
        .is_some_and(|since| !since.is_modified(last_modified))
    {
        return Precondition::NotModified;
    }
    let honour_range = match headers.typed_try_get::<IfRange>() {
        Ok(None) => true,
        // Only an exact, strong validator lets a range of a changed file through.
        Ok(Some(if_range)) => {
            tag.is_some_and(|tag| if_range == IfRange::etag(tag))
                || if_range == IfRange::date(last_modified)
        }
        Err(_) => false,
    };
    Precondition::Proceed { honour_range }
}

/// Whether `If-None-Match` names this entity tag (weakly) or is `*`: the client's copy
/// is current and a 304 will do.
pub fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    let Some(if_none_match) = headers.typed_get::<IfNoneMatch>() else {
        return false;
    };
    match etag.parse::<ETag>() {
        Ok(tag) => !if_none_match.precondition_passes(&tag),
        Err(_) => if_none_match == IfNoneMatch::any(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use axum::http::HeaderValue;

    use super::*;

    const TAG: &str = "\"abc\"";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn check(pairs: &[(&'static str, String)]) -> Precondition {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        evaluate(&h, TAG, at(1_700_000_000) + Duration::from_millis(300))
    }

    fn http(secs: u64) -> String {
        let mut h = HeaderMap::new();
        h.typed_insert(headers::Date::from(at(secs)));
        h[axum::http::header::DATE].to_str().unwrap().to_owned()
    }

    #[test]
    fn none_match_and_modified_since() {
        use Precondition::*;
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
        use Precondition::*;
        assert_eq!(check(&[("if-match", "\"x\"".into())]), Failed);
        assert_eq!(check(&[("if-match", format!("W/{TAG}"))]), Failed);
        assert_eq!(check(&[("if-match", "garbage".into())]), Failed);
        assert!(matches!(check(&[("if-match", TAG.into())]), Proceed { .. }));
        assert!(matches!(check(&[("if-match", "*".into())]), Proceed { .. }));
        let old = [("if-unmodified-since", http(1_600_000_000))];
        assert_eq!(check(&old), Failed);
        let now = [("if-unmodified-since", http(1_700_000_000))];
        assert!(matches!(check(&now), Proceed { .. }));
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        let honour = |h: &[(&'static str, String)]| match check(h) {
            Precondition::Proceed { honour_range } => honour_range,
            other => panic!("{other:?}"),
        };
        assert!(honour(&[("if-range", TAG.into())]));
        assert!(!honour(&[("if-range", "\"old\"".into())]));
        assert!(!honour(&[("if-range", format!("W/{TAG}"))]));
        assert!(honour(&[("if-range", http(1_700_000_000))]));
        assert!(!honour(&[("if-range", http(1_600_000_000))]));
        assert!(!honour(&[("if-range", http(1_800_000_000))]));
        assert!(!honour(&[("if-range", "garbage".into())]));
    }

    #[test]
    fn none_match_is_weak_and_takes_lists() {
        let with = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert("if-none-match", HeaderValue::from_static(value));
            none_match(&h, "\"abc-gz\"")
        };
        assert!(with("\"abc-gz\""));
        assert!(with("W/\"abc-gz\""));
        assert!(with("\"old\", \"abc-gz\""));
        assert!(with("*"));
        assert!(!with("\"abc\""));
        assert!(!none_match(&HeaderMap::new(), "\"abc-gz\""));
    }
}
