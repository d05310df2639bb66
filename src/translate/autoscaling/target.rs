//! The scalable target over time (pure; the clock comes in as `now`): the range in force after
//! the scheduled actions, carried from one reconcile to the next in the Service's status
//! ([`ScalableTargetStatus`]) as AAS carries it in the scalable target.
//!
//! - **Registration.** The first time, or when `minCapacity`/`maxCapacity` change
//!   (RegisterScalableTarget again), the range in force is the registered one, and actions fire
//!   from then on.
//! - **Scheduled actions.** Each action fires after it was put (a changed definition is put
//!   anew, [`ScheduledActionStatus::creation_time`]); the firings since `scheduledThrough` set
//!   the bounds they name, the latest winning ([`scheduled::plan`]). A firing missed while the
//!   operator was not running (down, restarting, changing leader) is therefore applied once, at
//!   its next reconcile, as AAS applies it at its next evaluation; `scheduledThrough` only moves
//!   when something fired, so a Service at rest writes nothing.
//! - **Suspension.** While `scheduledScalingSuspended`, nothing fires and the range stays; on
//!   resuming, what would have fired meanwhile is skipped, as AAS skips it.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::scheduled::{self, Action, Fired};
use crate::{
    api::autoscaling::{AutoScaling, AutoScalingStatus, ScalableTargetStatus, ScheduledActionStatus},
    translate::schedule,
};

/// The scalable target at `now`, its actions, and what fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The target, with the range in force.
    pub status: ScalableTargetStatus,
    /// The actions, each with when it was put and its next run.
    pub actions: Vec<ScheduledActionStatus>,
    /// The next instant an action fires, and which (none while suspended).
    pub next: Option<Fired>,
    /// The firings applied now: the action that set the min, then the one that set the max
    /// (once when the same).
    pub fired: Vec<Fired>,
    /// The min in force was above the max in force, which was raised to it.
    pub raised_max: bool,
}

impl Target {
    /// The range in force.
    #[must_use]
    pub fn range(&self) -> (i32, i32) {
        (self.status.min_capacity, self.status.max_capacity)
    }
}

/// Whether `state` suspends scheduled scaling.
fn scheduled_suspended(state: Option<&crate::api::autoscaling::SuspendedState>) -> bool {
    state.and_then(|s| s.scheduled_scaling_suspended) == Some(true)
}

/// The target of `auto_scaling` (whose scheduled actions, as checked, are `checked`) at `now`,
/// going on from `recorded`, the status the last reconcile wrote (see the module docs).
#[must_use]
pub fn advance(
    auto_scaling: &AutoScaling,
    checked: &[Action],
    recorded: Option<&AutoScalingStatus>,
    now: Timestamp,
) -> Target {
    // Whole seconds, as the status keeps times: the next reconcile reads back the same instant.
    let now = Timestamp::from_second(now.as_second()).unwrap_or(now);
    let registered = (auto_scaling.min_capacity, auto_scaling.max_capacity);
    let suspended = scheduled_suspended(auto_scaling.suspended_state.as_ref());
    let defined = auto_scaling.scheduled_actions.as_deref().unwrap_or_default();
    // Each action's put time: kept while its definition is the one recorded.
    let actions: Vec<Action> = defined
        .iter()
        .zip(checked)
        .map(|(def, a)| {
            let put = recorded
                .and_then(|r| r.scheduled_actions.iter().find(|o| o.action == *def))
                .map_or(now, |o| o.creation_time.0);
            Action {
                put_at: Some(put),
                ..a.clone()
            }
        })
        .collect();
    let kept = recorded
        .map(|r| &r.scalable_target)
        .filter(|t| (t.registered_min_capacity, t.registered_max_capacity) == registered);
    let (mut range, creation, mut through) = match kept {
        Some(t) => (
            (t.min_capacity, t.max_capacity),
            t.creation_time.0,
            t.scheduled_through.0,
        ),
        None => (registered, now, now),
    };
    let mut fired = Vec::new();
    let mut raised_max = false;
    if let Some(t) = kept
        && !suspended
    {
        if scheduled_suspended(t.suspended_state.as_ref()) {
            // Resumed: what fired while suspended is skipped.
            through = now;
        } else {
            let p = scheduled::plan(range, &actions, through, now, creation);
            if p.min_from.is_some() || p.max_from.is_some() {
                range = (p.min, p.max);
                through = now;
                raised_max = p.raised_max;
                fired.extend(p.min_from.clone());
                fired.extend(p.max_from.filter(|m| p.min_from.as_ref() != Some(m)));
            }
        }
    }
    let statuses: Vec<ScheduledActionStatus> = defined
        .iter()
        .zip(&actions)
        .map(|(def, a)| {
            let put = a.put_at.unwrap_or(now);
            let next_run = if suspended {
                None
            } else {
                schedule::next_in_window(&a.schedule, now, &a.tz, a.window, put)
            };
            ScheduledActionStatus {
                action: def.clone(),
                creation_time: Time(put),
                next_run: next_run.map(Time),
            }
        })
        .collect();
    let next = statuses
        .iter()
        .filter_map(|s| {
            Some(Fired {
                action: s.action.scheduled_action_name.clone(),
                at: s.next_run.as_ref()?.0,
            })
        })
        .min_by_key(|f| f.at);
    Target {
        status: ScalableTargetStatus {
            min_capacity: range.0,
            max_capacity: range.1,
            registered_min_capacity: registered.0,
            registered_max_capacity: registered.1,
            creation_time: Time(creation),
            scheduled_through: Time(through),
            suspended_state: auto_scaling.suspended_state.clone(),
        },
        actions: statuses,
        next,
        fired,
        raised_max,
    }
}
