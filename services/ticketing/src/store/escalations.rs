//! Escalations: opened by hand, by a decision rule, or by the SLA scanner.

use chrono::{DateTime, Utc};
use platform::pagination::Cursor;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::escalation::{EscalationPriority, EscalationStatus, Origin, Reason};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Escalation {
    pub id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub reason: Reason,
    pub priority: EscalationPriority,
    pub status: EscalationStatus,
    pub origin: Origin,
    pub assignee_id: Option<Uuid>,
    pub summary: Option<String>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When it first got an owner.
    pub assigned_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// `assigned_at − created_at` in seconds: how long it waited for an owner; null while it
    /// has never had one.
    pub wait_seconds: Option<i64>,
}

const COLUMNS: &str = "id, ticket_id, conversation_id, customer_id, reason, priority, status, origin, assignee_id, \
    summary, created_by, created_at, assigned_at, resolved_at, updated_at, \
    floor(extract(epoch FROM assigned_at - created_at))::bigint AS wait_seconds";

/// An escalation to open. Ids in it must be the organization's (checked by the caller).
/// `reason`, `priority` and `origin` are the words of `domain::escalation` (a decision rule's
/// action carries them as text); one that is not becomes `rule` / `normal` / `rule`.
#[derive(Debug, Clone)]
pub struct NewEscalation {
    pub organization_id: Uuid,
    pub ticket_id: Option<Uuid>,
    pub conversation_id: Option<Uuid>,
    pub customer_id: Option<Uuid>,
    pub reason: String,
    pub priority: String,
    pub origin: String,
    /// Checked with identity (agent or above) by the caller; it starts `assigned` when set.
    pub assignee_id: Option<Uuid>,
    pub summary: Option<String>,
    pub created_by: Option<Uuid>,
}

/// Opens an escalation; its id. Emitting `ticket.escalated` and notifying the owner is the
/// caller's (see `crate::escalations::open`, which does all three).
pub async fn create(conn: &mut PgConnection, new: NewEscalation) -> anyhow::Result<Uuid> {
    Ok(insert(conn, new).await?.id)
}

/// Opens an escalation and returns it.
pub async fn insert(conn: &mut PgConnection, new: NewEscalation) -> sqlx::Result<Escalation> {
    let status = if new.assignee_id.is_some() { EscalationStatus::Assigned } else { EscalationStatus::Pending };
    let reason: Reason = new.reason.parse().unwrap_or(Reason::Rule);
    let priority: EscalationPriority = new.priority.parse().unwrap_or_default();
    let origin: Origin = new.origin.parse().unwrap_or(Origin::Rule);
    sqlx::query_as(&format!(
        "INSERT INTO escalations (id, organization_id, ticket_id, conversation_id, customer_id, reason, priority, \
           status, origin, assignee_id, summary, created_by, assigned_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, CASE WHEN $10::uuid IS NULL THEN NULL ELSE now() END) \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(new.organization_id)
    .bind(new.ticket_id)
    .bind(new.conversation_id)
    .bind(new.customer_id)
    .bind(reason)
    .bind(priority)
    .bind(status)
    .bind(origin)
    .bind(new.assignee_id)
    .bind(new.summary)
    .bind(new.created_by)
    .fetch_one(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Escalation>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM escalations WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

pub async fn lock(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Escalation>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM escalations WHERE id = $1 AND organization_id = $2 FOR UPDATE"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Writes status, assignee, priority and summary of `e` (read with [`lock`], then changed);
/// stamps `assigned_at` the first time it has an owner and `resolved_at` when it is resolved.
pub async fn update(conn: &mut PgConnection, org: Uuid, e: &Escalation) -> sqlx::Result<Escalation> {
    sqlx::query_as(&format!(
        "UPDATE escalations SET status = $3, assignee_id = $4, priority = $5, summary = $6, \
           assigned_at = CASE WHEN assigned_at IS NULL AND $4::uuid IS NOT NULL THEN now() ELSE assigned_at END, \
           resolved_at = CASE WHEN $3 = 'resolved' THEN COALESCE(resolved_at, now()) ELSE NULL END \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(e.id)
    .bind(org)
    .bind(e.status)
    .bind(e.assignee_id)
    .bind(e.priority)
    .bind(&e.summary)
    .fetch_one(conn)
    .await
}

/// Filters of the list; `None` matches all.
#[derive(Debug, Default)]
pub struct Filter {
    pub status: Option<EscalationStatus>,
    pub priority: Option<EscalationPriority>,
    pub origin: Option<Origin>,
    pub ticket_id: Option<Uuid>,
    pub assignee_id: Option<Uuid>,
}

/// A page, newest first: `limit + 1` rows (the extra says there is more).
pub async fn list(
    conn: &mut PgConnection,
    org: Uuid,
    f: &Filter,
    limit: i64,
    before: Option<Cursor>,
) -> sqlx::Result<Vec<Escalation>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM escalations WHERE organization_id = $1 \
           AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR priority = $3) \
           AND ($4::text IS NULL OR origin = $4) AND ($5::uuid IS NULL OR ticket_id = $5) \
           AND ($6::uuid IS NULL OR assignee_id = $6) \
           AND ($7::timestamptz IS NULL OR (created_at, id) < ($7, $8)) \
         ORDER BY created_at DESC, id DESC LIMIT $9"
    ))
    .bind(org)
    .bind(f.status)
    .bind(f.priority)
    .bind(f.origin)
    .bind(f.ticket_id)
    .bind(f.assignee_id)
    .bind(before.map(|c| c.time))
    .bind(before.map(|c| c.id))
    .bind(limit + 1)
    .fetch_all(conn)
    .await
}
