use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

use crate::domain::Invalid;

/// Where the next page starts: the sort key (time, id) of the last item shown.
/// Keyset pagination keeps pages stable while rows are added and is one index range scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    /// The last item's time in Unix milliseconds.
    pub time_ms: i64,
    /// The last item's id, the tie-breaker between equal times.
    pub id: String,
}

impl PageCursor {
    /// The position before the first (newest) item.
    pub fn start() -> Self {
        Self {
            time_ms: i64::MAX,
            id: String::new(),
        }
    }

    /// The opaque form sent to clients.
    pub fn encode(&self) -> String {
        B64.encode(format!("{}:{}", self.time_ms, self.id))
    }

    /// Reads a cursor a client sent back.
    pub fn decode(s: &str) -> Result<Self, Invalid> {
        let bad = || Invalid("malformed cursor".into());
        let bytes = B64.decode(s).map_err(|_| bad())?;
        let text = String::from_utf8(bytes).map_err(|_| bad())?;
        let (time, id) = text.split_once(':').ok_or_else(bad)?;
        let id_ok = id.len() == 36 && uuid::Uuid::try_parse(id).is_ok();
        if !id_ok {
            return Err(bad());
        }
        Ok(Self {
            time_ms: time.parse().map_err(|_| bad())?,
            id: id.to_owned(),
        })
    }
}

/// One page of items and the cursor of the next, if there may be one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<PageCursor>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: u32, key: impl Fn(&T) -> PageCursor) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(key) } else { None };
        Self { items: rows, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let c = PageCursor {
            time_ms: 1_700_000_000_000,
            id: uuid::Uuid::new_v4().to_string(),
        };
        assert_eq!(PageCursor::decode(&c.encode()).unwrap(), c);
        assert!(PageCursor::decode("!!").is_err());
        assert!(PageCursor::decode(&B64.encode("12:nope")).is_err());
        assert!(PageCursor::decode(&B64.encode("x:")).is_err());
    }

    #[test]
    fn pages_know_whether_more_follow() {
        let key = |n: &i64| PageCursor {
            time_ms: *n,
            id: String::new(),
        };
        let p = Page::from_rows(vec![5, 4, 3], 2, key);
        assert_eq!(p.items, vec![5, 4]);
        assert_eq!(p.next.unwrap().time_ms, 4);
        let p = Page::from_rows(vec![5, 4], 2, key);
        assert!(p.next.is_none());
    }
}
