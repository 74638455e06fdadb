//! `billing.*` events: subscriptions and usage thresholds (DESIGN.md §3, §5).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const BILLING_SUBSCRIPTION_CREATED: &str = "billing.subscription.created";
pub const BILLING_SUBSCRIPTION_UPDATED: &str = "billing.subscription.updated";
pub const BILLING_USAGE_THRESHOLD_REACHED: &str = "billing.usage.threshold_reached";

/// A subscription as it is after the change; never a Stripe secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BillingSubscription {
    pub organization_id: Uuid,
    pub subscription_id: Uuid,
    pub plan: String,
    /// `trialing`, `active`, `past_due`, `canceled` or `unpaid`.
    pub status: String,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub trial_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
    /// What changed (`plan`, `status`, `period`, `cancel_at_period_end`); empty on creation.
    #[serde(default)]
    pub changed: Vec<String>,
}

/// A metric reached 80% or 100% of its limit in a period (once each per period).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UsageThresholdReached {
    pub organization_id: Uuid,
    pub metric: String,
    pub percent: i64,
    pub used: i64,
    pub limit: i64,
    pub plan: String,
    pub period_start: DateTime<Utc>,
}

pub const BILLING_REFUND_REQUESTED: &str = "billing.refund.requested";
pub const BILLING_REFUND_APPROVED: &str = "billing.refund.approved";
pub const BILLING_REFUND_REJECTED: &str = "billing.refund.rejected";
pub const BILLING_REFUND_COMPLETED: &str = "billing.refund.completed";
pub const BILLING_BUDGET_THRESHOLD_REACHED: &str = "billing.budget.threshold_reached";

/// A refund as it is after the change (`billing.refund.*`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BillingRefund {
    pub organization_id: Uuid,
    pub refund_id: Uuid,
    pub amount_cents: i64,
    pub currency: String,
    pub reason: String,
    pub status: String,
    pub budget_id: Option<Uuid>,
    pub ticket_id: Option<Uuid>,
    pub customer_id: Option<String>,
    /// Who requested it (`requested`) or decided it (the others).
    pub actor_id: Option<Uuid>,
}

/// A budget's spending reached one of its alert thresholds this period (once each).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BudgetThresholdReached {
    pub organization_id: Uuid,
    pub budget_id: Uuid,
    pub name: String,
    pub percent: i32,
    pub spent_cents: i64,
    pub limit_cents: i64,
    pub period_start: DateTime<Utc>,
}
