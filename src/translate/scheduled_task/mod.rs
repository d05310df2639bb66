//! An EventBridge scheduled rule with ECS targets → how it fires and what each firing runs (pure:
//! no client, no clock; ecs-reference §6.5, §6.6).
//!
//! - **What a firing runs** ([`run_task`]): each ECS target's `EcsParameters` is a RunTask
//!   request — the same fields, PascalCase — with the target's `Input`, a TaskOverride as JSON,
//!   as its `overrides`; `TaskDefinitionArn` is its `taskDefinition`, `TaskCount` its `count`.
//! - **How it fires** ([`firing`]): a Kubernetes CronJob where Kubernetes cron says the schedule
//!   exactly ([`kubernetes_cron`]: the five fields without `L`, `W`, `#` or a restricted year,
//!   with `?` as `*` and weekdays from 0; `rate` that divides an hour or a day — on the clock,
//!   where EventBridge counts from the rule's creation: the same period; no time zone, a rate
//!   being a period), a cron in the rule's time zone (`timeZone`); otherwise the operator fires
//!   it at each instant of the shared parser ([`crate::translate::schedule`]), as for `at()`,
//!   years, `L`, `W`, `#`, rates that do not divide an hour or a day, and Scheduler's
//!   `StartDate`/`EndDate`.
//! - **The rule read whole** ([`rule::rule`]), as the controller and `render` both read it: the above,
//!   Scheduler's bounds ([`bounds`]) and the fields with no equivalent here.
//! - A rule with an `EventPattern` and no `ScheduleExpression` reacts to events, which a cluster
//!   does not have: refused, naming the field.

pub mod firings;
pub mod rule;

use jiff::{Timestamp, tz::TimeZone};
use serde_json::Value;

use super::schedule::{self, Cron, Schedule, cron::Day};
use crate::api::{
    ScheduledTaskSpec,
    ecs::{EbTarget, RunTask, TaskOverride},
};

/// Why a scheduled rule cannot run, naming the field (relative to `spec`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec.{field}: {message}")]
pub struct ScheduledTaskError {
    /// The field, e.g. `Targets[0].Input`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn refused(field: impl Into<String>, message: impl Into<String>) -> ScheduledTaskError {
    ScheduledTaskError {
        field: field.into(),
        message: message.into(),
    }
}

/// How a rule fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firing {
    /// A CronJob with this five-field `schedule`, in `time_zone` (UTC when `None`).
    CronJob {
        /// The Kubernetes schedule.
        schedule: String,
        /// The IANA time zone.
        time_zone: Option<String>,
    },
    /// The operator fires it at each instant, because Kubernetes cron cannot say it (why).
    Operator {
        /// Why a CronJob cannot fire it.
        why: String,
    },
}

