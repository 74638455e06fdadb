//! Time: usage is counted per calendar month (UTC); subscriptions run for their plan's
//! interval from when they started, and roll over by themselves.

use chrono::{DateTime, Datelike, Months, TimeZone, Utc};

/// The start of the calendar month (UTC) that `t` is in: the usage period.
pub fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0).single().unwrap_or(t)
}

/// The start of the month after the one `t` is in.
pub fn next_month(t: DateTime<Utc>) -> DateTime<Utc> {
    month_start(t).checked_add_months(Months::new(1)).unwrap_or(t)
}

/// The end of a subscription period that starts at `start`, for `interval` (`month`, `year`).
pub fn period_end(start: DateTime<Utc>, interval: &str) -> DateTime<Utc> {
    let months = if interval == "year" { 12 } else { 1 };
    start.checked_add_months(Months::new(months)).unwrap_or(start)
}

/// The period containing `now` of a subscription whose period `(start, end)` ended: the
/// periods after it, back to back, until one holds `now`.
pub fn roll(
    mut start: DateTime<Utc>,
    mut end: DateTime<Utc>,
    interval: &str,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    while end <= now {
        start = end;
        end = period_end(start, interval);
    }
    (start, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn months_and_rollovers() {
        assert_eq!(month_start(at("2026-12-02T19:00:00Z")), at("2026-12-01T00:00:00Z"));
        assert_eq!(next_month(at("2026-12-31T23:59:59Z")), at("2027-01-01T00:00:00Z"));
        // A period that started on the 31st ends on the last day of a shorter month.
        assert_eq!(period_end(at("2026-01-31T10:00:00Z"), "month"), at("2026-02-28T10:00:00Z"));
        assert_eq!(period_end(at("2026-01-31T10:00:00Z"), "year"), at("2027-01-31T10:00:00Z"));
        let (s, e) = roll(at("2026-01-15T00:00:00Z"), at("2026-02-15T00:00:00Z"), "month", at("2026-04-20T00:00:00Z"));
        assert_eq!((s, e), (at("2026-04-15T00:00:00Z"), at("2026-05-15T00:00:00Z")));
    }
}
