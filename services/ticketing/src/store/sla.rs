//! SLA policies, the SLA fields of tickets, and the scanner's claims of breached tickets.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::sla::BusinessHours;
use crate::domain::ticket::{Category, Priority, Ticket};

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SlaPolicy {
    pub id: Uuid,
    pub name: String,
    pub priority: Priority,
    /// Null: every category without a policy of its own.
    pub category: Option<Category>,
    pub first_response_minutes: i32,
    pub resolution_minutes: i32,
    /// Null: targets count wall-clock time.
    #[schema(value_type = Option<BusinessHours>)]
    pub business_hours: Option<Json<BusinessHours>>,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, priority, category, first_response_minutes, resolution_minutes, business_hours, \
    enabled, created_at, updated_at";

/// One policy per priority and category (null included) in an organization.
pub const TARGET_KEY: &str = "sla_policies_target_key";

/// A policy's fields; `None` keeps (or, when creating, must be given / defaults).
#[derive(Debug, Default, Clone)]
pub struct Fields {
    pub name: Option<String>,
    pub priority: Option<Priority>,
    pub category: Option<Option<Category>>,
    pub first_response_minutes: Option<i32>,
    pub resolution_minutes: Option<i32>,
    pub business_hours: Option<Option<BusinessHours>>,
    pub enabled: Option<bool>,
}

pub async fn insert(conn: &mut PgConnection, org: Uuid, f: Fields) -> sqlx::Result<SlaPolicy> {
    sqlx::query_as(&format!(
        "INSERT INTO sla_policies (id, organization_id, name, priority, category, first_response_minutes, \
           resolution_minutes, business_hours, enabled) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE($9, true)) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(f.name)
    .bind(f.priority)
    .bind(f.category.flatten())
    .bind(f.first_response_minutes)
    .bind(f.resolution_minutes)
    .bind(f.business_hours.flatten().map(Json))
    .bind(f.enabled)
    .fetch_one(conn)
    .await
}

/// Every policy of `org` (at most one per priority and category), urgent first.
pub async fn list(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Vec<SlaPolicy>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sla_policies WHERE organization_id = $1 \
         ORDER BY array_position(ARRAY['urgent', 'high', 'normal', 'low'], priority), category NULLS FIRST, id \
         LIMIT 1000"
    ))
    .bind(org)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<SlaPolicy>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM sla_policies WHERE id = $1 AND organization_id = $2"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

pub async fn lock(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<SlaPolicy>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM sla_policies WHERE id = $1 AND organization_id = $2 FOR UPDATE"))
        .bind(id)
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Writes every field of `p` (read with [`lock`], then changed).
pub async fn update(conn: &mut PgConnection, org: Uuid, p: &SlaPolicy) -> sqlx::Result<SlaPolicy> {
    sqlx::query_as(&format!(
        "UPDATE sla_policies SET name = $3, priority = $4, category = $5, first_response_minutes = $6, \
           resolution_minutes = $7, business_hours = $8, enabled = $9 \
         WHERE id = $1 AND organization_id = $2 RETURNING {COLUMNS}"
    ))
    .bind(p.id)
    .bind(org)
    .bind(&p.name)
    .bind(p.priority)
    .bind(p.category)
    .bind(p.first_response_minutes)
    .bind(p.resolution_minutes)
    .bind(&p.business_hours)
    .bind(p.enabled)
    .fetch_one(conn)
    .await
}

/// Whether there was such a policy; its tickets keep their due times, without a policy.
pub async fn delete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<bool> {
    // Its tickets lose the link (`ON DELETE SET NULL`).
    platform::cache::touch_all();
    let done = sqlx::query("DELETE FROM sla_policies WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The enabled policy for a ticket of `priority` and `category`: the category's own first,
/// else the priority's catch-all.
pub async fn matching(
    conn: &mut PgConnection,
    org: Uuid,
    priority: Priority,
    category: Category,
) -> sqlx::Result<Option<SlaPolicy>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM sla_policies WHERE organization_id = $1 AND enabled AND priority = $2 \
           AND (category = $3 OR category IS NULL) ORDER BY category NULLS LAST LIMIT 1"
    ))
    .bind(org)
    .bind(priority)
    .bind(category)
    .fetch_optional(conn)
    .await
}

/// A ticket's SLA fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSla {
    pub policy_id: Option<Uuid>,
    pub first_response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_seconds: i64,
}

/// The business seconds ticket `id` has spent paused so far.
pub async fn paused_seconds(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT sla_paused_seconds FROM tickets WHERE id = $1 AND organization_id = $2")
        .bind(id)
        .bind(org)
        .fetch_one(conn)
        .await
}

pub async fn set_ticket(conn: &mut PgConnection, org: Uuid, id: Uuid, s: &TicketSla) -> sqlx::Result<()> {
    platform::cache::touch(id);
    sqlx::query(
        "UPDATE tickets SET sla_policy_id = $3, first_response_due_at = $4, resolution_due_at = $5, \
           sla_paused_at = $6, sla_paused_seconds = $7 WHERE id = $1 AND organization_id = $2",
    )
    .bind(id)
    .bind(org)
    .bind(s.policy_id)
    .bind(s.first_response_due_at)
    .bind(s.resolution_due_at)
    .bind(s.paused_at)
    .bind(s.paused_seconds)
    .execute(conn)
    .await?;
    Ok(())
}

/// The two targets of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    FirstResponse,
    Resolution,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::FirstResponse => "first_response",
            Target::Resolution => "resolution",
        }
    }
}

