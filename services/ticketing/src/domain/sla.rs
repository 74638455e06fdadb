//! SLA arithmetic that needs no database: business hours (a weekly schedule in an IANA time
//! zone), adding business time to an instant and measuring the business time between two.
//!
//! A policy without business hours counts wall-clock time. With business hours, only the time
//! inside the schedule's ranges counts, in the zone's local time: a range `09:00–17:00` is eight
//! hours on most days, and still the wall-clock span between those local times on the days the
//! clocks change (a range over the skipped hour is shorter, one over the repeated hour longer).
//! A local time that does not exist (skipped by a spring-forward) means the first instant after
//! the gap; an ambiguous one (repeated by a fall-back) starts a range at its first occurrence and
//! ends one at its last.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use platform::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Targets may be at most a year (in minutes).
pub const MAX_TARGET_MINUTES: i32 = 525_600;

/// How far ahead a due time is searched for; a schedule this sparse never reaches the target.
const MAX_DAYS: u64 = 366 * 30;

/// Business hours as clients send and read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BusinessHours {
    /// An IANA time zone, exactly as the tz database names it.
    #[schema(schema_with = schema::timezone, example = "Europe/Paris")]
    pub timezone: String,
    pub schedule: WeeklySchedule,
}

/// The open ranges of each weekday, local time, `["HH:MM", "HH:MM"]` with the start before the
/// end (`24:00` ends at midnight), in order and not overlapping. A day left out is closed; at
/// least one range in the week.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklySchedule {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = schema::day)]
    pub mon: Vec<[String; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = schema::day)]
    pub tue: Vec<[String; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = schema::day)]
    pub wed: Vec<[String; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = schema::day)]
    pub thu: Vec<[String; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = schema::day)]
    pub fri: Vec<[String; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = schema::day)]
    pub sat: Vec<[String; 2]>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(schema_with = schema::day)]
    pub sun: Vec<[String; 2]>,
}

impl WeeklySchedule {
    fn days(&self) -> [(&'static str, &Vec<[String; 2]>); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

/// A checked schedule: per weekday (Monday first) its ranges in minutes after local midnight.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: Tz,
    week: [Vec<(u32, u32)>; 7],
}

/// How a policy counts time.
#[derive(Debug, Clone, PartialEq)]
pub enum Clock {
    Wall,
    Business(Calendar),
}

fn minutes(raw: &str) -> Option<u32> {
    let (h, m) = raw.split_once(':')?;
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(1440),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

impl Calendar {
    /// Checks business hours; errors name `{field}.timezone` or `{field}.schedule.mon[0]`.
    pub fn parse(field: &str, hours: &BusinessHours) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let tz = Tz::from_str(&hours.timezone).ok();
        if tz.is_none() {
            errors.push(FieldError::new(format!("{field}.timezone"), "must be an IANA time zone such as Europe/Paris"));
        }
        let mut week: [Vec<(u32, u32)>; 7] = Default::default();
        for (i, (day, ranges)) in hours.schedule.days().into_iter().enumerate() {
            if ranges.len() > 48 {
                errors.push(FieldError::new(format!("{field}.schedule.{day}"), "at most 48 ranges a day"));
                continue;
            }
            let mut previous_end = 0;
            for (j, [start, end]) in ranges.iter().enumerate() {
                let name = format!("{field}.schedule.{day}[{j}]");
                match (minutes(start), minutes(end)) {
                    (Some(s), Some(e)) if s < e && (j == 0 || s >= previous_end) => {
                        week[i].push((s, e));
                        previous_end = e;
                    }
                    (Some(_), Some(_)) => errors.push(FieldError::new(
                        name,
                        "must start before it ends and after the previous range of the day ends",
                    )),
                    _ => errors.push(FieldError::new(name, "must be two times HH:MM (00:00 to 24:00)")),
                }
            }
        }
        if errors.is_empty() && week.iter().all(Vec::is_empty) {
            errors.push(FieldError::new(format!("{field}.schedule"), "must open on at least one day"));
        }
        match tz {
            Some(tz) if errors.is_empty() => Ok(Self { tz, week }),
            _ => Err(errors),
        }
    }

    /// The instant a local wall time names, as the module documentation resolves gaps and
    /// repeats (`end` picks the last occurrence of a repeated time).
    fn instant(&self, local: NaiveDateTime, end: bool) -> DateTime<Utc> {
        let mut probe = local;
        // Gaps are at most a few hours; step forward to the first time that exists.
        for _ in 0..=24 * 60 {
            let found = self.tz.from_local_datetime(&probe);
            let t = if end { found.latest() } else { found.earliest() };
            if let Some(t) = t {
                return t.with_timezone(&Utc);
            }
            probe += TimeDelta::minutes(1);
        }
        Utc.from_utc_datetime(&local)
    }

    /// The open intervals of local date `date`, in UTC, in order.
    fn intervals(&self, date: NaiveDate) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let weekday = date.weekday().num_days_from_monday() as usize;
        self.week[weekday].iter().filter_map(move |&(s, e)| {
            let at = |m: u32| date.and_time(NaiveTime::MIN) + TimeDelta::minutes(i64::from(m));
            let (start, end) = (self.instant(at(s), false), self.instant(at(e), true));
            (start < end).then_some((start, end))
        })
    }

    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.tz).date_naive()
    }
}

