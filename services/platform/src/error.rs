//! RFC 9457 problem details: the one error body every Switchboard endpoint answers with.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Base of the stable `type` URIs of our problems.
const TYPE_BASE: &str = "https://switchboard.dev/problems/";

/// One invalid field of a request body or query.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// An `application/problem+json` response.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// Stable URI naming the kind of problem.
    #[serde(rename = "type")]
    #[schema(example = "https://switchboard.dev/problems/not-found")]
    pub kind: String,
    #[schema(value_type = String)]
    pub title: &'static str,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request's `X-Request-Id`, to quote when asking for help (as in the edge's own problems).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub request_id: Option<Box<str>>,
    #[serde(skip)]
    retry_after: Option<u32>,
    /// 401s tell the client which scheme to use (RFC 9110 §11.6.1).
    #[serde(skip)]
    challenge: bool,
}

impl Problem {
    /// A problem with a stable slug (`type` = base + slug) and a human title.
    pub fn new(status: StatusCode, slug: &str, title: &'static str) -> Self {
        Self {
            kind: format!("{TYPE_BASE}{slug}"),
            title,
            status: status.as_u16(),
            detail: None,
            errors: Vec::new(),
            request_id: None,
            retry_after: None,
            challenge: status == StatusCode::UNAUTHORIZED,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(u32::try_from(seconds).unwrap_or(u32::MAX).max(1));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-request", "Malformed request").detail(detail)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "Authentication required")
            .detail("missing, invalid or expired credentials")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden").detail(detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found").detail(format!("{what} not found"))
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict").detail(detail)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
            .detail(format!("the body exceeds the limit of {limit} bytes"))
    }

    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", "Unsupported media type")
            .detail(format!("expected content type {expected}"))
    }

    /// 422 naming every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut p = Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "Invalid request")
            .detail("one or more fields are invalid");
        p.errors = errors;
        p
    }

    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests")
            .detail("try again later")
            .retry_after(retry_after_secs)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service-unavailable", "Service unavailable").detail(detail)
    }

    /// 503 for a dependency that is down; the client may retry shortly.
    pub fn database_unavailable() -> Self {
        Self::unavailable("the service's database is unavailable, try again shortly").retry_after(2)
    }

    /// 500 that reveals nothing; the cause is logged by the caller.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal server error")
    }

    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl IntoResponse for Problem {
    fn into_response(mut self) -> Response {
        let status = self.status_code();
        if self.request_id.is_none() {
            self.request_id = crate::telemetry::current_request_id().map(String::into_boxed_str);
        }
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)
    }
}

impl std::error::Error for Problem {}

/// Logs an unexpected error with its whole chain and answers a bare 500, or a 503 when the
/// cause is the database being unreachable (the client should retry, nothing is wrong with it).
pub fn internal_error(err: &anyhow::Error) -> Problem {
    if err.chain().any(|c| c.downcast_ref::<sqlx::Error>().is_some_and(is_unavailable)) {
        tracing::warn!(error = %err, "database unavailable");
        return Problem::database_unavailable();
    }
    tracing::error!(error = ?err, "unexpected error");
    Problem::internal()
}

/// Whether a database error means "cannot reach PostgreSQL now" rather than a bug: pool
/// timeouts, broken connections, and the server's own connection-class errors.
pub fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            // 08: connection exception; 57P01-03: shutdown / cannot connect now; 53300: too many connections.
            // 40001/40P01: serialization failure or deadlock; the same request will pass on retry.
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01")
        }),
        _ => false,
    }
}

/// The error type of handlers: a problem, or an unexpected failure answered as a bare 500.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Problem(#[from] Problem),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::Unexpected(anyhow::Error::new(err))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Problem(p) => p.into_response(),
            Self::Unexpected(err) => internal_error(&err).into_response(),
        }
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
