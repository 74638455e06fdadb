//! Budgets, refunds and the usage records of approvals (seed 001).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Budget {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub name: String,
    /// `refund`, `compensation`, `discount` or `credit`.
    pub budget_type: String,
    /// `daily`, `weekly`, `monthly`, `quarterly` or `yearly`.
    pub period: String,
    pub currency: String,
    pub limit_cents: i64,
    /// Spent in the current period.
    pub spent_cents: i64,
    /// `limit_cents - spent_cents`.
    pub remaining_cents: i64,
    pub period_start: DateTime<Utc>,
    pub alert_thresholds: Vec<i32>,
    pub refund_limit_per_customer_cents: Option<i64>,
    pub is_active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const BUDGET: &str = "id, organization_id, name, budget_type, period, currency, limit_cents, spent_cents, \
    limit_cents - spent_cents AS remaining_cents, period_start, alert_thresholds, refund_limit_per_customer_cents, \
    is_active, created_at, updated_at";

pub struct NewBudget<'a> {
    pub name: &'a str,
    pub budget_type: &'a str,
    pub period: &'a str,
    pub currency: &'a str,
    pub limit_cents: i64,
    pub period_start: DateTime<Utc>,
    pub alert_thresholds: &'a [i32],
    pub refund_limit_per_customer_cents: Option<i64>,
}