impl Clock {
    /// The instant `seconds` of counted time after `start`.
    pub fn add(&self, start: DateTime<Utc>, seconds: i64) -> DateTime<Utc> {
        let cal = match self {
            Clock::Wall => return start + TimeDelta::seconds(seconds.max(0)),
            Clock::Business(cal) => cal,
        };
        if seconds <= 0 {
            return start;
        }
        let mut left = TimeDelta::seconds(seconds);
        // The previous local day too: nothing of it reaches past `start`, but starting there
        // costs nothing and keeps the loop free of edge cases at midnight.
        let first = cal.local_date(start) - Days::new(1);
        for day in 0..MAX_DAYS {
            let date = first + Days::new(day);
            for (a, b) in cal.intervals(date) {
                let a = a.max(start);
                if a >= b {
                    continue;
                }
                let open = b - a;
                if left <= open {
                    return a + left;
                }
                left -= open;
            }
        }
        start + TimeDelta::days(MAX_DAYS as i64)
    }

    /// Counted seconds in `[from, to)`; 0 when `to` is not after `from`.
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let cal = match self {
            Clock::Wall => return (to - from).num_seconds(),
            Clock::Business(cal) => cal,
        };
        let (first, last) = (cal.local_date(from) - Days::new(1), cal.local_date(to));
        let mut total = TimeDelta::zero();
        let mut date = first;
        while date <= last {
            for (a, b) in cal.intervals(date) {
                let (a, b) = (a.max(from), b.min(to));
                if a < b {
                    total += b - a;
                }
            }
            date = date + Days::new(1);
        }
        total.num_seconds()
    }
}

/// Whether a ticket in `status` has its SLA clock running: open or in progress. It stops while
/// waiting on the customer, and while resolved or closed (a reopen resumes it).
pub fn running(status: crate::domain::ticket::Status) -> bool {
    use crate::domain::ticket::Status;
    matches!(status, Status::Open | Status::InProgress)
}

/// A due time is at risk within this many seconds of it: a quarter of the target, and never
/// less than an hour (the listing's `sla=at_risk` filter uses the same rule in SQL).
pub fn at_risk_window_seconds(target_minutes: i32) -> i64 {
    (i64::from(target_minutes) * 15).max(3600)
}

/// OpenAPI schemas of business hours, exactly as [`Calendar::parse`] checks them (save the
/// order of a day's ranges and the open week, which no schema states).
pub mod schema {
    use utoipa::openapi::schema::{Array, ArrayBuilder, Object, ObjectBuilder, SchemaType, Type};

    /// `HH:MM` from 00:00 to 23:59, or 24:00.
    pub const TIME_PATTERN: &str = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$";

    /// Every name of the tz database.
    pub fn timezone() -> Object {
        let names = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name());
        ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).enum_values(Some(names)).build()
    }

    /// A day's ranges: pairs of times.
    pub fn day() -> Array {
        let time = ObjectBuilder::new().schema_type(SchemaType::Type(Type::String)).pattern(Some(TIME_PATTERN));
        let range = ArrayBuilder::new().items(time).min_items(Some(2)).max_items(Some(2));
        ArrayBuilder::new().items(range).max_items(Some(48)).build()
    }
}

#[cfg(test)]
#[path = "sla_tests.rs"]
mod tests;
