//! Endpoints: URL, event filters, limits, order; secrets shown once and rotated with overlap.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, NoStore, Path};
use platform::{ApiResult, FieldError, Problem};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{can_read, can_write};
use crate::{filters, signing, AppState};

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub url: String,
    pub description: Option<String>,
    pub events: Vec<String>,
    pub rate_limit_per_second: Option<i32>,
    pub max_concurrency: i32,
    pub ordered: bool,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, url, description, events, rate_limit_per_second, max_concurrency, ordered, enabled, \
    disabled_reason, failing_since, created_at, updated_at";

#[derive(Serialize)]
pub struct WithSecret {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// Shown only here.
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    description: Option<String>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    rate_limit_per_second: Option<Option<i32>>,
    max_concurrency: Option<i32>,
    ordered: Option<bool>,
}

async fn parse(state: &AppState, b: &EndpointBody, creating: bool) -> Result<(), Problem> {
    let mut errors = Vec::new();
    match &b.url {
        Some(url) => {
            if let Err(reason) = state.policy.check_url(url).await {
                errors.push(FieldError::new("url", reason));
            }
        }
        None if creating => errors.push(FieldError::new("url", "is required")),
        None => {}
    }
    match &b.events {
        Some(events) if events.is_empty() || events.len() > 100 => {
            errors.push(FieldError::new("events", "one to 100 event types or wildcards"))
        }
        Some(events) => {
            for e in events.iter().filter(|e| !filters::valid(e)) {
                errors
                    .push(FieldError::new("events", format!("{e:?} is not an event type or wildcard of the catalog")));
            }
        }
        None if creating => errors.push(FieldError::new("events", "is required")),
        None => {}
    }
    if b.description.as_ref().is_some_and(|d| d.chars().count() > 500) {
        errors.push(FieldError::new("description", "at most 500 characters"));
    }
    if let Some(Some(r)) = b.rate_limit_per_second {
        if !(1..=10_000).contains(&r) {
            errors.push(FieldError::new("rate_limit_per_second", "between 1 and 10000"));
        }
    }
    if b.max_concurrency.is_some_and(|c| !(1..=1000).contains(&c)) {
        errors.push(FieldError::new("max_concurrency", "between 1 and 1000"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

/// `POST /v1/webhooks {url, events, description?, rate_limit_per_second?, max_concurrency?, ordered?}`
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(b): Json<EndpointBody>,
) -> ApiResult<(StatusCode, NoStore<Json<WithSecret>>)> {
    can_write(&p)?;
    parse(&state, &b, true).await?;
    let secret = signing::new_secret();
    let mut tx = state.pool.begin().await?;
    let endpoint: Endpoint = sqlx::query_as(&format!(
        "INSERT INTO endpoints (id, organization_id, url, description, events, rate_limit_per_second, max_concurrency, ordered) \
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, 16), COALESCE($8, false)) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(p.org_id)
    .bind(&b.url)
    .bind(&b.description)
    .bind(&b.events)
    .bind(b.rate_limit_per_second.flatten())
    .bind(b.max_concurrency)
    .bind(b.ordered)
    .fetch_one(&mut *tx)
    .await?;
    add_secret(&state, &mut tx, endpoint.id, &secret).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, NoStore(Json(WithSecret { endpoint, secret }))))
}

/// Stores a secret encrypted, bound to its row.
async fn add_secret(state: &AppState, conn: &mut PgConnection, endpoint: Uuid, secret: &str) -> anyhow::Result<()> {
    let id = Uuid::now_v7();
    let sealed = state.keys.encrypt(secret, id.to_string().as_bytes())?;
    sqlx::query("INSERT INTO endpoint_secrets (id, endpoint_id, secret) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(endpoint)
        .bind(sealed)
        .execute(conn)
        .await?;
    Ok(())
}

/// An endpoint of the caller's organization.
pub async fn find(conn: &mut PgConnection, org: Uuid, id: Uuid) -> ApiResult<Endpoint> {
    let e: Option<Endpoint> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM endpoints WHERE id = $1 AND organization_id = $2"))
            .bind(id)
            .bind(org)
            .fetch_optional(conn)
            .await?;
    e.ok_or_else(|| Problem::not_found("webhook endpoint").into())
}

#[derive(Serialize)]
pub struct EndpointList {
    data: Vec<Endpoint>,
}

/// `GET /v1/webhooks`.
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<EndpointList>> {
    can_read(&p)?;
    let data = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM endpoints WHERE organization_id = $1 ORDER BY created_at DESC LIMIT 1000"
    ))
    .bind(p.org_id)
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(EndpointList { data }))
}

/// `GET /v1/webhooks/{id}`.
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Endpoint>> {
    can_read(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(find(&mut conn, p.org_id, id).await?))
}

/// `PATCH /v1/webhooks/{id}`.
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<EndpointBody>,
) -> ApiResult<Json<Endpoint>> {
    can_write(&p)?;
    parse(&state, &b, false).await?;
    let e: Option<Endpoint> = sqlx::query_as(&format!(
        "UPDATE endpoints SET url = COALESCE($3, url), description = COALESCE($4, description), \
         events = COALESCE($5, events), \
         rate_limit_per_second = CASE WHEN $6 THEN $7 ELSE rate_limit_per_second END, \
         max_concurrency = COALESCE($8, max_concurrency), ordered = COALESCE($9, ordered) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(p.org_id)
    .bind(&b.url)
    .bind(&b.description)
    .bind(&b.events)
    .bind(b.rate_limit_per_second.is_some())
    .bind(b.rate_limit_per_second.flatten())
    .bind(b.max_concurrency)
    .bind(b.ordered)
    .fetch_optional(&state.pool)
    .await?;
    Ok(Json(e.ok_or_else(|| Problem::not_found("webhook endpoint"))?))
}

/// `DELETE /v1/webhooks/{id}`: with its pending deliveries.
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    let done = sqlx::query("DELETE FROM endpoints WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(p.org_id)
        .execute(&state.pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Problem::not_found("webhook endpoint").into());
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn set_enabled(state: &AppState, p: &Principal, id: Uuid, enabled: bool) -> ApiResult<Json<Endpoint>> {
    can_write(p)?;
    let e: Option<Endpoint> = sqlx::query_as(&format!(
        "UPDATE endpoints SET enabled = $3, \
           disabled_reason = CASE WHEN $3 THEN NULL ELSE 'disabled by a user' END, \
           failing_since = CASE WHEN $3 THEN NULL ELSE failing_since END \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(p.org_id)
    .bind(enabled)
    .fetch_optional(&state.pool)
    .await?;
    if enabled {
        state.wake.notify_waiters();
    }
    Ok(Json(e.ok_or_else(|| Problem::not_found("webhook endpoint"))?))
}

/// `POST /v1/webhooks/{id}/enable`: pending deliveries resume.
pub async fn enable(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Endpoint>> {
    set_enabled(&state, &p, id, true).await
}

/// `POST /v1/webhooks/{id}/disable`: deliveries wait until it is enabled again.
pub async fn disable(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Endpoint>> {
    set_enabled(&state, &p, id, false).await
}

#[derive(Deserialize, Default)]
pub struct Rotate {
    /// How long the old secret keeps signing beside the new one.
    overlap_seconds: Option<u64>,
}

#[derive(Serialize)]
pub struct Rotated {
    secret: String,
    previous_expires_at: DateTime<Utc>,
}

/// `POST /v1/webhooks/{id}/rotate-secret {overlap_seconds?}`: a new secret, shown once; the old
/// one signs beside it until the overlap ends (default 24 h).
pub async fn rotate(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<NoStore<Json<Rotated>>> {
    can_write(&p)?;
    let r: Rotate = if body.is_empty() { Rotate::default() } else { platform::extract::parse_json(&body)? };
    let overlap = r.overlap_seconds.map(std::time::Duration::from_secs).unwrap_or(state.config.rotation_overlap);
    if overlap > std::time::Duration::from_secs(30 * 24 * 3600) {
        return Err(Problem::validation(vec![FieldError::new("overlap_seconds", "at most 30 days")]).into());
    }
    let mut tx = state.pool.begin().await?;
    find(&mut tx, p.org_id, id).await?;
    let expires = Utc::now() + chrono::Duration::from_std(overlap).map_err(anyhow::Error::new)?;
    sqlx::query("UPDATE endpoint_secrets SET expires_at = $2 WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)")
        .bind(id)
        .bind(expires)
        .execute(&mut *tx)
        .await?;
    let secret = signing::new_secret();
    add_secret(&state, &mut tx, id, &secret).await?;
    tx.commit().await?;
    Ok(NoStore(Json(Rotated { secret, previous_expires_at: expires })))
}
