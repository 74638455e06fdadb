//! Our own extractors, so that every rejection answers problem+json.

use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{header, request::Parts, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;

use crate::error::{FieldError, Problem};

/// JSON body in, JSON body out. Rejections: 415 without a JSON content type, 400 for malformed
/// JSON, 413 past the body limit, 422 naming the field whose value does not fit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Problem::unsupported_media_type("application/json"));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        parse_json(&bytes).map(Json)
    }
}

/// An optional JSON body (`Option<Json<T>>`): an empty body is `None`, whatever its content
/// type, and so is a JSON `null`; any other body is read as [`Json`] reads it, with the same
/// rejections.
impl<T, S> axum::extract::OptionalFromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let json = is_json(req.headers());
        let bytes = Bytes::from_request(req, state).await.map_err(body_rejection)?;
        let text = bytes.trim_ascii();
        // No body, or JSON's `null` (what an optional body is in the document).
        if text.is_empty() || (json && text == b"null") {
            return Ok(None);
        }
        if !json {
            return Err(Problem::unsupported_media_type("application/json"));
        }
        parse_json(&bytes).map(|t| Some(Json(t)))
    }
}

/// Parses a JSON document into `T` with the same rejections as [`Json`].
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    reject_nul_in_json(bytes)?;
    // Every request body of the API is an object; serde would also read a struct from an array
    // of its fields in order (`[null, null]`), which no client means.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(Problem::validation(vec![crate::FieldError::new("body", "must be a JSON object")]));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_path_to_error::deserialize(&mut de);
    match parsed {
        Ok(value) => {
            de.end().map_err(|e| Problem::bad_request(format!("malformed JSON: {e}")))?;
            Ok(value)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if !inner.is_data() {
                return Err(Problem::bad_request(format!("malformed JSON: {inner}")));
            }
            // JSON Schema (and JavaScript) count `4.0` as the integer 4; serde does not. Only on
            // this slow path is the document re-read with whole floats as integers.
            if let Some(value) = retry_with_whole_numbers(bytes) {
                return Ok(value);
            }
            let field = if path == "." { "body".to_owned() } else { path };
            Err(Problem::validation(vec![FieldError::new(field, clean_serde_message(&inner))]))
        }
    }
}

/// `T` from `bytes` after turning every float without a fraction into an integer, if that
/// changes anything and then fits.
fn retry_with_whole_numbers<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !integralize(&mut value) {
        return None;
    }
    serde_json::from_value(value).ok()
}

/// Rewrites whole floats (`4.0`, `1e3`) within i64 range as integers; whether any was found.
fn integralize(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            // Exactly representable integers only (|f| < 2^53), so nothing is rounded.
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                #[allow(clippy::cast_possible_truncation)]
                let i = f as i64;
                *value = Value::from(i);
                true
            } else {
                false
            }
        }
        // Every element is rewritten, so no short-circuiting `any`.
        Value::Array(items) => items.iter_mut().map(integralize).filter(|found| *found).count() > 0,
        Value::Object(map) => map.values_mut().map(integralize).filter(|found| *found).count() > 0,
        _ => false,
    }
}

/// PostgreSQL cannot store U+0000 in text, so a string carrying it is refused at the boundary,
/// naming the field, instead of failing as a 500 deep inside.
pub fn reject_nul(field: &str, value: &str) -> Result<(), Problem> {
    if value.contains('\0') {
        Err(nul_problem(field))
    } else {
        Ok(())
    }
}

fn nul_problem(field: &str) -> Problem {
    Problem::validation(vec![FieldError::new(field, "must not contain the NUL character (U+0000)")])
}

/// Raw JSON cannot hold a NUL byte inside a string, only the escape `\u0000`: whether `bytes`
/// may carry one (an escaped backslash before `u0000` also counts; a walk then finds nothing).
fn may_hold_nul(bytes: &[u8]) -> bool {
    const ESCAPE: &[u8] = b"\\u0000";
    bytes.windows(ESCAPE.len()).any(|w| w == ESCAPE)
}

/// A cheap scan for the escape decides whether the document needs walking to name the field.
fn reject_nul_in_json(bytes: &[u8]) -> Result<(), Problem> {
    if !may_hold_nul(bytes) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(()); // malformed: the typed parse reports it
    };
    match nul_path(&value, String::new()) {
        Some(path) => Err(nul_problem(if path.is_empty() { "body" } else { &path })),
        None => Ok(()),
    }
}

/// What takes the place of U+0000 in what must be kept whatever it holds (a provider's signed
/// webhook, a provider's answer, an endpoint's response): U+FFFD REPLACEMENT CHARACTER, the
/// mark of a character that could not be kept.
pub const NUL_REPLACEMENT: &str = "\u{FFFD}";

/// `text` with every U+0000 replaced by [`NUL_REPLACEMENT`]; borrowed when it has none.
pub fn replace_nul(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\0') {
        std::borrow::Cow::Owned(text.replace('\0', NUL_REPLACEMENT))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Replaces U+0000 in every string and key of `value` with [`NUL_REPLACEMENT`]; whether there
/// was any.
pub fn replace_nul_in_json(value: &mut serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => {
            *s = s.replace('\0', NUL_REPLACEMENT);
            true
        }
        // Every element is rewritten, so no short-circuiting `any`.
        Value::Array(items) => items.iter_mut().map(replace_nul_in_json).filter(|found| *found).count() > 0,
        Value::Object(map) => {
            let mut found = map.values_mut().map(replace_nul_in_json).filter(|found| *found).count() > 0;
            if map.keys().any(|k| k.contains('\0')) {
                *map = std::mem::take(map).into_iter().map(|(k, v)| (replace_nul(&k).into_owned(), v)).collect();
                found = true;
            }
            found
        }
        _ => false,
    }
}

