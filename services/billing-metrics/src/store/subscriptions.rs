//! One subscription per organization (seed 000).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Subscription {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub plan: String,
    /// `trialing`, `active`, `past_due`, `canceled` or `unpaid`.
    pub status: String,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub trial_start: Option<DateTime<Utc>>,
    pub trial_end: Option<DateTime<Utc>>,
    /// The subscription ends when the current period does.
    pub cancel_at_period_end: bool,
    pub canceled_at: Option<DateTime<Utc>>,
    pub stripe_customer_id: Option<String>,
    pub stripe_subscription_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, organization_id, plan, status, current_period_start, current_period_end, trial_start, \
    trial_end, cancel_at_period_end, canceled_at, stripe_customer_id, stripe_subscription_id, created_at, updated_at";

/// Starts `org` on `plan` unless it has a subscription already; the new one.
pub async fn start(
    conn: &mut PgConnection,
    org: Uuid,
    plan: &str,
    status: &str,
    period: (DateTime<Utc>, DateTime<Utc>),
    trial: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> sqlx::Result<Option<Subscription>> {
    sqlx::query_as(&format!(
        "INSERT INTO subscriptions (id, organization_id, plan, status, current_period_start, current_period_end, \
           trial_start, trial_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (organization_id) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(org)
    .bind(plan)
    .bind(status)
    .bind(period.0)
    .bind(period.1)
    .bind(trial.map(|t| t.0))
    .bind(trial.map(|t| t.1))
    .fetch_optional(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Option<Subscription>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM subscriptions WHERE organization_id = $1"))
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// The organization whose subscription carries Stripe subscription `id`.
pub async fn stripe_owner(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT organization_id FROM subscriptions WHERE stripe_subscription_id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The plan of each of `orgs` that has a subscription.
pub async fn plans_of(conn: &mut PgConnection, orgs: &[Uuid]) -> sqlx::Result<std::collections::HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT organization_id, plan FROM subscriptions WHERE organization_id = ANY($1)")
            .bind(orgs)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

/// The subscription, locked for a change in this transaction.
pub async fn lock(conn: &mut PgConnection, org: Uuid) -> sqlx::Result<Option<Subscription>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM subscriptions WHERE organization_id = $1 FOR UPDATE"))
        .bind(org)
        .fetch_optional(conn)
        .await
}

/// Writes back what may change of a locked subscription.
pub async fn save(conn: &mut PgConnection, s: &Subscription) -> sqlx::Result<Subscription> {
    sqlx::query_as(&format!(
        "UPDATE subscriptions SET plan = $3, status = $4, current_period_start = $5, current_period_end = $6, \
           trial_end = $7, cancel_at_period_end = $8, canceled_at = $9, stripe_customer_id = $10, \
           stripe_subscription_id = $11 \
         WHERE organization_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(s.organization_id)
    .bind(s.id)
    .bind(&s.plan)
    .bind(&s.status)
    .bind(s.current_period_start)
    .bind(s.current_period_end)
    .bind(s.trial_end)
    .bind(s.cancel_at_period_end)
    .bind(s.canceled_at)
    .bind(&s.stripe_customer_id)
    .bind(&s.stripe_subscription_id)
    .fetch_one(conn)
    .await
}

/// Subscriptions whose period (or trial) ended, locked; other replicas skip them.
pub async fn due(conn: &mut PgConnection, now: DateTime<Utc>, limit: i64) -> sqlx::Result<Vec<Subscription>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE current_period_end <= $1 \
           OR (status = 'trialing' AND trial_end <= $1) \
         ORDER BY current_period_end LIMIT $2 FOR UPDATE SKIP LOCKED"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The organization of a Stripe subscription or customer, locked.
pub async fn lock_by_stripe(
    conn: &mut PgConnection,
    subscription: Option<&str>,
    customer: Option<&str>,
) -> sqlx::Result<Option<Subscription>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM subscriptions WHERE ($1::text IS NOT NULL AND stripe_subscription_id = $1) \
           OR ($2::text IS NOT NULL AND stripe_customer_id = $2) \
         ORDER BY (stripe_subscription_id = $1) DESC NULLS LAST LIMIT 1 FOR UPDATE"
    ))
    .bind(subscription)
    .bind(customer)
    .fetch_optional(conn)
    .await
}

/// Records Stripe event `id` as applied; false when it was already.
pub async fn stripe_event_once(
    conn: &mut PgConnection,
    id: &str,
    event_type: &str,
    org: Option<Uuid>,
) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "INSERT INTO stripe_events (id, event_type, organization_id) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(event_type)
    .bind(org)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
