//! Business-hours arithmetic: nights, weekends, two ranges a day, both DST changes, and the
//! two operations undoing each other.

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Europe::Paris;

use super::*;

const H: i64 = 3600;

fn at(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Paris.with_ymd_and_hms(y, m, d, h, mi, 0).single().expect("a local time that exists").with_timezone(&Utc)
}

fn range(a: &str, b: &str) -> [String; 2] {
    [a.to_owned(), b.to_owned()]
}

fn clock(days: &[(&str, &[(&str, &str)])]) -> Clock {
    let mut schedule = WeeklySchedule::default();
    for (day, ranges) in days {
        let ranges: Vec<[String; 2]> = ranges.iter().map(|(a, b)| range(a, b)).collect();
        match *day {
            "mon" => schedule.mon = ranges,
            "tue" => schedule.tue = ranges,
            "wed" => schedule.wed = ranges,
            "thu" => schedule.thu = ranges,
            "fri" => schedule.fri = ranges,
            "sat" => schedule.sat = ranges,
            "sun" => schedule.sun = ranges,
            other => panic!("{other}"),
        }
    }
    let hours = BusinessHours { timezone: "Europe/Paris".into(), schedule };
    Clock::Business(Calendar::parse("business_hours", &hours).expect("a valid schedule"))
}

fn office() -> Clock {
    let day: &[(&str, &str)] = &[("09:00", "17:00")];
    clock(&[("mon", day), ("tue", day), ("wed", day), ("thu", day), ("fri", day)])
}

#[test]
fn time_past_closing_continues_the_next_morning() {
    // Tuesday 16:00 + 2 h: one hour today, one from 09:00 on Wednesday.
    assert_eq!(office().add(at(2025, 1, 14, 16, 0), 2 * H), at(2025, 1, 15, 10, 0));
    // Exactly the hours left today ends at closing time.
    assert_eq!(office().add(at(2025, 1, 14, 16, 0), H), at(2025, 1, 14, 17, 0));
    // Before opening, the clock starts at opening.
    assert_eq!(office().add(at(2025, 1, 14, 7, 0), 1800), at(2025, 1, 14, 9, 30));
    assert_eq!(office().between(at(2025, 1, 14, 16, 0), at(2025, 1, 15, 10, 0)), 2 * H);
}

#[test]
fn weekends_do_not_count() {
    // Friday 16:30 + 1 h → Monday 09:30.
    assert_eq!(office().add(at(2025, 1, 17, 16, 30), H), at(2025, 1, 20, 9, 30));
    // Starting on a Saturday.
    assert_eq!(office().add(at(2025, 1, 18, 12, 0), 8 * H), at(2025, 1, 20, 17, 0));
    assert_eq!(office().between(at(2025, 1, 17, 17, 0), at(2025, 1, 20, 9, 0)), 0);
    // A whole week holds 40 hours.
    assert_eq!(office().between(at(2025, 1, 13, 0, 0), at(2025, 1, 20, 0, 0)), 40 * H);
}

#[test]
fn two_ranges_a_day_skip_the_lunch_break() {
    let day: &[(&str, &str)] = &[("09:00", "12:00"), ("13:00", "17:00")];
    let c = clock(&[("mon", day), ("tue", day), ("wed", day), ("thu", day), ("fri", day)]);
    assert_eq!(c.add(at(2025, 1, 13, 11, 0), 2 * H), at(2025, 1, 13, 14, 0));
    assert_eq!(c.add(at(2025, 1, 13, 12, 30), 1800), at(2025, 1, 13, 13, 30));
    // 7 hours a day: Monday 09:00 + 8 h → Tuesday 10:00.
    assert_eq!(c.add(at(2025, 1, 13, 9, 0), 8 * H), at(2025, 1, 14, 10, 0));
    assert_eq!(c.between(at(2025, 1, 13, 0, 0), at(2025, 1, 14, 0, 0)), 7 * H);
}