/// The parsed schedule and time zone of `spec`, and how it fires.
///
/// # Errors
/// A rule without a schedule (an event pattern), a schedule or time zone that does not parse.
pub fn firing(spec: &ScheduledTaskSpec) -> Result<(Schedule, TimeZone, Firing), ScheduledTaskError> {
    let Some(expression) = spec
        .rule
        .schedule_expression
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    else {
        let message = if spec.rule.event_pattern.is_some() {
            "an event pattern rule reacts to AWS events, which a Kubernetes cluster does not send: it is \
             kept but cannot run; give a ScheduleExpression (cron(...), rate(...) or at(...))"
        } else {
            "required: cron(...), rate(value unit) or at(yyyy-mm-ddThh:mm:ss)"
        };
        let field = if spec.rule.event_pattern.is_some() {
            "EventPattern"
        } else {
            "ScheduleExpression"
        };
        return Err(refused(field, message));
    };
    let parsed = schedule::parse(expression).map_err(|e| {
        refused(
            "ScheduleExpression",
            format!("{expression:?} at character {}: {}", e.position, e.message),
        )
    })?;
    let zone = spec
        .schedule_expression_timezone
        .as_deref()
        .filter(|z| !z.is_empty());
    let tz = match zone {
        Some(name) => TimeZone::get(name).map_err(|_| {
            refused(
                "ScheduleExpressionTimezone",
                format!("{name:?} is not an IANA time zone (e.g. Europe/Paris, America/New_York)"),
            )
        })?,
        None => TimeZone::UTC,
    };
    let firing = match &parsed {
        Schedule::At(_) => Firing::Operator {
            why: "at() fires once, which a CronJob cannot say".to_owned(),
        },
        // (A rate is a period, not a wall-clock time: no time zone, so DST changes nothing.)
        Schedule::Rate(period) => match rate_cron(period.as_secs()) {
            Some(schedule) => Firing::CronJob {
                schedule,
                time_zone: None,
            },
            None => Firing::Operator {
                why: format!(
                    "a rate of {} minutes divides neither an hour nor a day, which a CronJob cannot say",
                    period.as_secs() / 60
                ),
            },
        },
        // (The time zone as the tz database spells it: a CronJob's must match exactly.)
        Schedule::Cron(cron) => match kubernetes_cron(cron) {
            Ok(schedule) => Firing::CronJob {
                schedule,
                time_zone: zone.map(|z| tz.iana_name().unwrap_or(z).to_owned()),
            },
            Err(why) => Firing::Operator { why },
        },
    };
    let bounded = spec.start_date.is_some() || spec.end_date.is_some();
    let firing = match firing {
        Firing::CronJob { .. } if bounded => Firing::Operator {
            why: "StartDate or EndDate bounds it, which a CronJob cannot say".to_owned(),
        },
        other => other,
    };
    Ok((parsed, tz, firing))
}

/// The Scheduler form's `StartDate` and `EndDate` (ISO 8601; UTC when no offset is given).
///
/// # Errors
/// A date that does not parse, or an `EndDate` before the `StartDate`.
pub fn bounds(
    spec: &ScheduledTaskSpec,
) -> Result<(Option<Timestamp>, Option<Timestamp>), ScheduledTaskError> {
    let parse = |field: &str, value: Option<&str>| -> Result<Option<Timestamp>, ScheduledTaskError> {
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        v.parse::<Timestamp>()
            .or_else(|_| {
                v.parse::<jiff::civil::DateTime>()
                    .and_then(|d| d.to_zoned(TimeZone::UTC))
                    .map(|z| z.timestamp())
            })
            .map(Some)
            .map_err(|_| {
                refused(
                    field,
                    format!("{v:?} is not a date and time (ISO 8601, e.g. 2027-01-01T00:00:00Z)"),
                )
            })
    };
    let start = parse("StartDate", spec.start_date.as_deref())?;
    let end = parse("EndDate", spec.end_date.as_deref())?;
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(refused("EndDate", format!("{e} is not after the StartDate {s}")));
    }
    Ok((start, end))
}

/// The rule's targets, each with the field it is written at: `Targets[i]`, or the Scheduler
/// form's `Target` as an EventBridge target (its `Tags` maps become `Key`/`Value` pairs).
///
/// # Errors
/// Both `Targets` and `Target`, or a `Target` whose parameters are not an ECS target's.
pub fn targets(spec: &ScheduledTaskSpec) -> Result<Vec<(String, EbTarget)>, ScheduledTaskError> {
    let Some(target) = &spec.target else {
        return Ok(spec
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("Targets[{i}]"), t.clone()))
            .collect());
    };
    if !spec.targets.is_empty() {
        return Err(refused(
            "Target",
            "give Targets (EventBridge PutTargets) or Target (EventBridge Scheduler's CreateSchedule), not both",
        ));
    }
    let mut value = serde_json::to_value(target).unwrap_or(Value::Null);
    if let Some(params) = value.get_mut("EcsParameters").and_then(Value::as_object_mut) {
        params.remove("ReferenceId");
        if let Some(Value::Array(tags)) = params.get_mut("Tags") {
            let pairs: Vec<Value> = tags
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|m| m.iter().map(|(k, v)| serde_json::json!({"Key": k, "Value": v})))
                .collect();
            *tags = pairs;
        }
    }
    let target: EbTarget =
        serde_json::from_value(value).map_err(|e| refused("Target", format!("is not an ECS target: {e}")))?;
    Ok(vec![("Target".to_owned(), target)])
}

