//! Endpoints: URL, event filters, limits, order; secrets shown once and rotated with overlap.
//! Every change is announced (`webhook.endpoint.*`, never with a secret) in its transaction.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use platform::auth::Principal;
use platform::extract::{Json, NoStore, Path};
use platform::{ApiResult, FieldError, Problem};
use proto::events::{WEBHOOK_ENDPOINT_CREATED, WEBHOOK_ENDPOINT_DELETED, WEBHOOK_ENDPOINT_UPDATED};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{actor, can_read, can_write};
use crate::store::endpoints::{self as store, Changes, Endpoint};
use crate::{filters, signing, AppState};

/// An endpoint with its secret: only in the answer that made the secret.
#[derive(Serialize, ToSchema)]
pub struct WithSecret {
    #[serde(flatten)]
    endpoint: Endpoint,
    /// `whsec_<base64>`: verify deliveries with it (Standard Webhooks). Shown only here.
    secret: String,
}

/// The example's loopback URL is accepted only where `WEBHOOK_ALLOW_CIDRS` admits 127.0.0.0/8
/// (development; deploy/fuzz.sh creates endpoints with it); elsewhere it is refused (422 `url`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "http://127.0.0.1:9/hook", "events": ["feedback.*"], "description": "Feedback to the local listener"}))]
pub struct CreateEndpoint {
    /// Where deliveries are POSTed: http(s), no credentials, a public address. (Optional in
    /// Rust only so that every missing field is reported at once.)
    #[schema(value_type = String, required = true, format = "uri", max_length = 2000, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    url: Option<String>,
    #[schema(value_type = Vec<EventFilter>, required = true, min_items = 1, max_items = 100)]
    events: Option<Vec<String>>,
    #[schema(max_length = 500)]
    description: Option<String>,
    /// Requests per second at most; none for no limit.
    #[schema(minimum = 1, maximum = 10000)]
    rate_limit_per_second: Option<i32>,
    /// Requests in flight at most (default 16).
    #[schema(minimum = 1, maximum = 1000)]
    max_concurrency: Option<i32>,
    /// One delivery at a time, in event order (default false).
    ordered: Option<bool>,
}

/// Every field optional; `rate_limit_per_second: null` removes the limit.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    #[schema(format = "uri", max_length = 2000, pattern = r"^[hH][tT][tT][pP][sS]?://")]
    url: Option<String>,
    #[schema(value_type = Option<Vec<EventFilter>>, min_items = 1, max_items = 100)]
    events: Option<Vec<String>>,
    #[schema(max_length = 500)]
    description: Option<String>,
    #[serde(default, deserialize_with = "platform::extract::nullable")]
    #[schema(minimum = 1, maximum = 10000, nullable, value_type = Option<i32>)]
    rate_limit_per_second: Option<Option<i32>>,
    #[schema(minimum = 1, maximum = 1000)]
    max_concurrency: Option<i32>,
    ordered: Option<bool>,
}

/// What `events` holds: `*`, a family's wildcard (`feedback.*`) or an event type of the
/// catalog's families ([`filters::valid`]).
#[derive(ToSchema)]
#[schema(value_type = String, max_length = 100, pattern = r"^(\*|(identity|feedback|ticket|inbox|billing|webhook)([.][a-z0-9_.]*)?([.][*])?)$")]
#[allow(dead_code)]
pub struct EventFilter(String);