/// Reads a JSON document a provider sent (a signed webhook: Meta's, TikTok's, Stripe's) into
/// `T`, with every U+0000 of its strings and keys replaced by [`NUL_REPLACEMENT`]. A client's
/// body with NUL is refused ([`parse_json`]); a provider's must be taken (refused, it would be
/// retried forever or lost), and PostgreSQL's text and jsonb cannot hold U+0000. The raw bytes
/// are the caller's to keep as they are.
pub fn parse_json_replacing_nul<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    if !may_hold_nul(bytes) {
        return serde_json::from_slice(bytes);
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes)?;
    replace_nul_in_json(&mut value);
    serde_json::from_value(value)
}

/// The path (`a.b[2]`) of the first string or key holding U+0000.
fn nul_path(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| nul_path(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') {
                Some(here)
            } else {
                nul_path(v, here)
            }
        }),
        _ => None,
    }
}

/// serde's message without its " at line X column Y" suffix, which means nothing to a client.
fn clean_serde_message(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.find(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Maps a failure to read the body; past the limit is 413.
pub fn body_rejection(rejection: BytesRejection) -> Problem {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
            .detail("the request body is too large")
    } else {
        Problem::bad_request("the request body could not be read")
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query string extractor answering 422 for values that do not fit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
                reject_nul(&name, &value)?;
                reject_nul("query", &name)?;
            }
        }
        axum::extract::Query::<T>::from_request_parts(parts, state).await.map(|q| Query(q.0)).map_err(
            |e: QueryRejection| {
                let text = e.body_text();
                let msg = text.trim_start_matches("Failed to deserialize query string: ");
                // The deserializer says which parameter (`ticket_id: UUID parsing failed…`);
                // without one (a missing parameter) the query as a whole is named.
                let (field, msg) = match msg.split_once(": ") {
                    Some((name, rest)) if is_parameter_name(name) => (name, rest),
                    _ => ("query", msg),
                };
                Problem::validation(vec![FieldError::new(field, msg)])
            },
        )
    }
}

/// Whether `name` looks like a query parameter's name (`limit`, `filter.status`, `ids[0]`).
fn is_parameter_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-[]".contains(c))
}

/// Path extractor: a path segment that cannot be an id of ours names nothing, so it is a 404.
#[derive(Debug, Clone, Copy)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Ok(raw) = axum::extract::RawPathParams::from_request_parts(parts, state).await {
            for (name, value) in raw.iter() {
                reject_nul(name, value)?;
            }
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_: PathRejection| Problem::not_found("resource"))
    }
}

/// For `PATCH` fields that may be set to null: absent → `None`, `null` → `Some(None)`.
/// Use with `#[serde(default, deserialize_with = "platform::extract::nullable")]`.
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A response that must never be cached or stored (it carries a token, key or secret):
/// `Cache-Control: no-store`, which the idempotency layer also honours.
#[derive(Debug, Clone)]
pub struct NoStore<T>(pub T);

impl<T: IntoResponse> IntoResponse for NoStore<T> {
    fn into_response(self) -> Response {
        let mut r = self.0.into_response();
        r.headers_mut().insert(header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        tags: Vec<String>,
    }

    #[test]
    fn nul_in_a_string_names_the_field() {
        let err = parse_json::<Body>(br#"{"name":"ok","tags":["a","b\u0000c"]}"#).unwrap_err();
        assert_eq!(err.status, 422);
        assert_eq!(err.errors[0].field, "tags[1]");
        let err = parse_json::<Body>(br#"{"name":"\u0000","tags":[]}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "name");
    }

    #[derive(Debug, serde::Deserialize)]
    struct Order {
        sort_order: i32,
    }

    #[test]
    fn whole_floats_are_integers_and_fractions_are_not() {
        assert_eq!(parse_json::<Order>(br#"{"sort_order": 4559.0}"#).unwrap().sort_order, 4559);
        assert_eq!(parse_json::<Order>(br#"{"sort_order": 1e3}"#).unwrap().sort_order, 1000);
        let err = parse_json::<Order>(br#"{"sort_order": 1.5}"#).unwrap_err();
        assert_eq!(err.errors[0].field, "sort_order");
    }

    #[test]
    fn a_providers_nul_is_replaced_in_strings_and_keys() {
        let body: Body = parse_json_replacing_nul(br#"{"name":"hi\u0000there","tags":["\u0000"]}"#).unwrap();
        assert_eq!((body.name.as_str(), body.tags[0].as_str()), ("hi\u{FFFD}there", "\u{FFFD}"));
        let v: serde_json::Value = parse_json_replacing_nul(br#"{"a\u0000":{"b":["x\u0000y"]}}"#).unwrap();
        assert_eq!(v, serde_json::json!({"a\u{FFFD}": {"b": ["x\u{FFFD}y"]}}));
        // Without a NUL: read as it is, and an escaped backslash before `u0000` stays text.
        let v: serde_json::Value = parse_json_replacing_nul(br#"{"a":"\\u0000"}"#).unwrap();
        assert_eq!(v["a"], "\\u0000");
        assert!(parse_json_replacing_nul::<Body>(b"{\"name\":").is_err());
        assert_eq!(replace_nul("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
        assert!(matches!(replace_nul("plain"), std::borrow::Cow::Borrowed("plain")));
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_text() {
        let body = parse_json::<Body>(br#"{"name":"\\u0000","tags":[]}"#).unwrap();
        assert_eq!(body.name, "\\u0000");
    }
}