#[test]
fn spring_forward_shortens_a_range_over_the_skipped_hour() {
    // 2025-03-30: in Paris 02:00 becomes 03:00.
    let c = clock(&[("sun", &[("01:00", "04:00")])]);
    assert_eq!(c.between(at(2025, 3, 30, 0, 0), at(2025, 3, 31, 0, 0)), 2 * H);
    assert_eq!(c.add(at(2025, 3, 30, 0, 0), 2 * H), at(2025, 3, 30, 4, 0));
    // A range starting inside the gap starts when the gap ends.
    let gap = clock(&[("sun", &[("02:30", "05:00")])]);
    assert_eq!(gap.add(at(2025, 3, 30, 0, 0), 60), at(2025, 3, 30, 3, 1));
    // Office hours across the change: Friday 16:00 + 2 h → Monday 10:00 (summer time).
    assert_eq!(office().add(at(2025, 3, 28, 16, 0), 2 * H), at(2025, 3, 31, 10, 0));
    assert_eq!(at(2025, 3, 31, 10, 0).to_rfc3339(), "2025-03-31T08:00:00+00:00");
    // Around the clock, business time is wall time: the day has 23 hours.
    let always: &[(&str, &str)] = &[("00:00", "24:00")];
    let full = clock(&[
        ("mon", always),
        ("tue", always),
        ("wed", always),
        ("thu", always),
        ("fri", always),
        ("sat", always),
        ("sun", always),
    ]);
    assert_eq!(full.between(at(2025, 3, 30, 0, 0), at(2025, 3, 31, 0, 0)), 23 * H);
    assert_eq!(full.add(at(2025, 3, 29, 12, 0), 24 * H), at(2025, 3, 29, 12, 0) + chrono::TimeDelta::hours(24));
}

#[test]
fn fall_back_lengthens_a_range_over_the_repeated_hour() {
    // 2025-10-26: in Paris 03:00 becomes 02:00 again.
    let c = clock(&[("sun", &[("01:00", "04:00")])]);
    let day_start = Paris.with_ymd_and_hms(2025, 10, 26, 0, 0, 0).single().unwrap().with_timezone(&Utc);
    let next = Paris.with_ymd_and_hms(2025, 10, 27, 0, 0, 0).single().unwrap().with_timezone(&Utc);
    assert_eq!(c.between(day_start, next), 4 * H);
    assert_eq!(c.add(day_start, 4 * H).to_rfc3339(), "2025-10-26T03:00:00+00:00");
    assert_eq!(office().between(at(2025, 10, 24, 0, 0), at(2025, 10, 28, 0, 0)), 16 * H);
}

#[test]
fn adding_then_measuring_gives_back_the_duration() {
    let day: &[(&str, &str)] = &[("08:00", "12:30"), ("14:00", "18:15")];
    let c = clock(&[("mon", day), ("wed", day), ("thu", day), ("sat", &[("10:00", "11:00")])]);
    for start in [at(2025, 3, 27, 9, 17), at(2025, 3, 29, 23, 59), at(2025, 10, 25, 13, 0), at(2025, 1, 1, 0, 0)] {
        for seconds in [1, 59, 3600, 4 * H + 1800, 30 * H, 200 * H] {
            let due = c.add(start, seconds);
            assert_eq!(c.between(start, due), seconds, "from {start} by {seconds}s");
            assert!(due > start);
        }
    }
}

#[test]
fn wall_clock_is_plain_arithmetic() {
    let t = at(2025, 3, 29, 12, 0);
    assert_eq!(Clock::Wall.add(t, 90), t + chrono::TimeDelta::seconds(90));
    assert_eq!(Clock::Wall.between(t, t + chrono::TimeDelta::hours(30)), 30 * H);
    assert_eq!(Clock::Wall.between(t, t - chrono::TimeDelta::hours(1)), 0);
    assert_eq!(office().add(t, 0), t);
}

#[test]
fn invalid_schedules_name_each_field() {
    let mut schedule = WeeklySchedule {
        mon: vec![range("17:00", "09:00")],
        tue: vec![range("09:00", "12:00"), range("11:00", "13:00")],
        wed: vec![range("25:00", "26:00")],
        thu: vec![range("9:00", "10:00")],
        ..Default::default()
    };
    let hours = BusinessHours { timezone: "Mars/Olympus".into(), schedule: schedule.clone() };
    let errors = Calendar::parse("business_hours", &hours).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "business_hours.timezone",
            "business_hours.schedule.mon[0]",
            "business_hours.schedule.tue[1]",
            "business_hours.schedule.wed[0]",
            "business_hours.schedule.thu[0]",
        ]
    );
    schedule = WeeklySchedule::default();
    let closed = BusinessHours { timezone: "America/New_York".into(), schedule };
    let errors = Calendar::parse("business_hours", &closed).unwrap_err();
    assert_eq!(errors[0].field, "business_hours.schedule");
}

#[test]
fn at_risk_is_a_quarter_of_the_target_and_at_least_an_hour() {
    assert_eq!(at_risk_window_seconds(60), 3600);
    assert_eq!(at_risk_window_seconds(480), 7200);
}