/// Checks every field, reporting all that are wrong at once; a create needs `url` and `events`.
async fn validate(state: &AppState, c: &Changes<'_>, creating: bool) -> Result<(), Problem> {
    let mut errors = Vec::new();
    if creating && c.url.is_none() {
        errors.push(FieldError::new("url", "is required"));
    }
    if creating && c.events.is_none() {
        errors.push(FieldError::new("events", "is required"));
    }
    if let Some(url) = c.url {
        if let Err(reason) = state.policy.check_url(url).await {
            errors.push(FieldError::new("url", reason));
        }
    }
    match c.events {
        Some(events) if events.is_empty() || events.len() > 100 => {
            errors.push(FieldError::new("events", "one to 100 event types or wildcards"))
        }
        Some(events) => {
            for e in events.iter().filter(|e| !filters::valid(e)) {
                errors
                    .push(FieldError::new("events", format!("{e:?} is not an event type or wildcard of the catalog")));
            }
        }
        None => {}
    }
    if c.description.is_some_and(|d| d.chars().count() > 500) {
        errors.push(FieldError::new("description", "at most 500 characters"));
    }
    if let Some(Some(r)) = c.rate_limit_per_second {
        if !(1..=10_000).contains(&r) {
            errors.push(FieldError::new("rate_limit_per_second", "between 1 and 10000"));
        }
    }
    if c.max_concurrency.is_some_and(|c| !(1..=1000).contains(&c)) {
        errors.push(FieldError::new("max_concurrency", "between 1 and 1000"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Problem::validation(errors))
    }
}

/// Creates an endpoint; its signing secret is in this answer only.
#[utoipa::path(post, path = "/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = CreateEndpoint,
    responses((status = 201, description = "Created, with its secret", body = WithSecret, links(
        ("GetWebhook" = (operation_id = "get_webhook", parameters(("id" = "$response.body#/id")))),
        ("UpdateWebhook" = (operation_id = "update_webhook", parameters(("id" = "$response.body#/id")))),
        ("DeleteWebhook" = (operation_id = "delete_webhook", parameters(("id" = "$response.body#/id")))),
        ("EnableWebhook" = (operation_id = "enable_webhook", parameters(("id" = "$response.body#/id")))),
        ("DisableWebhook" = (operation_id = "disable_webhook", parameters(("id" = "$response.body#/id")))),
        ("RotateWebhookSecret" = (operation_id = "rotate_webhook_secret", parameters(("id" = "$response.body#/id")))),
        ("TestWebhook" = (operation_id = "test_webhook", parameters(("id" = "$response.body#/id")))),
        ("ListDeliveries" = (operation_id = "list_deliveries", parameters(("id" = "$response.body#/id")))),
        ("RecoverDeliveries" = (operation_id = "recover_deliveries", parameters(("id" = "$response.body#/id")))),
    )), (status = 402, description = "The plan's webhook endpoints are used up", body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<AppState>,
    p: Principal,
    Json(b): Json<CreateEndpoint>,
) -> ApiResult<(StatusCode, NoStore<Json<WithSecret>>)> {
    can_write(&p)?;
    let changes = Changes {
        url: b.url.as_deref(),
        description: b.description.as_deref(),
        events: b.events.as_deref(),
        rate_limit_per_second: Some(b.rate_limit_per_second),
        max_concurrency: b.max_concurrency,
        ordered: b.ordered,
    };
    validate(&state, &changes, true).await?;
    state.quota.require(p.org_id, "webhook_endpoints", "webhook endpoints").await?;
    let secret = signing::new_secret();
    let mut tx = state.pool.begin().await?;
    let endpoint = store::insert(&mut tx, p.org_id, &changes).await?;
    add_secret(&state, &mut tx, endpoint.id, &secret).await?;
    announce(&mut tx, WEBHOOK_ENDPOINT_CREATED, &p, &endpoint).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, NoStore(Json(WithSecret { endpoint, secret }))))
}

/// Stores a secret encrypted, bound to its row.
async fn add_secret(state: &AppState, conn: &mut PgConnection, endpoint: Uuid, secret: &str) -> anyhow::Result<()> {
    let id = Uuid::now_v7();
    let sealed = state.keys.encrypt(secret, id.to_string().as_bytes())?;
    store::insert_secret(conn, id, endpoint, &sealed).await?;
    Ok(())
}

async fn announce(conn: &mut PgConnection, kind: &str, p: &Principal, e: &Endpoint) -> anyhow::Result<()> {
    let event = crate::worker::operational(kind, p.org_id, e.id, e.event(p.org_id, actor(p)));
    platform::outbox::emit(conn, &event).await?;
    Ok(())
}

/// An endpoint of the caller's organization, or 404.
pub async fn find(conn: &mut PgConnection, org: Uuid, id: Uuid) -> ApiResult<Endpoint> {
    Ok(store::find(conn, org, id).await?.ok_or_else(|| Problem::not_found("webhook endpoint"))?)
}

#[derive(Serialize, ToSchema)]
pub struct EndpointList {
    /// Newest first, at most 1000.
    data: Vec<Endpoint>,
}

/// The organization's endpoints.
#[utoipa::path(get, path = "/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, description = "The endpoints", body = EndpointList)))]
pub async fn list(State(state): State<AppState>, p: Principal) -> ApiResult<Json<EndpointList>> {
    can_read(&p)?;
    Ok(Json(EndpointList { data: store::list(&state.pool, p.org_id).await? }))
}

#[utoipa::path(get, path = "/v1/webhooks/{id}", operation_id = "get_webhook", tag = "webhooks",
    responses((status = 200, description = "The endpoint", body = Endpoint)))]
pub async fn get(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Endpoint>> {
    can_read(&p)?;
    let mut conn = state.pool.acquire().await?;
    Ok(Json(find(&mut conn, p.org_id, id).await?))
}

/// Changes what is given, leaves the rest.
#[utoipa::path(patch, path = "/v1/webhooks/{id}", operation_id = "update_webhook", tag = "webhooks", request_body = UpdateEndpoint,
    responses((status = 200, description = "The endpoint as it is now", body = Endpoint)))]
