//! The `Range` header of RFC 9110 §14.2, resolved against a representation's size.

use std::ops::Range;

/// Headers longer than this are ignored rather than parsed (a cheap DoS guard).
const MAX_HEADER_LEN: usize = 1024;

/// What to send for a `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: the whole representation with 200. This covers a missing,
    /// malformed or non-`bytes` header, and several ranges (reel answers a multi-range
    /// request with the whole representation, as RFC 9110 §14.2 allows, rather than
    /// `multipart/byteranges`: browsers never ask for several).
    Full,
    /// One satisfiable range (half-open byte offsets) for a 206.
    Single(Range<u64>),
    /// Every requested range lies outside the representation: 416.
    Unsatisfiable,
}

/// A syntactically valid range spec, not yet resolved against a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last`, inclusive.
    Bounded(u64, u64),
    /// `first-`.
    From(u64),
    /// `-length`: the last `length` bytes.
    Suffix(u64),
}

impl Spec {
    fn parse(text: &str) -> Option<Self> {
        let (first, last) = text.trim().split_once('-')?;
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u64>().ok())
                .flatten()
        };
        match (first.is_empty(), last.is_empty()) {
            (true, false) => number(last).map(Self::Suffix),
            (false, true) => number(first).map(Self::From),
            (false, false) => {
                let (a, b) = (number(first)?, number(last)?);
                (a <= b).then_some(Self::Bounded(a, b))
            }
            (true, true) => None,
        }
    }

    fn resolve(self, size: u64) -> Option<Range<u64>> {
        match self {
            Self::Bounded(a, b) if a < size => Some(a..b.saturating_add(1).min(size)),
            Self::From(a) if a < size => Some(a..size),
            Self::Suffix(n) if n > 0 && size > 0 => Some(size - n.min(size)..size),
            _ => None,
        }
    }
}

/// Resolves a `Range` header value against a representation of `size` bytes.
pub fn resolve(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(header) = header.filter(|h| h.len() <= MAX_HEADER_LEN) else {
        return RangeRequest::Full;
    };
    let Some((unit, set)) = header.split_once('=') else {
        return RangeRequest::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeRequest::Full;
    }
    let mut specs = Vec::new();
    for element in set.split(',') {
        if element.trim().is_empty() {
            continue;
        }
        match Spec::parse(element) {
            Some(spec) => specs.push(spec),
            None => return RangeRequest::Full,
        }
    }
    let satisfiable: Vec<_> = specs.iter().filter_map(|s| s.resolve(size)).collect();
    match (specs.len(), satisfiable.as_slice()) {
        (0, _) => RangeRequest::Full,
        (_, []) => RangeRequest::Unsatisfiable,
        (1, [only]) => RangeRequest::Single(only.clone()),
        _ => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn single_ranges_of_every_form() {
        assert_eq!(resolve(Some("bytes=0-99"), 1000), Single(0..100));
        assert_eq!(resolve(Some("bytes=900-"), 1000), Single(900..1000));
        assert_eq!(resolve(Some("bytes=-100"), 1000), Single(900..1000));
        assert_eq!(resolve(Some("bytes=-5000"), 1000), Single(0..1000));
        assert_eq!(resolve(Some("bytes=990-5000"), 1000), Single(990..1000));
        assert_eq!(resolve(Some("Bytes = 1-1"), 1000), Single(1..2));
        assert_eq!(resolve(Some("bytes=0-0, "), 10), Single(0..1));
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(resolve(Some("bytes=1000-"), 1000), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=1000-2000"), 1000), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=-0"), 1000), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(resolve(Some("bytes=2000-,3000-"), 1000), Unsatisfiable);
    }

    #[test]
    fn malformed_or_foreign_ranges_are_ignored() {
        for h in [
            "bytes=abc",
            "bytes=5-1",
            "bytes=-",
            "bytes=1-2-3",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
            "items=0-1",
            "0-1",
            "bytes=",
        ] {
            assert_eq!(resolve(Some(h), 1000), Full, "{h}");
        }
        assert_eq!(resolve(None, 1000), Full);
        assert_eq!(
            resolve(Some(&format!("bytes={}", "0-1,".repeat(500))), 1000),
            Full
        );
    }

    #[test]
    fn several_ranges_get_the_whole_representation() {
        assert_eq!(resolve(Some("bytes=0-1,5-6"), 1000), Full);
        assert_eq!(resolve(Some("bytes=0-1,5000-6000"), 1000), Full);
    }
}
