//! AWS schedule expressions (pure): `cron(...)` ([`cron`]), `rate(value unit)` and
//! `at(yyyy-mm-ddThh:mm:ss)`, as Application Auto Scaling's scheduled actions and EventBridge
//! take them (ecs-reference §5.3, §6.6), and the next instant each fires after a given one, in
//! an IANA time zone ([`jiff`] holds the time zone rules; no DST arithmetic is written here).
//!
//! Local times that a DST change skips fire at the same offset after the gap, and those it
//! repeats fire once, the first time (jiff's "compatible" disambiguation, as Joda-Time, which
//! AAS names for its time zones, resolves them). `rate` counts whole periods from an anchor
//! (the action's `startTime`, else when it was created), in absolute time.

pub mod cron;
pub mod error;

use jiff::{SignedDuration, Timestamp, civil, tz::TimeZone};

pub use cron::Cron;
pub use error::ScheduleError;

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// `cron(Minutes Hours Day-of-month Month Day-of-week Year)`.
    Cron(Box<Cron>),
    /// `rate(value unit)`: every period, from an anchor.
    Rate(SignedDuration),
    /// `at(yyyy-mm-ddThh:mm:ss)`: once, at that local time.
    At(civil::DateTime),
}

/// Parses `expression`.
///
/// # Errors
/// Where it breaks the dialect, with what is expected.
pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
    let error = |position: usize, message: String| ScheduleError { position, message };
    let Some((kind, rest)) = expression.split_once('(') else {
        return Err(error(
            1,
            "expected cron(...), rate(value unit) or at(yyyy-mm-ddThh:mm:ss)".to_owned(),
        ));
    };
    let at = kind.chars().count() + 1;
    let Some(body) = rest.strip_suffix(')') else {
        return Err(error(
            expression.chars().count(),
            "expected ) at the end".to_owned(),
        ));
    };
    match kind {
        "cron" => Ok(Schedule::Cron(Box::new(cron::parse(body, at)?))),
        "rate" => rate(body, at),
        "at" => civil::DateTime::strptime("%Y-%m-%dT%H:%M:%S", body)
            .map(Schedule::At)
            .map_err(|_| {
                error(
                    at + 1,
                    format!("{body:?} is not a date and time: write at(yyyy-mm-ddThh:mm:ss), e.g. at(2026-12-24T18:00:00)"),
                )
            }),
        other => Err(error(
            1,
            format!("{other:?}: expected cron(...), rate(value unit) or at(yyyy-mm-ddThh:mm:ss)"),
        )),
    }
}

fn rate(body: &str, at: usize) -> Result<Schedule, ScheduleError> {
    let error = |offset: usize, message: String| ScheduleError {
        position: at + offset + 1,
        message,
    };
    let mut parts = body.split(' ');
    let (Some(value), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(error(
            0,
            format!("{body:?}: write rate(value unit), e.g. rate(5 minutes)"),
        ));
    };
    let n: i64 = value
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| error(0, format!("{value:?} is not a positive whole number")))?;
    let unit_at = value.chars().count() + 1;
    let seconds = match unit {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3600,
        "day" | "days" => 86_400,
        other => {
            return Err(error(
                unit_at,
                format!("{other:?}: the unit is minute(s), hour(s) or day(s)"),
            ));
        }
    };
    let singular = !unit.ends_with('s');
    if singular != (n == 1) {
        return Err(error(
            unit_at,
            format!(
                "{unit:?} with {n}: AWS takes the singular for 1 and the plural otherwise (rate(1 {}), rate({n} {}s))",
                unit.trim_end_matches('s'),
                unit.trim_end_matches('s')
            ),
        ));
    }
    // (Found by fuzzing: `rate(197006679214017204 minutes)` overflowed.)
    let period = n.checked_mul(seconds).ok_or_else(|| {
        error(
            0,
            format!("{value:?} {unit} is too long a period: write a rate that fits in the calendar"),
        )
    })?;
    Ok(Schedule::Rate(SignedDuration::from_secs(period)))
}

/// Days searched for a cron's next firing before giving up: past the last year AWS accepts.
const SEARCH_DAYS: i64 = 366 * 240;

