//! Budgets' rules: periods that roll over, what an approval may take, and the alerts it crosses.

use chrono::{DateTime, Months, TimeDelta, Utc};

pub const TYPES: [&str; 4] = ["refund", "compensation", "discount", "credit"];
pub const PERIODS: [&str; 5] = ["daily", "weekly", "monthly", "quarterly", "yearly"];
pub const REASONS: [&str; 8] = [
    "ai_bug",
    "service_downtime",
    "ux_issue",
    "billing_error",
    "duplicate_charge",
    "product_defect",
    "late_delivery",
    "other",
];

/// The start of the period after the one starting at `start`.
pub fn next_start(start: DateTime<Utc>, period: &str) -> DateTime<Utc> {
    let months = |n| start.checked_add_months(Months::new(n)).unwrap_or(start);
    match period {
        "daily" => start + TimeDelta::days(1),
        "weekly" => start + TimeDelta::days(7),
        "quarterly" => months(3),
        "yearly" => months(12),
        _ => months(1),
    }
}

/// The start of the period holding `now`, for a budget whose period started at `start`.
pub fn current_start(mut start: DateTime<Utc>, period: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    loop {
        let next = next_start(start, period);
        if next > now || next <= start {
            return start;
        }
        start = next;
    }
}

/// Why an approval cannot take `amount` from a budget.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// More than remains this period.
    OverBudget { remaining: i64 },
    /// More than this customer may still be refunded this period.
    OverCustomerLimit { remaining: i64 },
}

/// May `amount` be taken, `spent` of `limit` being spent and the customer having had
/// `customer_spent` of `customer_limit`?
pub fn admit(
    limit: i64,
    spent: i64,
    amount: i64,
    customer_limit: Option<i64>,
    customer_spent: i64,
) -> Result<(), Refusal> {
    let remaining = (limit - spent).max(0);
    if amount > remaining {
        return Err(Refusal::OverBudget { remaining });
    }
    if let Some(cl) = customer_limit {
        let left = (cl - customer_spent).max(0);
        if amount > left {
            return Err(Refusal::OverCustomerLimit { remaining: left });
        }
    }
    Ok(())
}

/// The alert percentages going from `before` to `after` spent of `limit` crossed.
pub fn crossed(thresholds: &[i32], limit: i64, before: i64, after: i64) -> Vec<i32> {
    let reached = |spent: i64, p: i32| spent.saturating_mul(100) >= i64::from(p).saturating_mul(limit);
    thresholds.iter().copied().filter(|p| !reached(before, *p) && reached(after, *p)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn periods_roll_and_approvals_stay_within() {
        assert_eq!(
            current_start(at("2026-11-01T00:00:00Z"), "weekly", at("2026-11-16T12:00:00Z")),
            at("2026-11-15T00:00:00Z")
        );
        assert_eq!(
            current_start(at("2026-10-01T00:00:00Z"), "quarterly", at("2026-12-02T00:00:00Z")),
            at("2026-10-01T00:00:00Z")
        );
        assert_eq!(
            current_start(at("2026-12-02T00:00:00Z"), "daily", at("2026-12-02T23:00:00Z")),
            at("2026-12-02T00:00:00Z")
        );
        assert_eq!(admit(1000, 900, 100, None, 0), Ok(()));
        assert_eq!(admit(1000, 950, 100, None, 0), Err(Refusal::OverBudget { remaining: 50 }));
        assert_eq!(admit(1000, 0, 100, Some(150), 100), Err(Refusal::OverCustomerLimit { remaining: 50 }));
        assert_eq!(crossed(&[50, 80, 100], 1000, 400, 850), [50, 80]);
        assert_eq!(crossed(&[80], 1000, 800, 900), Vec::<i32>::new());
    }
}
