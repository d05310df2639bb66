//! `render` of a ScheduledTask: its CronJob when Kubernetes cron says the schedule (made by
//! [`crate::translate::scheduled_task::firings::cron_job`], as the controller applies it), or a
//! note that the operator fires it, with its next five instants; then the pods of the Tasks its
//! next firing starts (one Task per target, rendered as any Task is).

use std::collections::BTreeSet;

use jiff::Timestamp;

use super::{
    Loaded, Rendered, RenderedTaskDefinition, at_field, name_and_namespace, providers, tasks, to_value,
};
use crate::{
    api::ScheduledTask,
    manifest::Diagnostic,
    translate::{
        Options,
        scheduled_task::{
            Firing, bounds, firing,
            firings::{MAX_NAME_LEN, cron_job, fired_tasks, firing_name},
            next_instants, runs,
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
    if name.len() > MAX_NAME_LEN {
        let message = format!(
            "metadata.name: {} characters; a ScheduledTask's name is at most {MAX_NAME_LEN}",
            name.len()
        );
        return out.diagnostics.push(at_field(item, &message, &message));
    }
    let (schedule, tz, how) = match firing(&st.spec) {
        Ok(f) => f,
        Err(e) => {
            let message = e.to_string();
            return out.diagnostics.push(at_field(item, &message, &message));
        }
    };
    let requests = match runs(&st.spec) {
        Ok(r) => r,
        Err(e) => {
            let message = e.to_string();
            return out.diagnostics.push(at_field(item, &message, &message));
        }
    };
    let (start, end) = match bounds(&st.spec) {
        Ok(b) => b,
        Err(e) => {
            let message = e.to_string();
            return out.diagnostics.push(at_field(item, &message, &message));
        }
    };
    let mut st = st.clone();
    st.metadata.namespace = Some(ns.clone());
    let enabled = st.spec.rule.state != Some(crate::api::ecs::EbRuleState::Disabled);
    let created = st.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
    let from = start.map_or(now, |s| now.max(s - jiff::SignedDuration::from_nanos(1)));
    let mut next = next_instants(&schedule, &tz, from, created, 5);
    next.retain(|t| end.is_none_or(|e| *t <= e));
    match &how {
        Firing::CronJob { schedule, time_zone } => {
            out.objects
                .push(to_value(&cron_job(&st, schedule, time_zone.as_deref(), !enabled)));
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
    for task in fired_tasks(&st, &requests, &firing_name(&name, at), at) {
        tasks::render_task(item, &task, families, failed, capacity, options, out);
    }
}