pub async fn update(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    Json(b): Json<UpdateEndpoint>,
) -> ApiResult<Json<Endpoint>> {
    can_write(&p)?;
    let changes = Changes {
        url: b.url.as_deref(),
        description: b.description.as_deref(),
        events: b.events.as_deref(),
        rate_limit_per_second: b.rate_limit_per_second,
        max_concurrency: b.max_concurrency,
        ordered: b.ordered,
    };
    validate(&state, &changes, false).await?;
    let mut tx = state.pool.begin().await?;
    let endpoint =
        store::update(&mut tx, p.org_id, id, &changes).await?.ok_or_else(|| Problem::not_found("webhook endpoint"))?;
    announce(&mut tx, WEBHOOK_ENDPOINT_UPDATED, &p, &endpoint).await?;
    tx.commit().await?;
    Ok(Json(endpoint))
}

/// Deletes the endpoint with its deliveries, pending ones included.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    responses((status = 204, description = "Deleted")))]
pub async fn delete(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<StatusCode> {
    can_write(&p)?;
    let mut tx = state.pool.begin().await?;
    let url = store::delete(&mut tx, p.org_id, id).await?.ok_or_else(|| Problem::not_found("webhook endpoint"))?;
    let data =
        proto::events::WebhookEndpointDeleted { endpoint_id: id, organization_id: p.org_id, url, actor_id: actor(&p) };
    let event = crate::worker::operational(WEBHOOK_ENDPOINT_DELETED, p.org_id, id, data);
    platform::outbox::emit(&mut tx, &event).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_enabled(state: &AppState, p: &Principal, id: Uuid, enabled: bool) -> ApiResult<Json<Endpoint>> {
    can_write(p)?;
    let mut tx = state.pool.begin().await?;
    let endpoint = store::set_enabled(&mut tx, p.org_id, id, enabled)
        .await?
        .ok_or_else(|| Problem::not_found("webhook endpoint"))?;
    announce(&mut tx, WEBHOOK_ENDPOINT_UPDATED, p, &endpoint).await?;
    tx.commit().await?;
    if enabled {
        state.wake.notify_waiters();
    }
    Ok(Json(endpoint))
}

/// Pending deliveries resume.
#[utoipa::path(post, path = "/v1/webhooks/{id}/enable", operation_id = "enable_webhook", tag = "webhooks",
    responses((status = 200, description = "Enabled", body = Endpoint)))]
pub async fn enable(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Endpoint>> {
    set_enabled(&state, &p, id, true).await
}

/// Deliveries wait until it is enabled again.
#[utoipa::path(post, path = "/v1/webhooks/{id}/disable", operation_id = "disable_webhook", tag = "webhooks",
    responses((status = 200, description = "Disabled", body = Endpoint)))]
pub async fn disable(State(state): State<AppState>, p: Principal, Path(id): Path<Uuid>) -> ApiResult<Json<Endpoint>> {
    set_enabled(&state, &p, id, false).await
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// How long the old secret keeps signing beside the new one (default 24 h, at most 30 days).
    #[schema(minimum = 0, maximum = 2592000)]
    overlap_seconds: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct Rotated {
    /// The new secret, shown only here.
    secret: String,
    previous_expires_at: DateTime<Utc>,
}

/// A new secret, shown once; the old one signs beside it until the overlap ends. The body may
/// be left out.
#[utoipa::path(post, path = "/v1/webhooks/{id}/rotate-secret", operation_id = "rotate_webhook_secret", tag = "webhooks",
    request_body(content = Option<Rotate>, content_type = "application/json"),
    responses((status = 200, description = "The new secret", body = Rotated)))]
pub async fn rotate(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> ApiResult<NoStore<Json<Rotated>>> {
    can_write(&p)?;
    // No body, `null` and `{}` all mean the defaults.
    let r: Rotate = if body.is_empty() {
        Rotate::default()
    } else {
        platform::extract::parse_json::<Option<Rotate>>(&body)?.unwrap_or_default()
    };
    let overlap = r.overlap_seconds.map(std::time::Duration::from_secs).unwrap_or(state.config.rotation_overlap);
    if overlap > std::time::Duration::from_secs(30 * 24 * 3600) {
        return Err(Problem::validation(vec![FieldError::new("overlap_seconds", "at most 30 days")]).into());
    }
    let mut tx = state.pool.begin().await?;
    if !store::lock(&mut tx, p.org_id, id).await? {
        return Err(Problem::not_found("webhook endpoint").into());
    }
    let expires = Utc::now() + chrono::Duration::from_std(overlap).map_err(anyhow::Error::new)?;
    store::expire_secrets(&mut tx, id, expires).await?;
    let secret = signing::new_secret();
    add_secret(&state, &mut tx, id, &secret).await?;
    tx.commit().await?;
    Ok(NoStore(Json(Rotated { secret, previous_expires_at: expires })))
}
