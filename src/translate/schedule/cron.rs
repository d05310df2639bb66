//! AWS's six-field `cron(...)` (EventBridge and Application Auto Scaling share it; ecs-reference
//! §6.6): `Minutes Hours Day-of-month Month Day-of-week Year`, with `, - * /` everywhere, `?` in
//! one of the day fields, `L` and `W` in Day-of-month, `L` and `#` in Day-of-week (1 = Sunday),
//! names for months (JAN–DEC) and weekdays (SUN–SAT), and ranges that wrap (`FRI-MON`).
//!
//! The fields parse into sets; [`Cron::matches_day`] and the minute and hour sets say whether a
//! local date and time fire. The next instant is found in [`super`], in a time zone.

use jiff::civil::{Date, Weekday};

use super::error::ScheduleError;

/// Lowest and highest year AWS accepts.
pub const YEARS: (i16, i16) = (1970, 2199);

/// A parsed cron expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// Minutes 0–59 that fire (bit n).
    pub minutes: u64,
    /// Hours 0–23 that fire (bit n).
    pub hours: u32,
    /// Months 1–12 that fire (bit n).
    pub months: u16,
    /// The day of the month or of the week (the other is `?`).
    pub day: Day,
    /// Years that fire, from [`YEARS`]`.0` (bit n is year `YEARS.0 + n`); all when `*`.
    pub years: Vec<bool>,
}

/// The day field that is not `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Day {
    /// Day-of-month.
    OfMonth(DayOfMonth),
    /// Day-of-week.
    OfWeek(DayOfWeek),
}

/// A Day-of-month field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayOfMonth {
    /// Days 1–31 (bit n).
    pub days: u32,
    /// `L`: the last day of the month.
    pub last: bool,
    /// `LW`: the last weekday (Monday–Friday) of the month.
    pub last_weekday: bool,
    /// `nW`: the weekday nearest day n, within the month.
    pub nearest_weekday: Vec<u8>,
}

/// A Day-of-week field (1 = Sunday … 7 = Saturday).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DayOfWeek {
    /// Weekdays 1–7 (bit n).
    pub days: u8,
    /// `nL`: the last such weekday of the month.
    pub last: Vec<u8>,
    /// `n#k`: the k-th such weekday of the month.
    pub nth: Option<(u8, u8)>,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// One field: its text, and where it starts in the expression (0-based characters).
struct Field<'a> {
    text: &'a str,
    at: usize,
    name: &'static str,
    range: (u32, u32),
    names: &'static [&'static str],
}

impl Field<'_> {
    fn error(&self, offset: usize, message: impl Into<String>) -> ScheduleError {
        ScheduleError {
            position: self.at + offset + 1,
            message: format!("{}: {}", self.name, message.into()),
        }
    }

    /// A value of the field (a number or a name), at `offset` in the field.
    fn value(&self, text: &str, offset: usize) -> Result<u32, ScheduleError> {
        let upper = text.to_ascii_uppercase();
        let v = if let Some(i) = self.names.iter().position(|n| *n == upper) {
            u32::try_from(i).unwrap_or(0) + self.range.0
        } else {
            text.parse::<u32>().map_err(|_| {
                self.error(
                    offset,
                    format!(
                        "{text:?} is not a value (expected {}–{}{})",
                        self.range.0,
                        self.range.1,
                        if self.names.is_empty() {
                            String::new()
                        } else {
                            format!(" or {}–{}", self.names[0], self.names[self.names.len() - 1])
                        }
                    ),
                )
            })?
        };
        if v < self.range.0 || v > self.range.1 {
            return Err(self.error(
                offset,
                format!("{v} is out of range {}–{}", self.range.0, self.range.1),
            ));
        }
        Ok(v)
    }

    /// The list items of the field, each with its offset in the field.
    fn items(&self) -> Vec<(&str, usize)> {
        let mut offset = 0;
        self.text
            .split(',')
            .map(|item| {
                let at = offset;
                offset += item.chars().count() + 1;
                (item, at)
            })
            .collect()
    }

    /// The part `text` of the field, at `offset` in it, as a field of its own.
    fn part<'b>(&self, text: &'b str, offset: usize) -> Field<'b> {
        Field {
            text,
            at: self.at + offset,
            name: self.name,
            range: self.range,
            names: self.names,
        }
    }

    /// The values of the list items with `, - * /` (wrapping ranges allowed).
    fn values(&self) -> Result<Vec<u32>, ScheduleError> {
        let mut out = Vec::new();
        for (item, offset) in self.items() {
            out.extend(self.item(item, offset)?);
        }
        Ok(out)
    }

    fn item(&self, item: &str, offset: usize) -> Result<Vec<u32>, ScheduleError> {
        if item.is_empty() {
            return Err(self.error(offset, "empty list item"));
        }
        let (span, step) = match item.split_once('/') {
            Some((span, step)) => {
                let at = offset + span.chars().count() + 1;
                let n: u32 = step
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| self.error(at, format!("{step:?} is not a positive step")))?;
                (span, n)
            }
            None => (item, 1),
        };
        let (lo, hi) = if span == "*" {
            self.range
        } else if let Some((a, b)) = span.split_once('-') {
            let a_v = self.value(a, offset)?;
            let b_v = self.value(b, offset + a.chars().count() + 1)?;
            (a_v, b_v)
        } else {
            let v = self.value(span, offset)?;
            // `a/n` runs from a to the end of the range.
            (v, if item.contains('/') { self.range.1 } else { v })
        };
        let size = self.range.1 - self.range.0 + 1;
        // A range that wraps (FRI-MON) runs past the end back to the start.
        let length = if hi >= lo { hi - lo } else { hi + size - lo };
        Ok((0..=length)
            .step_by(usize::try_from(step).unwrap_or(usize::MAX))
            .map(|k| (lo - self.range.0 + k) % size + self.range.0)
            .collect())
    }
}