pub async fn insert_budget(conn: &mut PgConnection, org: Uuid, b: &NewBudget<'_>) -> sqlx::Result<Budget> {
    sqlx::query_as(&format!(
        "INSERT INTO budgets (id, organization_id, name, budget_type, period, currency, limit_cents, period_start, \
           alert_thresholds, refund_limit_per_customer_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         RETURNING {BUDGET}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(b.name)
    .bind(b.budget_type)
    .bind(b.period)
    .bind(b.currency)
    .bind(b.limit_cents)
    .bind(b.period_start)
    .bind(b.alert_thresholds)
    .bind(b.refund_limit_per_customer_cents)
    .fetch_one(conn)
    .await
}

pub async fn budgets(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Vec<Budget>> {
    sqlx::query_as(&format!(
        "SELECT {BUDGET} FROM budgets WHERE organization_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(org)
    .fetch_all(conn)
    .await
}

pub async fn budget(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Budget>> {
    sqlx::query_as(&format!("SELECT {BUDGET} FROM budgets WHERE organization_id = $1 AND id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The budget, locked for an approval in this transaction.
pub async fn lock_budget(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Budget>> {
    sqlx::query_as(&format!("SELECT {BUDGET} FROM budgets WHERE organization_id = $1 AND id = $2 FOR UPDATE"))
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The organization's only active refund budget, if it has exactly one.
pub async fn sole_refund_budget(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Option<Uuid>> {
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM budgets WHERE organization_id = $1 AND budget_type = 'refund' AND is_active LIMIT 2",
    )
    .bind(org)
    .fetch_all(conn)
    .await?;
    Ok(if ids.len() == 1 { ids.first().copied() } else { None })
}

/// Starts the budget's period at `start` with nothing spent.
pub async fn roll_budget(conn: &mut PgConnection, org: Uuid, id: Uuid, start: DateTime<Utc>) -> sqlx::Result<Budget> {
    sqlx::query_as(&format!(
        "UPDATE budgets SET period_start = $3, spent_cents = 0 WHERE organization_id = $1 AND id = $2 RETURNING {BUDGET}"
    ))
    .bind(org)
    .bind(id)
    .bind(start)
    .fetch_one(conn)
    .await
}

pub struct BudgetChanges<'a> {
    pub name: Option<&'a str>,
    pub limit_cents: Option<i64>,
    pub alert_thresholds: Option<&'a [i32]>,
    pub refund_limit_per_customer_cents: Option<Option<i64>>,
    pub is_active: Option<bool>,
}

pub async fn update_budget(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    c: &BudgetChanges<'_>,
) -> sqlx::Result<Option<Budget>> {
    sqlx::query_as(&format!(
        "UPDATE budgets SET name = COALESCE($3, name), limit_cents = COALESCE($4, limit_cents), \
           alert_thresholds = COALESCE($5, alert_thresholds), \
           refund_limit_per_customer_cents = CASE WHEN $6 THEN $7 ELSE refund_limit_per_customer_cents END, \
           is_active = COALESCE($8, is_active) \
         WHERE organization_id = $1 AND id = $2 RETURNING {BUDGET}"
    ))
    .bind(org)
    .bind(id)
    .bind(c.name)
    .bind(c.limit_cents)
    .bind(c.alert_thresholds)
    .bind(c.refund_limit_per_customer_cents.is_some())
    .bind(c.refund_limit_per_customer_cents.flatten())
    .bind(c.is_active)
    .fetch_optional(conn)
    .await
}

/// Takes `amount` from a locked budget; it after.
pub async fn spend(conn: &mut PgConnection, org: Uuid, id: Uuid, amount: i64) -> sqlx::Result<Budget> {
    sqlx::query_as(&format!(
        "UPDATE budgets SET spent_cents = spent_cents + $3 WHERE organization_id = $1 AND id = $2 RETURNING {BUDGET}"
    ))
    .bind(org)
    .bind(id)
    .bind(amount)
    .fetch_one(conn)
    .await
}

/// What `customer` was refunded from the budget this period.
pub async fn customer_spent(
    conn: &mut PgConnection,
    org: Uuid,
    budget: Uuid,
    period: DateTime<Utc>,
    customer: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT COALESCE(sum(amount_cents), 0)::bigint FROM budget_usage_records \
         WHERE organization_id = $1 AND budget_id = $2 AND period_start = $3 AND customer_id = $4",
    )
    .bind(org)
    .bind(budget)
    .bind(period)
    .bind(customer)
    .fetch_one(conn)
    .await
}

pub async fn record_usage(
    conn: &mut PgConnection,
    org: Uuid,
    budget: &Budget,
    refund: &Refund,
    approved_by: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO budget_usage_records (id, organization_id, budget_id, refund_id, customer_id, amount_cents, \
           period_start, approved_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(budget.id)
    .bind(refund.id)
    .bind(&refund.customer_id)
    .bind(refund.amount_cents)
    .bind(budget.period_start)
    .bind(approved_by)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records that `percent` of the budget was reached this period; false if it was already.
pub async fn alert_once(
    conn: &mut PgConnection,
    budget: Uuid,
    period: DateTime<Utc>,
    percent: i32,
) -> sqlx::Result<bool> {
    let n = sqlx::query(
        "INSERT INTO budget_alerts (budget_id, period_start, percent) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(budget)
    .bind(period)
    .bind(percent)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(n == 1)
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Refund {
    pub id: Uuid,
    pub organization_id: Uuid,
    /// The budget it was approved from.
    pub budget_id: Option<Uuid>,
    pub amount_cents: i64,
    pub currency: String,
    pub reason: String,
    pub note: Option<String>,
    pub ticket_id: Option<Uuid>,
    pub order_reference: Option<String>,
    pub customer_id: Option<String>,
    /// `pending`, `approved`, `rejected` or `completed`.
    pub status: String,
    pub requested_by: Option<Uuid>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const REFUND: &str =
    "id, organization_id, budget_id, amount_cents, currency, reason, note, ticket_id, order_reference, \
    customer_id, status, requested_by, decided_by, decided_at, decision_note, completed_at, created_at, updated_at";

pub struct NewRefund<'a> {
    pub amount_cents: i64,
    pub currency: &'a str,
    pub reason: &'a str,
    pub note: Option<&'a str>,
    pub ticket_id: Option<Uuid>,
    pub order_reference: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub budget_id: Option<Uuid>,
    pub requested_by: Option<Uuid>,
}

pub async fn insert_refund(conn: &mut PgConnection, org: Uuid, r: &NewRefund<'_>) -> sqlx::Result<Refund> {
    sqlx::query_as(&format!(
        "INSERT INTO refunds (id, organization_id, amount_cents, currency, reason, note, ticket_id, order_reference, \
           customer_id, budget_id, requested_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         RETURNING {REFUND}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(r.amount_cents)
    .bind(r.currency)
    .bind(r.reason)
    .bind(r.note)
    .bind(r.ticket_id)
    .bind(r.order_reference)
    .bind(r.customer_id)
    .bind(r.budget_id)
    .bind(r.requested_by)
    .fetch_one(conn)
    .await
}

pub async fn refund(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Refund>> {
    sqlx::query_as(&format!("SELECT {REFUND} FROM refunds WHERE organization_id = $1 AND id = $2"))
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The refund, locked for a decision (always before its budget: one lock order, no deadlock).
pub async fn lock_refund(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Option<Refund>> {
    sqlx::query_as(&format!("SELECT {REFUND} FROM refunds WHERE organization_id = $1 AND id = $2 FOR UPDATE"))
        .bind(org)
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn decide(
    conn: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    status: &str,
    budget: Option<Uuid>,
    by: Option<Uuid>,
    note: Option<&str>,
) -> sqlx::Result<Refund> {
    sqlx::query_as(&format!(
        "UPDATE refunds SET status = $3, budget_id = COALESCE($4, budget_id), decided_by = $5, decided_at = now(), \
           decision_note = $6 WHERE organization_id = $1 AND id = $2 RETURNING {REFUND}"
    ))
    .bind(org)
    .bind(id)
    .bind(status)
    .bind(budget)
    .bind(by)
    .bind(note)
    .fetch_one(conn)
    .await
}

pub async fn complete(conn: &mut PgConnection, org: Uuid, id: Uuid) -> sqlx::Result<Refund> {
    sqlx::query_as(&format!(
        "UPDATE refunds SET status = 'completed', completed_at = now() WHERE organization_id = $1 AND id = $2 \
         RETURNING {REFUND}"
    ))
    .bind(org)
    .bind(id)
    .fetch_one(conn)
    .await
}

/// What a refund list keeps (each `None`: any).
#[derive(Debug, Default)]
pub struct RefundFilter<'a> {
    pub status: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub ticket_id: Option<Uuid>,
    pub order_reference: Option<&'a str>,
}

pub async fn refunds(
    conn: &mut PgConnection,
    org: Uuid,
    f: &RefundFilter<'_>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<Refund>> {
    sqlx::query_as(&format!(
        "SELECT {REFUND} FROM refunds WHERE organization_id = $1 AND ($2::text IS NULL OR status = $2) \
           AND ($6::text IS NULL OR customer_id = $6) AND ($7::uuid IS NULL OR ticket_id = $7) \
           AND ($8::text IS NULL OR order_reference = $8) \
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(org)
    .bind(f.status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .bind(f.customer_id)
    .bind(f.ticket_id)
    .bind(f.order_reference)
    .fetch_all(conn)
    .await
}
