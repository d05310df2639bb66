//! Fuzzes the AWS schedule expression parser (`cron(...)`, `rate(...)`, `at(...)`): any text parses
//! or fails with an error inside the text (or just past its end), never panics; and for what
//! parses, the next firing after an instant, in a time zone with DST, is strictly later, and the
//! one after it later still.
//! Dictionary: `schedule.dict`.
#![no_main]

use ecs_bridge::translate::schedule::parse;
use jiff::{Timestamp, tz::TimeZone};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(schedule) => {
            let tz = TimeZone::get("America/New_York").expect("zone");
            let anchor: Timestamp = "2026-03-08T06:30:00Z".parse().expect("instant");
            let after: Timestamp = "2026-03-08T06:59:00Z".parse().expect("instant");
            if let Some(next) = schedule.next_after(after, &tz, anchor) {
                assert!(next > after, "{text:?}: {next} after {after}");
                if let Some(again) = schedule.next_after(next, &tz, anchor) {
                    assert!(again > next, "{text:?}: {again} after {next}");
                }
            }
        }
        Err(e) => {
            assert!(
                e.position >= 1 && e.position <= text.chars().count() + 1,
                "{text:?}: {e:?}"
            );
        }
    }
});