fn bits<T: From<u8> + std::ops::BitOr<Output = T> + std::ops::Shl<u32, Output = T>>(values: &[u32]) -> T {
    values.iter().fold(T::from(0), |acc, v| acc | (T::from(1) << *v))
}

/// Parses the six fields of `cron(...)`, `body` starting at character `at` of the expression.
///
/// # Errors
/// The first field that does not parse or breaks a rule, with its position.
pub fn parse(body: &str, at: usize) -> Result<Cron, ScheduleError> {
    let mut fields = Vec::new();
    let mut offset = 0;
    for part in body.split(' ') {
        if !part.is_empty() {
            fields.push((part, at + offset));
        }
        offset += part.chars().count() + 1;
    }
    if fields.len() != 6 {
        return Err(ScheduleError {
            position: at + 1,
            message: format!(
                "cron takes six fields (Minutes Hours Day-of-month Month Day-of-week Year), found {}",
                fields.len()
            ),
        });
    }
    let field = |i: usize, name, range, names| Field {
        text: fields[i].0,
        at: fields[i].1,
        name,
        range,
        names,
    };
    let minutes = field(0, "Minutes", (0, 59), &[]);
    let hours = field(1, "Hours", (0, 23), &[]);
    let dom = field(2, "Day-of-month", (1, 31), &[]);
    let months = field(3, "Month", (1, 12), &MONTHS);
    let dow = field(4, "Day-of-week", (1, 7), &WEEKDAYS);
    let years = field(5, "Year", (YEARS.0 as u32, YEARS.1 as u32), &[]);
    let day = match (dom.text == "?", dow.text == "?") {
        (true, true) => {
            return Err(dow.error(
                0,
                "one of Day-of-month and Day-of-week must be a value or *, the other ?",
            ));
        }
        (false, false) => {
            return Err(dow.error(
                0,
                "Day-of-month and Day-of-week cannot both be given: make one of them ? (cron(0 10 * * ? *))",
            ));
        }
        (false, true) => Day::OfMonth(day_of_month(&dom)?),
        (true, false) => Day::OfWeek(day_of_week(&dow)?),
    };
    let year_values = years.values()?;
    let mut year_set = vec![false; (YEARS.1 - YEARS.0 + 1) as usize];
    for y in year_values {
        year_set[(y - YEARS.0 as u32) as usize] = true;
    }
    Ok(Cron {
        minutes: bits(&minutes.values()?),
        hours: bits(&hours.values()?),
        months: bits::<u16>(&months.values()?),
        day,
        years: year_set,
    })
}

fn day_of_month(f: &Field<'_>) -> Result<DayOfMonth, ScheduleError> {
    let mut out = DayOfMonth::default();
    for (item, offset) in f.items() {
        let upper = item.to_ascii_uppercase();
        if upper == "L" {
            out.last = true;
        } else if upper == "LW" {
            out.last_weekday = true;
        } else if let Some(day) = upper.strip_suffix('W') {
            let v = f.value(day, offset)?;
            out.nearest_weekday.push(u8::try_from(v).unwrap_or(1));
        } else {
            let sub = f.part(item, offset);
            out.days |= bits::<u32>(&sub.values()?);
        }
    }
    Ok(out)
}

