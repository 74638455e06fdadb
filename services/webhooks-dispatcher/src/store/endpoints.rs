//! Endpoints and their encrypted secrets. Every statement filters by organization.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// An endpoint as its organization sees it (never its secrets).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Endpoint {
    pub id: Uuid,
    #[schema(format = "uri")]
    pub url: String,
    pub description: Option<String>,
    /// Event types or wildcards of the catalog (`feedback.*`, `*`).
    pub events: Vec<String>,
    #[schema(minimum = 1, maximum = 10000)]
    pub rate_limit_per_second: Option<i32>,
    #[schema(minimum = 1, maximum = 1000)]
    pub max_concurrency: i32,
    pub ordered: bool,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Endpoint {
    /// The event payload describing it (`webhook.endpoint.created` / `updated`).
    pub fn event(&self, org: Uuid, actor: Option<Uuid>) -> proto::events::WebhookEndpoint {
        proto::events::WebhookEndpoint {
            endpoint_id: self.id,
            organization_id: org,
            url: self.url.clone(),
            description: self.description.clone(),
            events: self.events.clone(),
            rate_limit_per_second: self.rate_limit_per_second,
            max_concurrency: self.max_concurrency,
            ordered: self.ordered,
            enabled: self.enabled,
            actor_id: actor,
            updated_at: self.updated_at,
        }
    }
}

const COLUMNS: &str = "id, url, description, events, rate_limit_per_second, max_concurrency, ordered, enabled, \
    disabled_reason, failing_since, created_at, updated_at";

/// What a create or update sets; `None` leaves a field as it is (or at its default).
#[derive(Debug, Default)]
pub struct Changes<'a> {
    pub url: Option<&'a str>,
    pub description: Option<&'a str>,
    pub events: Option<&'a [String]>,
    /// `Some(None)` clears the limit.
    pub rate_limit_per_second: Option<Option<i32>>,
    pub max_concurrency: Option<i32>,
    pub ordered: Option<bool>,
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, c: &Changes<'_>) -> sqlx::Result<Endpoint> {
    sqlx::query_as(&format!(
        "INSERT INTO endpoints (id, organization_id, url, description, events, rate_limit_per_second, max_concurrency, ordered) \
         VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, 16), COALESCE($8, false)) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(c.url)
    .bind(c.description)
    .bind(c.events)
    .bind(c.rate_limit_per_second.flatten())
    .bind(c.max_concurrency)
    .bind(c.ordered)
    .fetch_one(conn)
    .await
}

/// Stores a secret already encrypted for its row id.
pub async fn insert_secret(conn: &mut PgConnection, id: Uuid, endpoint: Uuid, sealed: &str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO endpoint_secrets (id, endpoint_id, secret) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(endpoint)
        .bind(sealed)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every secret of the endpoint still signing past `expires`.
pub async fn expire_secrets(conn: &mut PgConnection, endpoint: Uuid, expires: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE endpoint_secrets SET expires_at = $2 WHERE endpoint_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
    )
    .bind(endpoint)
    .bind(expires)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn find(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Endpoint>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM endpoints WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Locks the endpoint for the rest of the transaction (rotation, recovery).
pub async fn lock(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let found: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM endpoints WHERE id = $1 AND organization_id = $2 FOR UPDATE")
            .bind(id)
            .bind(org)
            .fetch_optional(conn)
            .await?;
    Ok(found.is_some())
}

pub async fn list(pool: &PgPool, org: Uuid) -> sqlx::Result<Vec<Endpoint>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM endpoints WHERE organization_id = $1 ORDER BY created_at DESC LIMIT 1000"
    ))
    .bind(org)
    .fetch_all(pool)
    .await
}

pub async fn update(conn: &mut PgConnection, org: Uuid, id: Uuid, c: &Changes<'_>) -> sqlx::Result<Option<Endpoint>> {
    sqlx::query_as(&format!(
        "UPDATE endpoints SET url = COALESCE($3, url), description = COALESCE($4, description), \
         events = COALESCE($5, events), \
         rate_limit_per_second = CASE WHEN $6 THEN $7 ELSE rate_limit_per_second END, \
         max_concurrency = COALESCE($8, max_concurrency), ordered = COALESCE($9, ordered) \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(c.url)
    .bind(c.description)
    .bind(c.events)
    .bind(c.rate_limit_per_second.is_some())
    .bind(c.rate_limit_per_second.flatten())
    .bind(c.max_concurrency)
    .bind(c.ordered)
    .fetch_optional(conn)
    .await
}

/// Deletes the endpoint (its secrets, deliveries and attempts cascade); returns its URL.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("DELETE FROM endpoints WHERE id = $1 AND organization_id = $2 RETURNING url")
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Enables (clearing the failure streak) or disables by a user.
pub async fn set_enabled(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    enabled: bool,
) -> sqlx::Result<Option<Endpoint>> {
    sqlx::query_as(&format!(
        "UPDATE endpoints SET enabled = $3, \
           disabled_reason = CASE WHEN $3 THEN NULL ELSE 'disabled by a user' END, \
           failing_since = CASE WHEN $3 THEN NULL ELSE failing_since END \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(org)
    .bind(enabled)
    .fetch_optional(conn)
    .await
}