/// A `rate` period (seconds) as a five-field schedule, when it divides an hour or a day.
fn rate_cron(seconds: i64) -> Option<String> {
    let minutes = seconds / 60;
    match minutes {
        1 => Some("* * * * *".to_owned()),
        m if m < 60 && 60 % m == 0 => Some(format!("*/{m} * * * *")),
        60 => Some("0 * * * *".to_owned()),
        m if m % 60 == 0 && m < 1440 && 1440 % m == 0 => Some(format!("0 */{} * * *", m / 60)),
        1440 => Some("0 0 * * *".to_owned()),
        _ => None,
    }
}

/// `cron` as Kubernetes' five fields (minute hour day-of-month month day-of-week, 0 = Sunday), or
/// why it cannot be said so.
///
/// # Errors
/// The feature Kubernetes cron lacks: a restricted year, `L`, `W` or `#`.
pub fn kubernetes_cron(cron: &Cron) -> Result<String, String> {
    if !cron.years.iter().all(|y| *y) {
        return Err("a restricted Year field, which a CronJob cannot say".to_owned());
    }
    let minutes = field(cron.minutes, 0, 59);
    let hours = field(u64::from(cron.hours), 0, 23);
    let months = field(u64::from(cron.months), 1, 12);
    let (dom, dow) = match &cron.day {
        Day::OfMonth(m) => {
            if m.last || m.last_weekday || !m.nearest_weekday.is_empty() {
                return Err("L or W in Day-of-month, which a CronJob cannot say".to_owned());
            }
            (field(u64::from(m.days), 1, 31), "*".to_owned())
        }
        Day::OfWeek(w) => {
            if !w.last.is_empty() || w.nth.is_some() {
                return Err("L or # in Day-of-week, which a CronJob cannot say".to_owned());
            }
            // AWS: 1 = Sunday … 7 = Saturday; Kubernetes: 0 = Sunday … 6 = Saturday.
            ("*".to_owned(), field(u64::from(w.days) >> 1, 0, 6))
        }
    };
    Ok(format!("{minutes} {hours} {dom} {months} {dow}"))
}

