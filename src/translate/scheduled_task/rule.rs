//! A rule read whole (pure), as the ScheduledTask controller and `render` both read it: its name,
//! how it fires, what each firing runs, its Scheduler bounds, and what has no equivalent here.

use jiff::{Timestamp, tz::TimeZone};

use super::{Firing, ScheduledTaskError, bounds, firing, firings::MAX_NAME_LEN, runs, targets};
use crate::{
    api::{
        ScheduledTaskSpec,
        ecs::{EbRuleState, RunTask, SchActionAfterCompletion},
    },
    translate::{
        report::{NoteKind, Report},
        schedule::Schedule,
    },
};

/// A rule that can run.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its schedule.
    pub schedule: Schedule,
    /// Its time zone.
    pub tz: TimeZone,
    /// How it fires.
    pub firing: Firing,
    /// What each firing runs, one request per target.
    pub runs: Vec<RunTask>,
    /// Scheduler's `StartDate` and `EndDate`: no instant outside fires.
    pub bounds: (Option<Timestamp>, Option<Timestamp>),
    /// The fields that have no equivalent here.
    pub report: Report,
}

/// `spec` read as a rule that can run ([`firing`], then [`runs`], then [`bounds`]).
///
/// # Errors
/// The first refusal, naming the field.
pub fn rule(spec: &ScheduledTaskSpec) -> Result<Rule, ScheduledTaskError> {
    let (schedule, tz, firing) = firing(spec)?;
    let runs = runs(spec)?;
    let bounds = bounds(spec)?;
    Ok(Rule {
        schedule,
        tz,
        firing,
        runs,
        bounds,
        report: report(spec),
    })
}

/// Why a ScheduledTask cannot be called `name`, naming the field: over [`MAX_NAME_LEN`]
/// characters (its CronJob's and its Tasks' names add to it).
///
/// # Errors
/// The message.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.len() <= MAX_NAME_LEN {
        return Ok(());
    }
    Err(format!(
        "metadata.name: {} characters; a ScheduledTask's name is at most {MAX_NAME_LEN} (its CronJob's \
         and its Tasks' names add to it): use a shorter name",
        name.len()
    ))
}

/// Whether the rule is enabled (`State` other than DISABLED; absent is ENABLED, as PutRule has
/// it).
#[must_use]
pub fn enabled(spec: &ScheduledTaskSpec) -> bool {
    spec.rule.state != Some(EbRuleState::Disabled)
}

/// The fields of `spec` that have no equivalent here.
fn report(spec: &ScheduledTaskSpec) -> Report {
    let mut report = Report::default();
    let mut ignored = |field: String, why: &str| report.note(NoteKind::Ignored, field, why);
    if spec.rule.role_arn.is_some() {
        ignored(
            "RoleArn".to_owned(),
            "the operator's own permissions create the Tasks",
        );
    }
    if spec
        .rule
        .event_bus_name
        .as_deref()
        .is_some_and(|b| b != "default")
    {
        ignored("EventBusName".to_owned(), "a schedule needs no event bus");
    }
    for (at, t) in targets(spec).unwrap_or_default() {
        if t.role_arn.is_some() {
            ignored(
                format!("{at}.RoleArn"),
                "the operator's own permissions create the Tasks; the task role is the task definition's",
            );
        }
        if t.dead_letter_config.is_some() {
            ignored(
                format!("{at}.DeadLetterConfig"),
                "a firing whose Task the cluster refuses is reported in recentTasks as Failed",
            );
        }
        if t.retry_policy.is_some() {
            ignored(
                format!("{at}.RetryPolicy"),
                "a Task the cluster refuses is not created again; the firing is reported as Failed",
            );
        }
    }
    if spec
        .target
        .as_ref()
        .and_then(|t| t.ecs_parameters.as_ref())
        .is_some_and(|p| p.reference_id.is_some())
    {
        ignored(
            "Target.EcsParameters.ReferenceId".to_owned(),
            "RunTask has no reference id",
        );
    }
    if spec.action_after_completion == Some(SchActionAfterCompletion::Delete) {
        ignored(
            "ActionAfterCompletion".to_owned(),
            "DELETE is not done (the ScheduledTask is yours, or your GitOps tool's, to delete); after its \
             last instant it fires nothing more",
        );
    }
    if spec.kms_key_arn.is_some() {
        ignored("KmsKeyArn".to_owned(), "nothing is stored outside the cluster");
    }
    report
}
