//! The AWS schedule dialect: the documented examples, the special characters, the errors with
//! their positions, time zones across DST, and a law: the next firing is the first minute after
//! the given instant that the expression matches (checked against a minute-by-minute scan).

use jiff::{Timestamp, civil::date, tz::TimeZone};
use proptest::prelude::*;

use super::*;

fn utc(s: &str) -> Timestamp {
    s.parse().expect("a timestamp")
}

fn next(expr: &str, after: &str, tz: &str) -> Option<String> {
    let tz = TimeZone::get(tz).expect("a time zone");
    parse(expr)
        .expect("parses")
        .next_after(utc(after), &tz, utc(after))
        .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M %a").to_string())
}

#[test]
fn the_documented_examples() {
    // Daily at 10:00; weekdays at 18:00; 08:00 on the 1st; every 5 minutes 08:00–17:55 weekdays.
    assert_eq!(
        next("cron(0 10 * * ? *)", "2026-12-06T10:00:00Z", "UTC").as_deref(),
        Some("2026-12-07 10:00 Mon")
    );
    assert_eq!(
        next("cron(0 18 ? * MON-FRI *)", "2026-12-04T18:00:00Z", "UTC").as_deref(),
        Some("2026-12-07 18:00 Mon"),
        "Friday's has passed: Monday's"
    );
    assert_eq!(
        next("cron(0 8 1 * ? *)", "2026-12-06T00:00:00Z", "UTC").as_deref(),
        Some("2027-01-01 08:00 Fri")
    );
    assert_eq!(
        next("cron(0/5 8-17 ? * MON-FRI *)", "2026-12-07T17:55:00Z", "UTC").as_deref(),
        Some("2026-12-08 08:00 Tue")
    );
    assert_eq!(
        next("cron(0/5 8-17 ? * MON-FRI *)", "2026-12-07T09:01:00Z", "UTC").as_deref(),
        Some("2026-12-07 09:05 Mon")
    );
}

#[test]
fn last_nearest_weekday_and_nth() {
    // L: last day of the month; LW: last weekday; 15W: weekday nearest the 15th (a Sunday in
    // Nov 2026: Monday the 16th); 1W on a Saturday 1st stays in the month (Monday the 3rd).
    assert_eq!(
        next("cron(0 0 L * ? *)", "2027-02-01T00:00:00Z", "UTC").as_deref(),
        Some("2027-02-28 00:00 Sun")
    );
    assert_eq!(
        next("cron(0 0 LW * ? *)", "2027-02-01T00:00:00Z", "UTC").as_deref(),
        Some("2027-02-26 00:00 Fri")
    );
    assert_eq!(
        next("cron(0 0 15W * ? *)", "2026-11-01T00:00:00Z", "UTC").as_deref(),
        Some("2026-11-16 00:00 Mon")
    );
    assert_eq!(
        next("cron(0 0 1W * ? *)", "2026-07-31T00:00:00Z", "UTC").as_deref(),
        Some("2026-08-03 00:00 Mon")
    );
    // 3#2: the second Tuesday (1 = Sunday); 6L: the last Friday.
    assert_eq!(
        next("cron(0 9 ? * 3#2 *)", "2026-12-01T00:00:00Z", "UTC").as_deref(),
        Some("2026-12-08 09:00 Tue")
    );
    assert_eq!(
        next("cron(0 9 ? * 6L *)", "2026-12-01T00:00:00Z", "UTC").as_deref(),
        Some("2026-12-25 09:00 Fri")
    );
    // A range that wraps, and names in any case.
    assert_eq!(
        next("cron(0 9 ? * fri-mon *)", "2026-12-08T00:00:00Z", "UTC").as_deref(),
        Some("2026-12-11 09:00 Fri")
    );
    // Years bound the schedule.
    assert_eq!(
        next("cron(0 0 1 1 ? 2027-2028)", "2028-06-01T00:00:00Z", "UTC"),
        None
    );
}