impl Schedule {
    /// The first instant strictly after `after` at which the schedule fires, read in `tz`, a
    /// `rate` counting from `anchor`; `None` when it never fires again.
    #[must_use]
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone, anchor: Timestamp) -> Option<Timestamp> {
        match self {
            Self::At(local) => tz.to_timestamp(*local).ok().filter(|t| *t > after),
            Self::Rate(period) => {
                if after < anchor {
                    return Some(anchor);
                }
                let elapsed = after.duration_since(anchor).as_secs();
                let step = period.as_secs();
                let periods = elapsed / step + 1;
                anchor
                    .checked_add(SignedDuration::from_secs(periods.checked_mul(step)?))
                    .ok()
            }
            Self::Cron(cron) => next_cron(cron, after, tz),
        }
    }
}

fn next_cron(cron: &Cron, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
    let start = after.to_zoned(tz.clone()).date();
    let mut day = start;
    for _ in 0..SEARCH_DAYS {
        if day.year() > cron::YEARS.1 {
            return None;
        }
        if cron.matches_day(day) {
            // The earliest of the day's firings after `after`: not the first in local order, as
            // a time a DST gap skips fires after the gap, possibly after later local times.
            let earliest = cron.firings_on(day, tz).filter(|t| *t > after).min();
            if earliest.is_some() {
                return earliest;
            }
        }
        day = day.tomorrow().ok()?;
    }
    None
}

/// The latest firing of `schedule` in `(after, until]`, read in `tz`, a `rate` counting from
/// `anchor`; `None` when it did not fire then. (A cron is searched day by day back from
/// `until`'s local date to `after`'s.)
#[must_use]
pub fn last_in(
    schedule: &Schedule,
    (after, until): (Timestamp, Timestamp),
    tz: &TimeZone,
    anchor: Timestamp,
) -> Option<Timestamp> {
    if until <= after {
        return None;
    }
    let t = match schedule {
        Schedule::At(local) => tz.to_timestamp(*local).ok().filter(|t| *t <= until)?,
        Schedule::Rate(period) => {
            if until < anchor {
                return None;
            }
            let periods = until.duration_since(anchor).as_secs() / period.as_secs();
            anchor
                .checked_add(SignedDuration::from_secs(periods.checked_mul(period.as_secs())?))
                .ok()?
        }
        Schedule::Cron(cron) => {
            let first = after.to_zoned(tz.clone()).date();
            let mut day = until.to_zoned(tz.clone()).date();
            loop {
                if cron.matches_day(day) {
                    let latest = cron
                        .firings_on(day, tz)
                        .filter(|t| *t <= until && *t > after)
                        .max();
                    if latest.is_some() {
                        break latest?;
                    }
                }
                if day <= first {
                    return None;
                }
                day = day.yesterday().ok()?;
            }
        }
    };
    (t > after).then_some(t)
}

/// The last instant before `start` (`None`: `after`), so that a search from it finds a firing
/// at `start` itself but none before.
fn from_start(after: Timestamp, start: Option<Timestamp>) -> Timestamp {
    match start {
        Some(s) if s > after => s.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(s),
        _ => after,
    }
}

/// The next firing of `schedule` after `after` within `[start, end]` (AAS's `startTime` and
/// `endTime`): a recurring schedule counts from `start` and does not fire after `end`.
#[must_use]
pub fn next_in_window(
    schedule: &Schedule,
    after: Timestamp,
    tz: &TimeZone,
    (start, end): (Option<Timestamp>, Option<Timestamp>),
    created: Timestamp,
) -> Option<Timestamp> {
    let next = schedule.next_after(from_start(after, start), tz, start.unwrap_or(created))?;
    end.is_none_or(|e| next <= e).then_some(next)
}

/// The latest firing of `schedule` in `(after, until]` within `[start, end]`, a recurring
/// schedule counting from `start`, else `created` (see [`next_in_window`]).
#[must_use]
pub fn last_in_window(
    schedule: &Schedule,
    (after, until): (Timestamp, Timestamp),
    tz: &TimeZone,
    (start, end): (Option<Timestamp>, Option<Timestamp>),
    created: Timestamp,
) -> Option<Timestamp> {
    let until = end.map_or(until, |e| e.min(until));
    last_in(
        schedule,
        (from_start(after, start), until),
        tz,
        start.unwrap_or(created),
    )
}

#[cfg(test)]
mod tests;