fn day_of_week(f: &Field<'_>) -> Result<DayOfWeek, ScheduleError> {
    let mut out = DayOfWeek::default();
    let items = f.items();
    if f.text.contains('#') && items.len() > 1 {
        return Err(f.error(0, "a # expression stands alone in its field"));
    }
    for (item, offset) in items {
        let upper = item.to_ascii_uppercase();
        if upper == "L" {
            // Quartz's `L` alone: the last day of the week, Saturday.
            out.days |= 1 << 7;
        } else if let Some((day, nth)) = upper.split_once('#') {
            let d = f.value(day, offset)?;
            let k: u8 = nth
                .parse()
                .ok()
                .filter(|k| (1..=5).contains(k))
                .ok_or_else(|| f.error(offset + day.len() + 1, format!("{nth:?}: # takes 1 to 5")))?;
            out.nth = Some((u8::try_from(d).unwrap_or(1), k));
        } else if let Some(day) = upper.strip_suffix('L') {
            let d = f.value(day, offset)?;
            out.last.push(u8::try_from(d).unwrap_or(1));
        } else {
            let sub = f.part(item, offset);
            out.days |= bits::<u8>(&sub.values()?);
        }
    }
    Ok(out)
}

/// AWS's weekday number (1 = Sunday … 7 = Saturday).
fn aws_weekday(d: Date) -> u8 {
    u8::try_from(d.weekday().to_sunday_one_offset()).unwrap_or(1)
}

fn is_weekday(d: Date) -> bool {
    !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The weekday (Monday–Friday) nearest `day` of `d`'s month, without leaving the month.
fn nearest_weekday(d: Date, day: u8) -> Option<Date> {
    let target = d
        .first_of_month()
        .checked_add(jiff::Span::new().days(i64::from(day) - 1))
        .ok()?;
    if target.month() != d.month() {
        return None;
    }
    let candidate = match target.weekday() {
        Weekday::Saturday if target.day() == 1 => target.checked_add(jiff::Span::new().days(2)).ok()?,
        Weekday::Saturday => target.checked_sub(jiff::Span::new().days(1)).ok()?,
        Weekday::Sunday if target == target.last_of_month() => {
            target.checked_sub(jiff::Span::new().days(2)).ok()?
        }
        Weekday::Sunday => target.checked_add(jiff::Span::new().days(1)).ok()?,
        _ => target,
    };
    Some(candidate)
}

impl Cron {
    /// Whether the schedule fires on local date `d` (its month, year and day fields).
    #[must_use]
    pub fn matches_day(&self, d: Date) -> bool {
        let year = i32::from(d.year()) - i32::from(YEARS.0);
        if year < 0 || !usize::try_from(year).is_ok_and(|y| self.years.get(y).copied().unwrap_or(false)) {
            return false;
        }
        if self.months & (1 << d.month()) == 0 {
            return false;
        }
        match &self.day {
            Day::OfMonth(m) => {
                m.days & (1 << d.day()) != 0
                    || (m.last && d == d.last_of_month())
                    || (m.last_weekday && is_weekday(d) && {
                        let mut last = d.last_of_month();
                        while !is_weekday(last) {
                            last = last.yesterday().unwrap_or(last);
                        }
                        d == last
                    })
                    || m.nearest_weekday
                        .iter()
                        .any(|day| nearest_weekday(d, *day) == Some(d))
            }
            Day::OfWeek(w) => {
                let wd = aws_weekday(d);
                w.days & (1 << wd) != 0
                    || (w.last.contains(&wd)
                        && d.checked_add(jiff::Span::new().days(7))
                            .is_ok_and(|n| n.month() != d.month()))
                    || w.nth
                        .is_some_and(|(day, k)| day == wd && (d.day() - 1) / 7 + 1 == k as i8)
            }
        }
    }

    /// The instants the schedule fires at on local date `d` in `tz` (a local time a DST gap
    /// skips at the same offset after the gap, a repeated one the first time), in local order:
    /// not necessarily ascending on the day of a gap.
    pub fn firings_on<'a>(
        &'a self,
        d: Date,
        tz: &'a jiff::tz::TimeZone,
    ) -> impl Iterator<Item = jiff::Timestamp> + 'a {
        self.hours()
            .flat_map(move |hour| self.minutes().map(move |minute| d.at(hour, minute, 0, 0)))
            .filter_map(|local| tz.to_timestamp(local).ok())
    }

    /// The minutes of an hour that fire, ascending.
    pub fn minutes(&self) -> impl Iterator<Item = i8> + '_ {
        (0..60).filter(|m| self.minutes & (1 << m) != 0).map(|m| m as i8)
    }

    /// The hours of a day that fire, ascending.
    pub fn hours(&self) -> impl Iterator<Item = i8> + '_ {
        (0..24).filter(|h| self.hours & (1 << h) != 0).map(|h| h as i8)
    }
}