#[test]
fn time_zones_follow_their_rules_across_dst() {
    // 09:00 in New York is 14:00Z in winter and 13:00Z in summer.
    let tz = TimeZone::get("America/New_York").expect("tz");
    let s = parse("cron(0 9 * * ? *)").expect("parses");
    let winter = s.next_after(utc("2026-03-07T15:00:00Z"), &tz, utc("2026-01-01T00:00:00Z"));
    assert_eq!(
        winter,
        Some(utc("2026-03-08T13:00:00Z")),
        "DST began at 02:00 that day"
    );
    // 02:30 does not exist on 2026-03-08 in New York: it fires after the gap, at 03:30 EDT.
    let gap = parse("cron(30 2 * * ? *)").expect("parses");
    assert_eq!(
        gap.next_after(utc("2026-03-08T00:00:00Z"), &tz, utc("2026-01-01T00:00:00Z")),
        Some(utc("2026-03-08T07:30:00Z"))
    );
    // 01:30 happens twice on 2026-11-01: it fires once, the first time.
    let fold = parse("cron(30 1 * * ? *)").expect("parses");
    let first = fold.next_after(utc("2026-11-01T04:00:00Z"), &tz, utc("2026-01-01T00:00:00Z"));
    assert_eq!(first, Some(utc("2026-11-01T05:30:00Z")));
    let after_first = fold.next_after(utc("2026-11-01T05:30:00Z"), &tz, utc("2026-01-01T00:00:00Z"));
    assert_eq!(
        after_first,
        Some(utc("2026-11-02T06:30:00Z")),
        "not again at 06:30Z the same night"
    );
}

#[test]
fn a_time_shifted_past_a_gap_does_not_come_before_an_earlier_firing() {
    // Lord Howe Island moves its clocks 30 minutes, 02:00 → 02:30, on 2026-10-04: 02:10 does
    // not exist and fires at 02:40, after 02:30, which does exist and fires first.
    let tz = TimeZone::get("Australia/Lord_Howe").expect("tz");
    let s = parse("cron(10,30 2 * * ? *)").expect("parses");
    let after = utc("2026-10-03T14:00:00Z");
    let first = s.next_after(after, &tz, after).expect("fires");
    assert_eq!(
        first.to_zoned(tz.clone()).strftime("%H:%M %z").to_string(),
        "02:30 +1100"
    );
    let second = s.next_after(first, &tz, after).expect("fires");
    assert_eq!(
        second.to_zoned(tz.clone()).strftime("%H:%M %z").to_string(),
        "02:40 +1100"
    );
}

#[test]
fn rate_counts_periods_from_its_anchor_and_at_fires_once() {
    let tz = TimeZone::UTC;
    let anchor = utc("2026-12-06T10:07:00Z");
    let every = parse("rate(15 minutes)").expect("parses");
    assert_eq!(
        every.next_after(utc("2026-12-06T10:30:00Z"), &tz, anchor),
        Some(utc("2026-12-06T10:37:00Z"))
    );
    assert_eq!(
        every.next_after(utc("2026-12-06T10:37:00Z"), &tz, anchor),
        Some(utc("2026-12-06T10:52:00Z"))
    );
    assert_eq!(
        every.next_after(utc("2026-12-06T09:00:00Z"), &tz, anchor),
        Some(anchor)
    );
    assert_eq!(
        parse("rate(1 day)").expect("parses"),
        Schedule::Rate(SignedDuration::from_hours(24))
    );
    let once = parse("at(2026-12-24T18:00:00)").expect("parses");
    let tokyo = TimeZone::get("Asia/Tokyo").expect("tz");
    assert_eq!(
        once.next_after(utc("2026-12-06T00:00:00Z"), &tokyo, anchor),
        Some(utc("2026-12-24T09:00:00Z"))
    );
    assert_eq!(once.next_after(utc("2026-12-24T09:00:00Z"), &tokyo, anchor), None);
}

#[test]
fn a_window_bounds_recurring_schedules() {
    let s = parse("cron(0 * * * ? *)").expect("parses");
    let window = (
        Some(utc("2026-12-06T12:00:00Z")),
        Some(utc("2026-12-06T14:00:00Z")),
    );
    let created = utc("2026-12-01T00:00:00Z");
    let at = |after: &str| next_in_window(&s, utc(after), &TimeZone::UTC, window, created);
    assert_eq!(
        at("2026-12-06T08:30:00Z"),
        Some(utc("2026-12-06T12:00:00Z")),
        "the start itself fires"
    );
    assert_eq!(at("2026-12-06T13:00:00Z"), Some(utc("2026-12-06T14:00:00Z")));
    assert_eq!(at("2026-12-06T14:00:00Z"), None, "nothing after the end");
}