/// Marks up to `limit` tickets, of every organization, whose `target` is past due as breached
/// now, and returns them. Rows another replica is claiming are skipped (`SKIP LOCKED`), and a
/// row it has claimed no longer matches once its claim commits: each breach is claimed once.
/// The conditions match the partial indexes `tickets_sla_first` / `tickets_sla_resolution`.
pub async fn claim_breaches(conn: &mut PgConnection, target: Target, limit: i64) -> sqlx::Result<Vec<Ticket>> {
    let (due, breached, extra) = match target {
        Target::FirstResponse => {
            ("first_response_due_at", "first_response_breached_at", "AND first_response_at IS NULL")
        }
        Target::Resolution => ("resolution_due_at", "resolution_breached_at", ""),
    };
    let columns = crate::store::tickets::COLUMNS;
    sqlx::query_as(&format!(
        "WITH due AS (SELECT id AS due_id FROM tickets \
           WHERE {breached} IS NULL {extra} AND sla_paused_at IS NULL AND status IN ('open', 'in_progress') \
             AND {due} <= now() \
           ORDER BY {due} LIMIT $1 FOR UPDATE SKIP LOCKED) \
         UPDATE tickets SET {breached} = now() FROM due WHERE id = due.due_id RETURNING {columns}"
    ))
    .bind(limit)
    .fetch_all(conn)
    .await
    .inspect(|claimed: &Vec<Ticket>| claimed.iter().for_each(|t| platform::cache::touch(t.id)))
}

/// Marks `target` of ticket `id` breached now unless it is already; the ticket if it was not.
pub async fn stamp(conn: &mut PgConnection, org: Uuid, id: Uuid, target: Target) -> sqlx::Result<Option<Ticket>> {
    platform::cache::touch(id);
    let breached = match target {
        Target::FirstResponse => "first_response_breached_at",
        Target::Resolution => "resolution_breached_at",
    };
    let columns = crate::store::tickets::COLUMNS;
    sqlx::query_as(&format!(
        "UPDATE tickets SET {breached} = now() WHERE id = $1 AND organization_id = $2 AND {breached} IS NULL \
         RETURNING {columns}"
    ))
    .bind(id)
    .bind(org)
    .fetch_optional(conn)
    .await
}
