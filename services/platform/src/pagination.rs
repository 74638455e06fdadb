//! Cursor pagination: `limit` and an opaque `cursor` in, `{data, next_cursor}` out.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{FieldError, Problem};

/// Query parameters of a list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PageQuery {
    /// Accepts `"20"` as well as `20`: flattened into a query struct, numbers arrive as text.
    #[serde(default, deserialize_with = "lenient_int")]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A position in a list ordered by `(time, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "t")]
    pub time: DateTime<Utc>,
    #[serde(rename = "i")]
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    pub fn decode(s: &str) -> Result<Self, Problem> {
        URL_SAFE_NO_PAD
            .decode(s)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| Problem::validation(vec![FieldError::new("cursor", "is not a cursor this list gave")]))
    }
}

fn lenient_int<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum IntOrText {
        Int(i64),
        Text(String),
    }
    match Option::<IntOrText>::deserialize(d)? {
        None => Ok(None),
        Some(IntOrText::Int(n)) => Ok(Some(n)),
        Some(IntOrText::Text(t)) => {
            t.trim().parse().map(Some).map_err(|_| serde::de::Error::custom("limit must be a whole number"))
        }
    }
}

impl PageQuery {
    /// The limit (default 50, 1..=200) and the decoded cursor.
    pub fn parse(&self) -> Result<(i64, Option<Cursor>), Problem> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(Problem::validation(vec![FieldError::new("limit", "must be between 1 and 200")]));
        }
        let cursor = self.cursor.as_deref().filter(|c| !c.is_empty()).map(Cursor::decode).transpose()?;
        Ok((limit, cursor))
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Cursor) -> Self {
        let limit = usize::try_from(limit).unwrap_or(0);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more { rows.last().map(|r| key(r).encode()) } else { None };
        Self { data: rows, next_cursor }
    }
}