#[test]
fn errors_name_the_field_and_its_position() {
    let cases = [
        ("cron(0 10 * * *)", 6, "cron takes six fields"),
        (
            "cron(0 10 * * * *)",
            15,
            "Day-of-week: Day-of-month and Day-of-week cannot both be given",
        ),
        (
            "cron(0 10 ? * ? *)",
            15,
            "Day-of-week: one of Day-of-month and Day-of-week",
        ),
        ("cron(61 10 * * ? *)", 6, "Minutes: 61 is out of range 0–59"),
        (
            "cron(0 10 * JAN-FOO ? *)",
            17,
            "Month: \"FOO\" is not a value (expected 1–12 or JAN–DEC)",
        ),
        ("cron(0/0 10 * * ? *)", 8, "Minutes: \"0\" is not a positive step"),
        (
            "cron(0 10 ? * 2#1,3 *)",
            15,
            "Day-of-week: a # expression stands alone",
        ),
        (
            "cron(0 10 * * ? 1969)",
            17,
            "Year: 1969 is out of range 1970–2199",
        ),
        (
            "rate(5 minute)",
            8,
            "\"minute\" with 5: AWS takes the singular for 1 and the plural otherwise",
        ),
        ("rate(0 minutes)", 6, "\"0\" is not a positive whole number"),
        (
            "rate(197006679214017204 minutes)",
            6,
            "\"197006679214017204\" minutes is too long a period",
        ),
        (
            "rate(2 weeks)",
            8,
            "\"weeks\": the unit is minute(s), hour(s) or day(s)",
        ),
        (
            "at(2026-12-24 18:00)",
            4,
            "\"2026-12-24 18:00\" is not a date and time",
        ),
        ("every(5 minutes)", 1, "\"every\": expected cron(...)"),
        ("cron(0 10 * * ? *", 17, "expected ) at the end"),
    ];
    for (expr, position, message) in cases {
        let err = parse(expr).expect_err(expr);
        assert_eq!(err.position, position, "{expr}: {err}");
        assert!(err.message.starts_with(message), "{expr}: {err}");
    }
}

/// The first firing after `after`, by brute force: every local minute from the start of the
/// local day of `after`, for `limit` minutes, that the cron matches, as the instant the zone
/// gives it (a skipped time after its gap, a repeated one the first time); the earliest after
/// `after`. The definition the search must agree with.
fn scan(cron: &Cron, after: Timestamp, tz: &TimeZone, limit: i64) -> Option<Timestamp> {
    let mut local = after.to_zoned(tz.clone()).date().at(0, 0, 0, 0);
    let mut best: Option<Timestamp> = None;
    let mut since_found = 0;
    for _ in 0..limit {
        if cron.matches_day(local.date())
            && cron.hours().any(|h| h == local.hour())
            && cron.minutes().any(|m| m == local.minute())
            && let Ok(t) = tz.to_timestamp(local)
            && t > after
        {
            best = Some(best.map_or(t, |b| b.min(t)));
        }
        local = local.checked_add(jiff::Span::new().minutes(1)).expect("in range");
        // Three local hours past a firing (more than any DST shift): nothing earlier follows.
        if best.is_some() {
            since_found += 1;
            if since_found > 180 {
                break;
            }
        }
    }
    best
}

fn field(min: u32, max: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        (min..=max).prop_map(|v| v.to_string()),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{a}-{b}")),
        (min..=max, 1..=max).prop_map(|(a, s)| format!("{a}/{s}")),
        (min..=max, min..=max).prop_map(|(a, b)| format!("{a},{b}")),
    ]
}

