//! How a subscription changes: an owner's plan change or cancellation, a period ending, a trial
//! ending. Each returns what changed (for `billing.subscription.updated`); empty is no change.

use chrono::{DateTime, Utc};

use crate::periods::{period_end, roll};
use crate::store::subscriptions::Subscription;

/// Statuses whose organizations keep reading but cannot write.
pub fn inactive(status: &str) -> bool {
    matches!(status, "canceled" | "unpaid")
}

/// An owner moves to `plan` (of `interval`) and/or sets `cancel_at_period_end`.
pub fn change(
    s: &mut Subscription,
    plan: Option<(&str, &str)>,
    cancel_at_period_end: Option<bool>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut changed = Vec::new();
    if let Some((name, interval)) = plan {
        if s.plan != name {
            s.plan = name.to_owned();
            changed.push("plan".to_owned());
        }
        // Choosing a plan again revives a canceled or unpaid subscription, from now.
        if inactive(&s.status) {
            s.status = "active".to_owned();
            s.canceled_at = None;
            s.current_period_start = now;
            s.current_period_end = period_end(now, interval);
            changed.extend(["status".to_owned(), "period".to_owned()]);
        }
    }
    if let Some(cancel) = cancel_at_period_end {
        if s.cancel_at_period_end != cancel && !inactive(&s.status) {
            s.cancel_at_period_end = cancel;
            changed.push("cancel_at_period_end".to_owned());
        }
    }
    changed
}

/// What time did to `s` by `now`: a trial that ended makes it `active`; a period that ended
/// starts the next one, or cancels it when it was to end then.
pub fn advance(s: &mut Subscription, interval: &str, now: DateTime<Utc>) -> Vec<String> {
    let mut changed = Vec::new();
    if s.status == "trialing" && s.trial_end.is_some_and(|t| t <= now) {
        s.status = "active".to_owned();
        changed.push("status".to_owned());
    }
    if s.current_period_end <= now {
        let (start, end) = roll(s.current_period_start, s.current_period_end, interval, now);
        if s.cancel_at_period_end && !inactive(&s.status) {
            s.status = "canceled".to_owned();
            s.canceled_at = Some(s.current_period_end);
            s.cancel_at_period_end = false;
            changed.extend(["status".to_owned(), "cancel_at_period_end".to_owned()]);
        }
        s.current_period_start = start;
        s.current_period_end = end;
        changed.push("period".to_owned());
    }
    changed
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use uuid::Uuid;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    pub(crate) fn sub() -> Subscription {
        Subscription {
            id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
            plan: "free".into(),
            status: "trialing".into(),
            current_period_start: at("2026-11-01T00:00:00Z"),
            current_period_end: at("2026-12-01T00:00:00Z"),
            trial_start: Some(at("2026-11-01T00:00:00Z")),
            trial_end: Some(at("2026-11-15T00:00:00Z")),
            cancel_at_period_end: false,
            canceled_at: None,
            stripe_customer_id: None,
            stripe_subscription_id: None,
            created_at: at("2026-11-01T00:00:00Z"),
            updated_at: at("2026-11-01T00:00:00Z"),
        }
    }

    #[test]
    fn trials_end_periods_roll_and_cancellations_take_effect_at_the_end() {
        let mut s = sub();
        assert_eq!(advance(&mut s, "month", at("2026-11-20T00:00:00Z")), ["status"]);
        assert_eq!(s.status, "active");
        assert!(advance(&mut s, "month", at("2026-11-21T00:00:00Z")).is_empty());
        assert_eq!(change(&mut s, None, Some(true), at("2026-11-22T00:00:00Z")), ["cancel_at_period_end"]);
        assert_eq!(s.status, "active");
        advance(&mut s, "month", at("2026-12-02T00:00:00Z"));
        assert_eq!((s.status.as_str(), s.canceled_at), ("canceled", Some(at("2026-12-01T00:00:00Z"))));
        assert_eq!(s.current_period_end, at("2027-01-01T00:00:00Z"));
        // Choosing a plan revives it from now.
        let changed = change(&mut s, Some(("pro", "month")), None, at("2026-12-03T00:00:00Z"));
        assert_eq!(changed, ["plan", "status", "period"]);
        assert_eq!((s.status.as_str(), s.current_period_end), ("active", at("2027-01-03T00:00:00Z")));
    }
}
