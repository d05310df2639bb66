//! Scheduled actions (PutScheduledAction, ecs-reference §5.3), checked as AAS checks them and
//! planned declaratively: the min and max capacity in force at an instant are the scalable
//! target's own (`minCapacity`/`maxCapacity`, as registered at `since`), each replaced by the
//! latest action that fired since then and set it. An action missed while the operator was not
//! running is therefore applied once when it next plans, as AAS applies it at its next
//! evaluation; nothing is replayed twice. The plan also gives the next instant an action fires,
//! for the controller to requeue at instead of polling.
//!
//! The schedules are [`crate::translate::schedule`]'s, in each action's time zone.

use jiff::{Timestamp, tz::TimeZone};

use super::AutoScalingError;
use crate::{
    api::autoscaling::ScheduledAction,
    translate::schedule::{self, Schedule},
};

/// Longest action name AAS accepts.
pub const MAX_NAME: usize = 256;

/// A checked scheduled action.
#[derive(Debug, Clone, PartialEq)]
pub struct Action {
    /// Its name.
    pub name: String,
    /// When it fires.
    pub schedule: Schedule,
    /// The time zone its schedule is read in.
    pub tz: TimeZone,
    /// `startTime` and `endTime`.
    pub window: (Option<Timestamp>, Option<Timestamp>),
    /// The min capacity it sets.
    pub min: Option<i32>,
    /// The max capacity it sets.
    pub max: Option<i32>,
    /// When it was put with this definition: it fires after then, and a `rate` without
    /// `startTime` counts from then. `None` (as [`check`] leaves it): the plan's `since` and
    /// `created`.
    pub put_at: Option<Timestamp>,
}

/// Checks `actions` as PutScheduledAction does: names (1–256 characters, no `:`, `/`, `|` or
/// control characters, no leading or trailing space, each once), the schedule, the IANA time
/// zone, `startTime` before `endTime`, a min or a max, and min ≤ max, both ≥ 0.
///
/// # Errors
/// The first action broken, naming its field.
pub fn check(actions: &[ScheduledAction]) -> Result<Vec<Action>, AutoScalingError> {
    let mut out: Vec<Action> = Vec::new();
    for (i, a) in actions.iter().enumerate() {
        let at = |field: &str| format!("scheduledActions[{i}].{field}");
        let refuse = |field: &str, message: String| AutoScalingError {
            field: at(field),
            message,
        };
        let name = &a.scheduled_action_name;
        if name.is_empty()
            || name.chars().count() > MAX_NAME
            || name
                .chars()
                .any(|c| matches!(c, ':' | '/' | '|') || c.is_control())
            || name.trim() != name
        {
            return Err(refuse(
                "scheduledActionName",
                format!(
                    "{name:?}: 1 to {MAX_NAME} characters, without ':', '/', '|', control characters, or spaces at \
                     either end"
                ),
            ));
        }
        if out.iter().any(|o| o.name == *name) {
            return Err(refuse(
                "scheduledActionName",
                format!("{name:?} is given twice: AAS keeps one action per name"),
            ));
        }
        let schedule = schedule::parse(&a.schedule).map_err(|e| refuse("schedule", e.to_string()))?;
        let tz = match a.timezone.as_deref() {
            None | Some("") => TimeZone::UTC,
            Some(zone) => TimeZone::get(zone).map_err(|_| {
                refuse(
                    "timezone",
                    format!("{zone:?} is not an IANA time zone (e.g. America/New_York, Etc/GMT+9)"),
                )
            })?,
        };
        let time = |field: &str, value: Option<&String>| -> Result<Option<Timestamp>, AutoScalingError> {
            value
                .map(|v| {
                    v.parse::<Timestamp>().map_err(|_| {
                        refuse(
                            field,
                            format!("{v:?} is not a time: write RFC 3339, e.g. 2026-12-24T18:00:00Z"),
                        )
                    })
                })
                .transpose()
        };
        let start = time("startTime", a.start_time.as_ref())?;
        let end = time("endTime", a.end_time.as_ref())?;
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            return Err(refuse("endTime", format!("{e} is not after startTime {s}")));
        }
        let target = &a.scalable_target_action;
        let (min, max) = (target.min_capacity, target.max_capacity);
        if min.is_none() && max.is_none() {
            return Err(refuse(
                "scalableTargetAction",
                "set minCapacity, maxCapacity or both".to_owned(),
            ));
        }
        for (field, v) in [("minCapacity", min), ("maxCapacity", max)] {
            if let Some(v) = v.filter(|v| *v < 0) {
                return Err(refuse(
                    &format!("scalableTargetAction.{field}"),
                    format!("{v} is below 0"),
                ));
            }
        }
        if let (Some(lo), Some(hi)) = (min, max)
            && lo > hi
        {
            return Err(refuse(
                "scalableTargetAction.minCapacity",
                format!("{lo} is above maxCapacity {hi}"),
            ));
        }
        out.push(Action {
            name: name.clone(),
            schedule,
            tz,
            window: (start, end),
            min,
            max,
            put_at: None,
        });
    }
    Ok(out)
}

/// The last firing of an action that set a capacity: which, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The action's name.
    pub action: String,
    /// When it fired.
    pub at: Timestamp,
}

/// The capacity range in force, and when it next changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Min capacity in force.
    pub min: i32,
    /// Max capacity in force.
    pub max: i32,
    /// The action whose min is in force (none: the scalable target's own).
    pub min_from: Option<Fired>,
    /// The action whose max is in force (none: the scalable target's own).
    pub max_from: Option<Fired>,
    /// Max was raised to min: the min in force was above the max in force (set apart, by
    /// different actions or by an action and the target).
    pub raised_max: bool,
    /// The next instant an action fires, and which.
    pub next: Option<Fired>,
}

/// The range in force at `now` for a target registered with `(min, max)` at `since` (its actions
/// firing after it, or after they were put), the actions' `rate`s counting from their
/// `startTime`, else from when they were put, else from `created`.
#[must_use]
pub fn plan(
    registered: (i32, i32),
    actions: &[Action],
    since: Timestamp,
    now: Timestamp,
    created: Timestamp,
) -> Plan {
    let mut min_from: Option<(Fired, i32)> = None;
    let mut max_from: Option<(Fired, i32)> = None;
    let mut next: Option<Fired> = None;
    for a in actions {
        let (since, created) = match a.put_at {
            Some(put) => (since.max(put), put),
            None => (since, created),
        };
        // Firings in (since, now], within [start, end].
        if let Some(at) = schedule::last_in_window(&a.schedule, (since, now), &a.tz, a.window, created) {
            let fired = Fired {
                action: a.name.clone(),
                at,
            };
            // The latest wins; at the same instant, the later action in the list.
            for (set, slot) in [(a.min, &mut min_from), (a.max, &mut max_from)] {
                if let Some(v) = set
                    && slot.as_ref().is_none_or(|(f, _)| f.at <= at)
                {
                    *slot = Some((fired.clone(), v));
                }
            }
        }
        if let Some(at) = schedule::next_in_window(&a.schedule, now, &a.tz, a.window, created)
            && next.as_ref().is_none_or(|n| at < n.at)
        {
            next = Some(Fired {
                action: a.name.clone(),
                at,
            });
        }
    }
    let min = min_from.as_ref().map_or(registered.0, |(_, v)| *v);
    let max = max_from.as_ref().map_or(registered.1, |(_, v)| *v);
    Plan {
        min,
        max: max.max(min),
        raised_max: min > max,
        min_from: min_from.map(|(f, _)| f),
        max_from: max_from.map(|(f, _)| f),
        next,
    }
}
