//! Validate (pure, before anything is read): the rule read whole by
//! [`crate::translate::scheduled_task::rule::rule`] (its schedule and time zone, how it fires, each
//! target as the RunTask request each firing makes, Scheduler's bounds), and its name. Every
//! refusal names the field.

use kube::ResourceExt;

use crate::{
    api::ScheduledTask,
    translate::scheduled_task::rule::{Rule, check_name, rule},
};

/// Ready=False: the rule or a target cannot run.
pub const REASON_INVALID_SCHEDULED_TASK: &str = "InvalidScheduledTask";
/// Ready=False: an event-pattern rule (no schedule), which a cluster cannot trigger.
pub const REASON_NOT_TRANSLATABLE: &str = "EventPatternNotTranslatable";

/// A rule that passed validation: the translation's [`Rule`].
pub type Validated = Rule;

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
    check_name(&st.name_any()).map_err(|message| Invalid {
        reason: REASON_INVALID_SCHEDULED_TASK,
        message,
    })?;
    rule(&st.spec).map_err(|e| Invalid {
        reason: if e.field == "EventPattern" {
            REASON_NOT_TRANSLATABLE
        } else {
            REASON_INVALID_SCHEDULED_TASK
        },
        message: e.to_string(),
    })
}