/// The bits `lo..=hi` of `bits` as a cron field: `*` when all are set, else a list of values and
/// ranges.
fn field(bits: u64, lo: u32, hi: u32) -> String {
    let set: Vec<u32> = (lo..=hi).filter(|n| bits & (1 << n) != 0).collect();
    if set.len() == (hi - lo + 1) as usize {
        return "*".to_owned();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < set.len() {
        let start = set[i];
        let mut end = start;
        while i + 1 < set.len() && set[i + 1] == end + 1 {
            i += 1;
            end = set[i];
        }
        parts.push(match end - start {
            0 => start.to_string(),
            1 => format!("{start},{end}"),
            _ => format!("{start}-{end}"),
        });
        i += 1;
    }
    parts.join(",")
}

/// The next `n` instants of `schedule` after `after`, in `tz`, within Scheduler's `bounds`
/// (`StartDate`, `EndDate`), a `rate` counting from the `StartDate`, else from `created` — as the
/// controller fires them ([`schedule::next_in_window`]).
#[must_use]
pub fn next_instants(
    schedule: &Schedule,
    tz: &TimeZone,
    after: Timestamp,
    bounds: (Option<Timestamp>, Option<Timestamp>),
    created: Timestamp,
    n: usize,
) -> Vec<Timestamp> {
    let mut out = Vec::with_capacity(n);
    let mut t = after;
    while out.len() < n {
        let Some(next) = schedule::next_in_window(schedule, t, tz, bounds, created) else {
            break;
        };
        out.push(next);
        t = next;
    }
    out
}

/// What each firing runs: one RunTask request per target, each checked as RunTask checks it.
///
/// # Errors
/// No target, more than [`firings::MAX_TARGETS`], or a target that cannot run (see
/// [`run_task`]), or a request RunTask would refuse — naming the target and the field.
pub fn runs(spec: &ScheduledTaskSpec) -> Result<Vec<RunTask>, ScheduledTaskError> {
    let targets = targets(spec)?;
    if targets.is_empty() {
        return Err(refused(
            "Targets",
            "required: at least one target with EcsParameters (the task each firing runs), or Target",
        ));
    }
    if targets.len() > firings::MAX_TARGETS {
        return Err(refused(
            "Targets",
            format!(
                "{} targets: a rule has at most {} (EventBridge's quota); split it into several ScheduledTasks",
                targets.len(),
                firings::MAX_TARGETS
            ),
        ));
    }
    targets
        .iter()
        .map(|(at, target)| {
            let run = run_task_at(target, at)?;
            crate::translate::task::request::validate(&run).map_err(|e| {
                // (`overrides` come from the target's Input, the rest from its EcsParameters.)
                let part = if e.field.starts_with("overrides") {
                    "Input"
                } else {
                    "EcsParameters"
                };
                refused(
                    format!("{at}.{part}"),
                    format!("as RunTask's {}: {}", e.field, e.message),
                )
            })?;
            Ok(run)
        })
        .collect()
}

/// What one firing of target `index` (`target`) runs: its `EcsParameters` as a RunTask request,
/// with its `Input` as the overrides.
///
/// # Errors
/// A target without `EcsParameters` (not an ECS task), an `Input` that is not a TaskOverride, or
/// `InputPath`/`InputTransformer` (which read an event a schedule does not have).
pub fn run_task(target: &EbTarget, index: usize) -> Result<RunTask, ScheduledTaskError> {
    run_task_at(target, &format!("Targets[{index}]"))
}

/// [`run_task`] of the target written at `written` (`Targets[0]`, `Target`).
fn run_task_at(target: &EbTarget, written: &str) -> Result<RunTask, ScheduledTaskError> {
    let at = |field: &str| format!("{written}.{field}");
    let Some(params) = &target.ecs_parameters else {
        return Err(refused(
            at("EcsParameters"),
            "required: this operator runs ECS tasks; a target of another service (its Arn) cannot run here",
        ));
    };
    if target.input_path.is_some() || target.input_transformer.is_some() {
        let field = if target.input_path.is_some() {
            "InputPath"
        } else {
            "InputTransformer"
        };
        return Err(refused(
            at(field),
            "reads the triggering event, which a schedule does not have: give the overrides as Input",
        ));
    }
    let mut value = camel_case(serde_json::to_value(params).unwrap_or(Value::Null));
    if let Some(o) = value.as_object_mut() {
        if let Some(td) = o.remove("taskDefinitionArn") {
            o.insert("taskDefinition".to_owned(), td);
        }
        if let Some(count) = o.remove("taskCount") {
            o.insert("count".to_owned(), count);
        }
    }
    let mut run: RunTask = serde_json::from_value(value)
        .map_err(|e| refused(at("EcsParameters"), format!("is not a RunTask request: {e}")))?;
    if let Some(input) = target.input.as_deref().filter(|i| !i.trim().is_empty()) {
        let overrides: TaskOverride = serde_json::from_str(input).map_err(|e| {
            refused(
                at("Input"),
                format!("is not a TaskOverride in JSON (e.g. {{\"containerOverrides\": [...]}}): {e}"),
            )
        })?;
        run.overrides = Some(overrides);
    }
    Ok(run)
}

/// `value` with every object key's first letter in lower case (EventBridge's PascalCase → ECS's
/// camelCase; the values, such as `TASK_DEFINITION`, are the same).
fn camel_case(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = chars
                        .next()
                        .map(|c| c.to_ascii_lowercase().to_string() + chars.as_str())
                        .unwrap_or_default();
                    (key, camel_case(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_case).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests;