#[test]
fn the_last_firing_in_a_span() {
    let tz = TimeZone::get("Europe/Paris").expect("tz");
    let s = parse("cron(0 9,18 ? * MON-FRI *)").expect("parses");
    let anchor = utc("2026-01-01T00:00:00Z");
    // Sunday 2026-12-06 12:00Z: the last was Friday 18:00 Paris (17:00Z).
    let span = (utc("2026-11-01T00:00:00Z"), utc("2026-12-06T12:00:00Z"));
    assert_eq!(last_in(&s, span, &tz, anchor), Some(utc("2026-12-04T17:00:00Z")));
    assert_eq!(
        last_in(&s, (utc("2026-12-04T17:00:00Z"), span.1), &tz, anchor),
        None,
        "the span excludes its start"
    );
    let every = parse("rate(1 hour)").expect("parses");
    assert_eq!(
        last_in(
            &every,
            (anchor, utc("2026-12-06T12:34:00Z")),
            &TimeZone::UTC,
            utc("2026-12-06T10:07:00Z")
        ),
        Some(utc("2026-12-06T12:07:00Z"))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// The last firing up to an instant is the one whose next firing lies after that instant.
    #[test]
    fn last_and_next_agree(
        minute in 0u32..60, hour in 0u32..24, dom in 1u32..=28,
        until in 1_780_000_000i64..1_800_000_000,
    ) {
        let s = parse(&format!("cron({minute} {hour} {dom},L * ? *)")).expect("parses");
        let tz = TimeZone::get("America/New_York").expect("tz");
        let until = Timestamp::from_second(until).expect("in range");
        let after = until - SignedDuration::from_hours(24 * 70);
        let last = last_in(&s, (after, until), &tz, after).expect("fires within 70 days");
        prop_assert!(last <= until);
        prop_assert_eq!(s.next_after(last, &tz, after).map(|n| n > until), Some(true));
    }

    /// The next firing is exactly the first matching minute after the instant (in UTC and in a
    /// zone with DST), within the scanned window.
    #[test]
    fn next_is_the_first_matching_minute(
        minutes in field(0, 59),
        hours in field(0, 23),
        day in prop_oneof![
            (field(1, 31), Just("?".to_owned())),
            (Just("?".to_owned()), field(1, 7)),
            (Just("L".to_owned()), Just("?".to_owned())),
            (Just("?".to_owned()), (1u32..=7, 1u32..=5).prop_map(|(d, k)| format!("{d}#{k}"))),
        ],
        month in field(1, 12),
        after in 1_780_000_000i64..1_800_000_000,
        zone in prop_oneof![Just("UTC"), Just("America/New_York"), Just("Australia/Lord_Howe")],
    ) {
        let expr = format!("cron({minutes} {hours} {} {month} {} *)", day.0, day.1);
        let Ok(Schedule::Cron(cron)) = parse(&expr) else {
            return Err(TestCaseError::fail(format!("{expr} does not parse")));
        };
        let tz = TimeZone::get(zone).expect("tz");
        let after = Timestamp::from_second(after).expect("in range");
        // Within 62 days (a scan of every minute): beyond, only check the search's answer matches.
        let limit = 63 * 24 * 60;
        let scanned = scan(&cron, after, &tz, limit);
        let found = Schedule::Cron(cron.clone()).next_after(after, &tz, after);
        match scanned {
            Some(t) => prop_assert_eq!(found, Some(t), "{} after {} in {}", expr, after, zone),
            None => {
                if let Some(f) = found {
                    prop_assert!(f > after && f.duration_since(after).as_secs() > (limit - 24 * 60 - 120) * 60,
                        "{} after {}: found {} but the scan found none", expr, after, f);
                    let local = f.to_zoned(tz.clone()).datetime();
                    prop_assert!(cron.matches_day(local.date()));
                }
            }
        }
    }
}

#[test]
fn a_date_helper_agrees_with_aws_weekday_numbers() {
    // 2026-12-06 is a Sunday: AWS's 1.
    let s = parse("cron(0 0 ? * 1 *)").expect("parses");
    let Schedule::Cron(c) = s else { panic!("cron") };
    assert!(c.matches_day(date(2026, 12, 6)));
    assert!(!c.matches_day(date(2026, 12, 7)));
}
