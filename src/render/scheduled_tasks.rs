//! `render` of a ScheduledTask: its CronJob when Kubernetes cron says the schedule (made by
//! [`crate::translate::scheduled_task::firings::cron_job`], as the controller applies it), or a
//! note that the operator fires it, with its next five instants; then the pods of the Tasks its
//! next firing starts (one Task per target, rendered as any Task is).

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{
    Loaded, Rendered, RenderedTaskDefinition, at_field, name_and_namespace, providers, report, tasks,
    to_value,
};
use crate::{
    api::ScheduledTask,
    manifest::Diagnostic,
    translate::{
        Options,
        scheduled_task::{
            Firing,
            firings::{cron_job, fired_tasks, firing_name},
            next_instants,
            rule::{check_name, enabled, rule},
        },
    },
};

/// Renders `st` (the document `item`) at `now`, the Tasks of its next firing running the task
/// definitions `families` finds, on `capacity`.
#[allow(clippy::too_many_arguments)]
pub(super) fn render_scheduled_task<'a>(
    item: &Loaded,
    st: &ScheduledTask,
    families: impl Fn(&(String, String)) -> Option<&'a RenderedTaskDefinition<'a>> + Copy,
    failed: &BTreeSet<(String, String)>,
    capacity: &providers::Capacity<'_>,
    options: &Options,
    now: Timestamp,
    out: &mut Rendered,
) {
    let Some((name, ns)) = name_and_namespace(item, &st.metadata, out) else {
        return;
    };
    if let Err(message) = check_name(&name) {
        return out.diagnostics.push(at_field(item, &message, &message));
    }
    let rule = match rule(&st.spec) {
        Ok(r) => r,
        Err(e) => {
            let message = e.to_string();
            return out.diagnostics.push(at_field(item, &message, &message));
        }
    };
    // (What the controller's Translated condition names.)
    report(item, &rule.report, out);
    let mut st = st.clone();
    st.metadata.namespace = Some(ns.clone());
    let created = st.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let next = next_instants(&rule.schedule, &rule.tz, now, rule.bounds, created, 5);
    match &rule.firing {
        Firing::CronJob { schedule, time_zone } => {
            out.objects.push(to_value(&cron_job(
                &st,
                schedule,
                time_zone.as_deref(),
                !enabled(&st.spec),
            )));
        }
        Firing::Operator { why } => {
            let instants: Vec<String> = next.iter().map(ToString::to_string).collect();
            out.diagnostics.push(Diagnostic::warning(
                &item.document.file,
                Some(item.document.file_position(1, 1)),
                None,
                format!(
                    "{}: fired by the operator, not a CronJob ({why}); next instants: {}",
                    item.resource.describe(),
                    if instants.is_empty() {
                        "none".to_owned()
                    } else {
                        instants.join(", ")
                    }
                ),
            ));
        }
    }
    // What the next firing runs.
    let Some(at) = next.first().copied() else {
        return;
    };
    for task in fired_tasks(&st, &rule.runs, &firing_name(&name, at), at) {
        tasks::render_task(item, &task, families, failed, capacity, options, out);
    }
}
