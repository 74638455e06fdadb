//! The `billing.*` events and the `notify.send` command, written to the outbox in the caller's
//! transaction.

use chrono::{DateTime, Utc};
use platform::bus::{CloudEvent, NOTIFY_SEND};
use proto::events as ev;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::store::subscriptions::Subscription;

pub const SOURCE: &str = "switchboard/billing-metrics";

/// `billing.subscription.created` (`changed` empty) or `billing.subscription.updated`.
pub async fn subscription(conn: &mut PgConnection, s: &Subscription, changed: Vec<String>) -> anyhow::Result<()> {
    let event_type =
        if changed.is_empty() { ev::BILLING_SUBSCRIPTION_CREATED } else { ev::BILLING_SUBSCRIPTION_UPDATED };
    let data = ev::BillingSubscription {
        organization_id: s.organization_id,
        subscription_id: s.id,
        plan: s.plan.clone(),
        status: s.status.clone(),
        current_period_start: s.current_period_start,
        current_period_end: s.current_period_end,
        trial_end: s.trial_end,
        cancel_at_period_end: s.cancel_at_period_end,
        changed,
    };
    let event = CloudEvent::new(SOURCE, event_type, Some(s.organization_id), Some(s.id.to_string()), data);
    platform::outbox::emit(conn, &event).await?;
    Ok(())
}

/// `billing.usage.threshold_reached`, and a notification to the organization's owners and
/// admins.
#[allow(clippy::too_many_arguments)]
pub async fn threshold(
    conn: &mut PgConnection,
    org: Uuid,
    metric: &str,
    percent: i64,
    used: i64,
    limit: i64,
    plan: &str,
    period_start: DateTime<Utc>,
    recipients: Vec<Uuid>,
) -> anyhow::Result<()> {
    let data = ev::UsageThresholdReached {
        organization_id: org,
        metric: metric.to_owned(),
        percent,
        used,
        limit,
        plan: plan.to_owned(),
        period_start,
    };
    let subject = format!("{org}:{metric}");
    let event = CloudEvent::new(SOURCE, ev::BILLING_USAGE_THRESHOLD_REACHED, Some(org), Some(subject.clone()), data);
    platform::outbox::emit(conn, &event).await?;
    if recipients.is_empty() {
        return Ok(());
    }
    let what = metric.replace('_', " ");
    let command = ev::NotifySend {
        organization_id: org,
        recipients,
        title: if percent >= 100 {
            format!("Your {plan} plan's {what} limit is reached")
        } else {
            format!("{percent}% of your {plan} plan's {what} is used")
        },
        body: format!("{used} of {limit} {what} are used. Upgrade the plan to raise the limit."),
        link: Some("/settings/billing".to_owned()),
        reason: ev::BILLING_USAGE_THRESHOLD_REACHED.to_owned(),
    };
    let envelope = CloudEvent::new(SOURCE, ev::NOTIFY_SEND, Some(org), Some(subject), command);
    platform::outbox::enqueue(conn, NOTIFY_SEND, &envelope).await?;
    Ok(())
}

/// `billing.refund.<status>` of `r`, by `actor`.
pub async fn refund(
    conn: &mut PgConnection,
    event_type: &str,
    r: &crate::store::refunds::Refund,
    actor: Option<Uuid>,
) -> anyhow::Result<()> {
    let data = ev::BillingRefund {
        organization_id: r.organization_id,
        refund_id: r.id,
        amount_cents: r.amount_cents,
        currency: r.currency.clone(),
        reason: r.reason.clone(),
        status: r.status.clone(),
        budget_id: r.budget_id,
        ticket_id: r.ticket_id,
        customer_id: r.customer_id.clone(),
        actor_id: actor,
    };
    let event = CloudEvent::new(SOURCE, event_type, Some(r.organization_id), Some(r.id.to_string()), data);
    platform::outbox::emit(conn, &event).await?;
    Ok(())
}

/// `billing.budget.threshold_reached`.
pub async fn budget_threshold(
    conn: &mut PgConnection,
    b: &crate::store::refunds::Budget,
    percent: i32,
) -> anyhow::Result<()> {
    let data = ev::BudgetThresholdReached {
        organization_id: b.organization_id,
        budget_id: b.id,
        name: b.name.clone(),
        percent,
        spent_cents: b.spent_cents,
        limit_cents: b.limit_cents,
        period_start: b.period_start,
    };
    let event = CloudEvent::new(
        SOURCE,
        ev::BILLING_BUDGET_THRESHOLD_REACHED,
        Some(b.organization_id),
        Some(b.id.to_string()),
        data,
    );
    platform::outbox::emit(conn, &event).await?;
    Ok(())
}
