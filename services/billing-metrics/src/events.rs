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
