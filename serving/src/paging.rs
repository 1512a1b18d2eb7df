//! Newest-first pages over a Cassandra partition, with opaque tokens.
//!
//! A token names the last order of the previous page by its clustering key, `(created_at,
//! order_id)`; the next page holds the rows strictly after it in the order the tables define
//! (created_at descending, then order_id ascending). Pages arrive from Cassandra in that order,
//! read from the cursor on (a customer's months one after another, newest first); `page` still
//! puts the rows in order and drops what the cursor already showed before it cuts the page.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where the previous page ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// created_at in milliseconds since the epoch
    t: i64,
    /// order_id
    o: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the page token is not one this service issued")]
pub struct BadToken;

impl Cursor {
    pub fn after(created_at: DateTime<Utc>, order_id: &str) -> Cursor {
        Cursor {
            t: created_at.timestamp_millis(),
            o: order_id.to_string(),
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(token: &str) -> Result<Cursor, BadToken> {
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| BadToken)?;
        serde_json::from_slice(&bytes).map_err(|_| BadToken)
    }

    /// When the previous page ended.
    pub fn created_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.t).unwrap_or_default()
    }

    /// True when a row with this key comes after the cursor.
    pub fn precedes(&self, created_at: DateTime<Utc>, order_id: &str) -> bool {
        let t = created_at.timestamp_millis();
        t < self.t || (t == self.t && order_id > self.o.as_str())
    }
}

/// One page of `rows` (any order on input), newest first, after `cursor`, at most `limit` long,
/// with the token of the next page when there is one.
pub fn page<T>(
    mut rows: Vec<T>,
    key: impl Fn(&T) -> (DateTime<Utc>, &str),
    cursor: Option<&Cursor>,
    limit: usize,
) -> (Vec<T>, Option<String>) {
    if let Some(cursor) = cursor {
        rows.retain(|row| {
            let (t, id) = key(row);
            cursor.precedes(t, id)
        });
    }
    rows.sort_by(|a, b| {
        let (ta, ia) = key(a);
        let (tb, ib) = key(b);
        tb.cmp(&ta).then_with(|| ia.cmp(ib))
    });
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next = if more {
        rows.last().map(|row| {
            let (t, id) = key(row);
            Cursor::after(t, id).encode()
        })
    } else {
        None
    };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn pages_walk_every_row_once_newest_first() {
        // Three orders share one millisecond: ties break by order id.
        let rows: Vec<(DateTime<Utc>, String)> =
            [(5, "e"), (1, "a"), (3, "c"), (3, "b"), (3, "d"), (2, "x")]
                .into_iter()
                .map(|(t, id)| (at(t), id.to_string()))
                .collect();
        fn key(r: &(DateTime<Utc>, String)) -> (DateTime<Utc>, &str) {
            (r.0, r.1.as_str())
        }
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (page_rows, next) = page(rows.clone(), key, cursor.as_ref(), 2);
            seen.extend(page_rows.iter().map(|r| r.1.clone()));
            match next {
                Some(token) => cursor = Some(Cursor::decode(&token).unwrap()),
                None => break,
            }
        }
        assert_eq!(seen, ["e", "b", "c", "d", "x", "a"]);
    }

    #[test]
    fn foreign_tokens_are_refused() {
        assert_eq!(Cursor::decode("not a token"), Err(BadToken));
        assert_eq!(
            Cursor::decode(&URL_SAFE_NO_PAD.encode(b"{}")),
            Err(BadToken)
        );
        let cursor = Cursor::after(at(7), "o-1");
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }
}
