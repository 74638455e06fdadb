//! Field-level history: who changed which field of a ticket from what to what.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// One change of one field.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub ticket_id: Uuid,
    /// The user who made it; `null` for the system (rules, routing, the inbox).
    pub actor_id: Option<Uuid>,
    /// `agent`, `customer` or `system`.
    pub actor_kind: String,
    pub field: String,
    /// The value before the change (any JSON: a field's value, or an object of several).
    #[schema(value_type = Option<Value>)]
    pub before: Option<Value>,
    /// The value after the change (any JSON).
    #[schema(value_type = Option<Value>)]
    pub after: Option<Value>,
    /// `created`, `updated`, `status`, `assigned`, `merged`, `commented`, `rule`, `sla`, `csat` or `time`.
    pub kind: String,
    pub created_at: DateTime<Utc>,
}

/// A change to record.
pub struct Change<'a> {
    pub field: &'a str,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub kind: &'a str,
}

/// Records `changes` of ticket `ticket` by `actor` (`actor_kind`), in one statement.
pub async fn record(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    actor: Option<Uuid>,
    actor_kind: &str,
    changes: &[Change<'_>],
) -> sqlx::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let fields: Vec<&str> = changes.iter().map(|c| c.field).collect();
    let befores: Vec<Option<Value>> = changes.iter().map(|c| c.before.clone()).collect();
    let afters: Vec<Option<Value>> = changes.iter().map(|c| c.after.clone()).collect();
    let kinds: Vec<&str> = changes.iter().map(|c| c.kind).collect();
    sqlx::query(
        "INSERT INTO ticket_history (organization_id, ticket_id, actor_id, actor_kind, field, before, after, kind) \
         SELECT $1, $2, $3, $4, f, b, a, k FROM unnest($5::text[], $6::jsonb[], $7::jsonb[], $8::text[]) AS u(f, b, a, k)",
    )
    .bind(org)
    .bind(ticket)
    .bind(actor)
    .bind(actor_kind)
    .bind(&fields)
    .bind(&befores)
    .bind(&afters)
    .bind(&kinds)
    .execute(conn)
    .await?;
    Ok(())
}

/// One page of a ticket's history, oldest first, after entry `after`. Customers (`internal`
/// false) do not see the entries of internal notes.
pub async fn page(
    conn: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    internal: bool,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as(
        "SELECT id, ticket_id, actor_id, actor_kind, field, before, after, kind, created_at FROM ticket_history \
         WHERE organization_id = $1 AND ticket_id = $2 AND id > $3 \
           AND ($4 OR NOT COALESCE((after->>'is_internal')::boolean, false)) \
         ORDER BY id LIMIT $5",
    )
    .bind(org)
    .bind(ticket)
    .bind(after)
    .bind(internal)
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}
