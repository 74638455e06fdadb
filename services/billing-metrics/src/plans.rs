//! The plan catalog's rules: what a plan gives each metric, what a quota check comes to, and
//! when usage crosses an alert threshold.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Metrics counted per calendar month (UTC).
pub const COUNTERS: [&str; 3] = ["feedback_posts", "tickets", "messages"];
/// Metrics that are how many there are now.
pub const GAUGES: [&str; 4] = ["seats", "connections", "webhook_endpoints", "api_keys"];
/// Percentages of a limit that alert, once per period each.
pub const THRESHOLDS: [i64; 2] = [80, 100];

pub fn is_metric(name: &str) -> bool {
    COUNTERS.contains(&name) || GAUGES.contains(&name)
}

pub fn is_gauge(name: &str) -> bool {
    GAUGES.contains(&name)
}

/// A plan's limit of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Limit {
    /// `-1` is unlimited.
    pub limit: i64,
    /// Hard limits refuse past the limit; soft limits allow and alert.
    pub hard: bool,
}

impl Limit {
    pub fn unlimited(&self) -> bool {
        self.limit < 0
    }
}

/// A plan of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    /// `free`, `starter`, `pro`, `business`, `enterprise`, or an operator's own.
    pub name: String,
    pub display_name: String,
    /// The price per interval, in the currency's smallest unit.
    pub price_cents: i64,
    pub currency: String,
    /// `month` or `year`.
    pub billing_interval: String,
    /// Per metric (`seats`, `feedback_posts`, `tickets`, `messages`, `connections`,
    /// `webhook_endpoints`, `api_keys`): its limit and mode. A metric left out is unlimited.
    pub limits: BTreeMap<String, Limit>,
    /// Numeric entitlements (`history_days`, `sla_policies`); `-1` is unlimited.
    pub numbers: BTreeMap<String, i64>,
    /// Yes-or-no entitlements (`api_access`, `custom_ticket_prefix`).
    pub flags: BTreeMap<String, bool>,
    /// Order on a pricing page.
    pub position: i32,
    /// Whether organizations may choose it (a retired plan keeps its subscribers).
    pub available: bool,
}

impl Plan {
    pub fn limit(&self, metric: &str) -> Limit {
        self.limits.get(metric).copied().unwrap_or(Limit { limit: -1, hard: false })
    }
}

/// What a quota check answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub allowed: bool,
    pub used: i64,
    pub limit: i64,
}

/// May `amount` more of `metric` be used, `used` being in use? Hard limits refuse what would go
/// past them; soft limits and unlimited metrics allow. A yes-or-no entitlement asked as a metric
/// (`custom_ticket_prefix`) is allowed when the plan has it; a numeric one (`sla_policies`) is
/// a limit on `used`.
pub fn check(plan: &Plan, metric: &str, used: i64, amount: i64) -> Answer {
    if let Some(&yes) = plan.flags.get(metric) {
        return Answer { allowed: yes, used: 0, limit: i64::from(yes) };
    }
    if let Some(&n) = plan.numbers.get(metric) {
        return Answer { allowed: n < 0 || used.saturating_add(amount) <= n, used, limit: n };
    }
    let l = plan.limit(metric);
    let allowed = l.unlimited() || !l.hard || used.saturating_add(amount) <= l.limit;
    Answer { allowed, used, limit: l.limit }
}

/// The thresholds (80, 100) that going from `before` to `after` crossed under `limit`.
pub fn crossed(limit: i64, before: i64, after: i64) -> Vec<i64> {
    if limit <= 0 {
        return Vec::new();
    }
    THRESHOLDS
        .iter()
        .copied()
        .filter(|p| {
            // used * 100 >= p * limit, in integers.
            let reached = |used: i64| used.saturating_mul(100) >= p.saturating_mul(limit);
            !reached(before) && reached(after)
        })
        .collect()
}

/// `used` as a percentage of `limit` (`None` when unlimited).
pub fn percent(used: i64, limit: i64) -> Option<f64> {
    (limit >= 0).then(|| if limit == 0 { 100.0 } else { (used as f64) * 100.0 / (limit as f64) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            name: "t".into(),
            display_name: "T".into(),
            price_cents: 0,
            currency: "usd".into(),
            billing_interval: "month".into(),
            limits: BTreeMap::from([
                ("tickets".into(), Limit { limit: 10, hard: true }),
                ("messages".into(), Limit { limit: 10, hard: false }),
            ]),
            numbers: BTreeMap::from([("sla_policies".into(), 2)]),
            flags: BTreeMap::from([("custom_ticket_prefix".into(), false)]),
            position: 0,
            available: true,
        }
    }

    #[test]
    fn hard_limits_refuse_past_the_limit_and_soft_ones_allow() {
        let p = plan();
        assert!(check(&p, "tickets", 9, 1).allowed);
        assert!(!check(&p, "tickets", 10, 1).allowed);
        assert!(!check(&p, "tickets", 5, 6).allowed);
        assert!(check(&p, "messages", 50, 1).allowed);
        assert_eq!(check(&p, "seats", 1000, 1), Answer { allowed: true, used: 1000, limit: -1 });
        assert!(!check(&p, "custom_ticket_prefix", 0, 1).allowed);
        assert!(check(&p, "sla_policies", 1, 1).allowed);
        assert!(!check(&p, "sla_policies", 2, 1).allowed);
    }

    #[test]
    fn each_threshold_is_crossed_once() {
        assert_eq!(crossed(10, 7, 8), [80]);
        assert_eq!(crossed(10, 8, 9), Vec::<i64>::new());
        assert_eq!(crossed(10, 9, 10), [100]);
        assert_eq!(crossed(10, 0, 12), [80, 100]);
        assert_eq!(crossed(-1, 0, 100), Vec::<i64>::new());
        // 80% of 3 is 2.4: the third reaches both, the second neither.
        assert_eq!(crossed(3, 2, 3), [80, 100]);
        assert_eq!(crossed(3, 1, 2), Vec::<i64>::new());
    }
}
