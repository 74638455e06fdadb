//! The activity log (seed 000): one row per event, by the event's id.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::meter::Activity;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Entry {
    /// The event's id.
    pub id: Uuid,
    pub organization_id: Uuid,
    /// Who did it, when the event says (`null` for the system and for API keys).
    pub actor_id: Option<Uuid>,
    /// The event type, e.g. `ticket.created`.
    pub action: String,
    /// e.g. `ticket`, `ticket.comment`, `inbox.message`.
    pub resource_type: String,
    pub resource_id: Option<String>,
    /// The event's data without what people wrote.
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

pub async fn record(conn: &mut PgConnection, id: Uuid, org: Uuid, at: DateTime<Utc>, a: &Activity) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO activity_logs (id, organization_id, actor_id, action, resource_type, resource_id, metadata, \
           created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(org)
    .bind(a.actor_id)
    .bind(&a.action)
    .bind(&a.resource_type)
    .bind(&a.resource_id)
    .bind(&a.metadata)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes rows `(id, organization, time, activity)` in one statement; ids already logged are
/// skipped.
pub async fn record_all(conn: &mut PgConnection, rows: &[(Uuid, Uuid, DateTime<Utc>, Activity)]) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let orgs: Vec<Uuid> = rows.iter().map(|r| r.1).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.2).collect();
    let actors: Vec<Option<Uuid>> = rows.iter().map(|r| r.3.actor_id).collect();
    let actions: Vec<&str> = rows.iter().map(|r| r.3.action.as_str()).collect();
    let types: Vec<&str> = rows.iter().map(|r| r.3.resource_type.as_str()).collect();
    let resources: Vec<Option<&str>> = rows.iter().map(|r| r.3.resource_id.as_deref()).collect();
    let metadata: Vec<&serde_json::Value> = rows.iter().map(|r| &r.3.metadata).collect();
    sqlx::query(
        "INSERT INTO activity_logs (id, organization_id, created_at, actor_id, action, resource_type, resource_id, \
           metadata) \
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::uuid[], $5::text[], $6::text[], \
           $7::text[], $8::jsonb[]) \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(ids)
    .bind(orgs)
    .bind(times)
    .bind(actors)
    .bind(actions)
    .bind(types)
    .bind(resources)
    .bind(metadata)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct Filter {
    pub actor: Option<Uuid>,
    /// An event type, or a prefix ending in `.*` (`ticket.*`).
    pub action: Option<String>,
    pub resource: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    f: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Entry>> {
    let (exact, prefix) = match f.action.as_deref() {
        Some(a) if a.ends_with(".*") => (None, Some(format!("{}.", &a[..a.len() - 2]))),
        Some(a) => (Some(a.to_owned()), None),
        None => (None, None),
    };
    sqlx::query_as(
        "SELECT id, organization_id, actor_id, action, resource_type, resource_id, metadata, created_at \
         FROM activity_logs WHERE organization_id = $1 \
           AND ($2::uuid IS NULL OR actor_id = $2) \
           AND ($3::text IS NULL OR action = $3) \
           AND ($4::text IS NULL OR starts_with(action, $4)) \
           AND ($5::text IS NULL OR resource_type = $5 OR resource_id = $5) \
           AND ($6::timestamptz IS NULL OR created_at >= $6) \
           AND ($7::timestamptz IS NULL OR created_at < $7) \
           AND ($8::timestamptz IS NULL OR (created_at, id) < ($8, $9)) \
         ORDER BY created_at DESC, id DESC LIMIT $10",
    )
    .bind(org)
    .bind(f.actor)
    .bind(exact)
    .bind(prefix)
    .bind(&f.resource)
    .bind(f.from)
    .bind(f.to)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(conn)
    .await
}
