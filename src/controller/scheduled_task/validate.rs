//! Validate (pure, before anything is read): the rule's schedule and time zone, how it fires
//! ([`firing`]), and each target as the RunTask request each firing makes ([`runs`]). Every
//! refusal names the field.

use jiff::{Timestamp, tz::TimeZone};
use kube::ResourceExt;

use crate::{
    api::{ScheduledTask, ecs::RunTask},
    translate::{
        schedule::Schedule,
        scheduled_task::{Firing, bounds, firing, firings::MAX_NAME_LEN, runs},
    },
};

/// Ready=False: the rule or a target cannot run.
pub const REASON_INVALID_SCHEDULED_TASK: &str = "InvalidScheduledTask";
/// Ready=False: an event-pattern rule (no schedule), which a cluster cannot trigger.
pub const REASON_NOT_TRANSLATABLE: &str = "EventPatternNotTranslatable";

/// A rule that can run.
#[derive(Debug, Clone)]
pub struct Validated {
    /// Its schedule.
    pub schedule: Schedule,
    /// Its time zone.
    pub tz: TimeZone,
    /// How it fires.
    pub firing: Firing,
    /// What each firing runs, one request per target.
    pub runs: Vec<RunTask>,
    /// The Scheduler form's `StartDate` and `EndDate`: no instant outside fires.
    pub bounds: (Option<Timestamp>, Option<Timestamp>),
}

/// Why a ScheduledTask cannot be reconciled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// The Ready condition's reason.
    pub reason: &'static str,
    /// The message, naming the field.
    pub message: String,
}

/// Checks `st`.
///
/// # Errors
/// [`Invalid`] naming the field and the fix.
pub fn validate(st: &ScheduledTask) -> Result<Validated, Invalid> {
    let name = st.name_any();
    if name.len() > MAX_NAME_LEN {
        return Err(Invalid {
            reason: REASON_INVALID_SCHEDULED_TASK,
            message: format!(
                "metadata.name: {} characters; a ScheduledTask's name is at most {MAX_NAME_LEN} (its CronJob's \
                 and its Tasks' names add to it): use a shorter name",
                name.len()
            ),
        });
    }
    let (schedule, tz, firing) = firing(&st.spec).map_err(|e| Invalid {
        reason: if e.field == "EventPattern" {
            REASON_NOT_TRANSLATABLE
        } else {
            REASON_INVALID_SCHEDULED_TASK
        },
        message: e.to_string(),
    })?;
    let runs = runs(&st.spec).map_err(|e| Invalid {
        reason: REASON_INVALID_SCHEDULED_TASK,
        message: e.to_string(),
    })?;
    let bounds = bounds(&st.spec).map_err(|e| Invalid {
        reason: REASON_INVALID_SCHEDULED_TASK,
        message: e.to_string(),
    })?;
    Ok(Validated {
        schedule,
        tz,
        firing,
        runs,
        bounds,
    })
}
