//! healthCheck → startup, liveness and readiness probes; startTimeout and stopTimeout.
//!
//! # healthCheck
//!
//! The check becomes an exec probe: `["CMD", args...]` runs `args` directly, `["CMD-SHELL",
//! script]` runs the script with the container's shell (`/bin/sh -c`, or `cmd /S /C` when
//! `runtimePlatform.operatingSystemFamily` is a Windows family, as Docker does). A command that
//! starts with neither is run as a whole (the ECS developer guide says `CMD` is assumed then;
//! real task definitions rely on it) and reported as approximated; `NONE` (Docker's "no check")
//! or an empty first element is an error naming `command[0]`. ECS defaults apply: `interval` 30,
//! `timeout` 5, `retries` 3, `startPeriod` off; values outside ECS's ranges (interval 5–300,
//! timeout 2–60, retries 1–10, startPeriod 0–300) are errors naming the field.
//!
//! An essential container gets three probes running the same check
//! (<https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#container-probes>):
//! - `startupProbe`: `periodSeconds = interval`, `timeoutSeconds = timeout`,
//!   `failureThreshold = ceil(startPeriod / interval) + retries`, so failures during
//!   `startPeriod` do not count and one success ends it, as in ECS. Liveness and readiness
//!   probes only start once it succeeds, and for a native sidecar the next init containers and
//!   the main containers wait for it: this is how `dependsOn` HEALTHY is kept (see
//!   [`super::ordering`], and
//!   <https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/>).
//! - `livenessProbe` (`periodSeconds = interval`, `timeoutSeconds = timeout`,
//!   `failureThreshold = retries`): ECS replaces a service's task whose essential container is
//!   unhealthy; the kubelet restarts the container instead, and the controllers stop the task
//!   when an essential container exits (the `ecsbridge.io/essential-containers` annotation).
//!   Standalone ECS tasks are not stopped for being unhealthy; here their container is restarted.
//! - `readinessProbe` (same settings): the task counts as healthy, and receives traffic, only
//!   while the check passes, as ECS derives the task's health from its essential containers.
//!
//! A non-essential container's health does not affect the task in ECS. It gets only the
//! `startupProbe`, and only when another container waits for it to be HEALTHY; otherwise its
//! check has no effect but status, and is reported as ignored.
//!
//! # startTimeout
//!
//! How long a container waits for its dependencies before ECS gives up and stops the task.
//! Kubernetes has no such limit: the pod waits in its init phase until every dependency has
//! started, become healthy or completed, and a sidecar whose `startupProbe` fails is restarted
//! and waited on again. Shrinking the dependency's `startupProbe` budget to the dependent's
//! timeout would not stop the task either (it only restarts the dependency) and would change the
//! check for every other container, so the field is reported as approximated (or ignored when the
//! container has no `dependsOn`).
//!
//! # stopTimeout
//!
//! Kubernetes has one grace period per pod: `terminationGracePeriodSeconds` is the longest
//! `stopTimeout` of the task's containers, counting 30 s (the ECS default) for those that set
//! none. When no container sets it the field stays unset, whose Kubernetes default is also 30 s
//! (<https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/#pod-termination>). When the
//! containers' timeouts differ, each `stopTimeout` is reported as approximated. Kubernetes stops
//! sidecars after the main containers, as ECS stops dependencies after their dependents.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ExecAction, Probe};

use super::{Build, NoteKind, PodError};
use crate::{
    api::ecs::{ContainerCondition, HealthCheck, OSFamily},
    translate::Report,
};

/// Fields this stage translates.
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].healthCheck.command",
    "containerDefinitions[].healthCheck.interval",
    "containerDefinitions[].healthCheck.timeout",
    "containerDefinitions[].healthCheck.retries",
    "containerDefinitions[].healthCheck.startPeriod",
    "containerDefinitions[].startTimeout",
    "containerDefinitions[].stopTimeout",
];

/// ECS's default stop timeout, in seconds (and Kubernetes's default grace period).
const DEFAULT_STOP_TIMEOUT: i64 = 30;

/// A validated ECS health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Check {
    /// The command the probe runs.
    pub command: Vec<String>,
    /// Seconds between checks.
    pub interval: i32,
    /// Seconds before a check counts as failed.
    pub timeout: i32,
    /// Consecutive failures before the container is unhealthy.
    pub retries: i32,
    /// Seconds during which failures do not count (0 = off).
    pub start_period: i32,
}

impl Check {
    /// Validates `hc` of container `i`; `windows` picks the shell for `CMD-SHELL`.
    pub(super) fn from_ecs(
        i: usize,
        hc: &HealthCheck,
        windows: bool,
        report: &mut Report,
    ) -> Result<Self, PodError> {
        let field = |f: &str| format!("containerDefinitions[{i}].healthCheck.{f}");
        let Some(kind) = hc.command.first() else {
            return Err(PodError::Missing {
                field: field("command"),
                hint: "give the check as [\"CMD\", program, args...] or [\"CMD-SHELL\", script]",
            });
        };
        let rest = &hc.command[1..];
        let command = match kind.as_str() {
            "CMD" | "CMD-SHELL" if rest.is_empty() => {
                return Err(PodError::Missing {
                    field: field("command[1]"),
                    hint: "give the program (after \"CMD\") or the script (after \"CMD-SHELL\") to run",
                });
            }
            "CMD" => rest.to_vec(),
            "CMD-SHELL" => {
                // Docker runs the remaining elements after the shell's arguments.
                let shell: &[&str] = if windows {
                    &["cmd", "/S", "/C"]
                } else {
                    &["/bin/sh", "-c"]
                };
                shell
                    .iter()
                    .map(|s| (*s).to_owned())
                    .chain(rest.iter().cloned())
                    .collect()
            }
            other if other.trim().is_empty() || other == "NONE" => {
                return Err(PodError::HealthCheckType {
                    field: field("command[0]"),
                    found: other.to_owned(),
                });
            }
            other => {
                report.note(
                    NoteKind::Approximated,
                    field("command"),
                    format!(
                        "starts with {other:?}, neither \"CMD\" nor \"CMD-SHELL\" (which the ECS API requires); \
                         run as [\"CMD\", ...], the whole array as the command, as the ECS developer guide assumes"
                    ),
                );
                hc.command.clone()
            }
        };
        let range = |f: &str, value: Option<i32>, default: i32, min: i32, max: i32| {
            let v = value.unwrap_or(default);
            if (min..=max).contains(&v) {
                Ok(v)
            } else {
                Err(PodError::OutOfRange {
                    field: field(f),
                    value: i64::from(v),
                    min: i64::from(min),
                    max: i64::from(max),
                })
            }
        };
        Ok(Self {
            command,
            interval: range("interval", hc.interval, 30, 5, 300)?,
            timeout: range("timeout", hc.timeout, 5, 2, 60)?,
            retries: range("retries", hc.retries, 3, 1, 10)?,
            start_period: range("startPeriod", hc.start_period, 0, 0, 300)?,
        })
    }

    fn probe(&self, failure_threshold: i32) -> Probe {
        Probe {
            exec: Some(ExecAction {
                command: Some(self.command.clone()),
            }),
            period_seconds: Some(self.interval),
            timeout_seconds: Some(self.timeout),
            failure_threshold: Some(failure_threshold),
            ..Probe::default()
        }
    }

    /// The startup probe: `startPeriod` worth of checks that do not count, then `retries`.
    pub(super) fn startup(&self) -> Probe {
        let grace = (self.start_period + self.interval - 1) / self.interval;
        self.probe(grace + self.retries)
    }

    /// The liveness and readiness probe.
    pub(super) fn running(&self) -> Probe {
        self.probe(self.retries)
    }
}

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let td = b.td;
    let windows = td
        .runtime_platform
        .as_ref()
        .and_then(|p| p.operating_system_family)
        .is_some_and(|f| f != OSFamily::Linux);
    let waited_healthy: BTreeSet<&str> = td
        .container_definitions
        .iter()
        .flat_map(|c| c.depends_on.iter().flatten())
        .filter(|d| d.condition == ContainerCondition::Healthy)
        .map(|d| d.container_name.as_str())
        .collect();
    for (i, c) in td.container_definitions.iter().enumerate() {
        if let Some(hc) = &c.health_check {
            let check = Check::from_ecs(i, hc, windows, &mut b.report)?;
            let k = &mut b.containers[i];
            if c.essential != Some(false) {
                k.startup_probe = Some(check.startup());
                k.liveness_probe = Some(check.running());
                k.readiness_probe = Some(check.running());
            } else if c.name.as_deref().is_some_and(|n| waited_healthy.contains(n)) {
                k.startup_probe = Some(check.startup());
            } else {
                b.report.note(
                    NoteKind::Ignored,
                    format!("containerDefinitions[{i}].healthCheck"),
                    "the container is not essential and no container waits for it to be HEALTHY: \
                     ECS only reports its health, so no probe is set",
                );
            }
        }
        if let Some(t) = c.start_timeout {
            let field = format!("containerDefinitions[{i}].startTimeout");
            if c.depends_on.as_ref().is_some_and(|d| !d.is_empty()) {
                b.report.note(
                    NoteKind::Approximated,
                    field,
                    format!(
                        "Kubernetes has no time limit on waiting for dependencies: the pod waits until the \
                         containers this one depends on have started, become healthy or completed, instead of \
                         stopping the task after {t} s"
                    ),
                );
            } else {
                b.report.note(
                    NoteKind::Ignored,
                    field,
                    "the container has no dependsOn, so it waits for nothing",
                );
            }
        }
    }
    stop_timeout(b)
}

/// stopTimeout → the pod's `terminationGracePeriodSeconds`.
fn stop_timeout(b: &mut Build<'_>) -> Result<(), PodError> {
    let defs = &b.td.container_definitions;
    if defs.iter().all(|c| c.stop_timeout.is_none()) {
        return Ok(());
    }
    let mut effective = Vec::with_capacity(defs.len());
    for (i, c) in defs.iter().enumerate() {
        let t = c.stop_timeout.map_or(DEFAULT_STOP_TIMEOUT, i64::from);
        if t < 0 {
            return Err(PodError::OutOfRange {
                field: format!("containerDefinitions[{i}].stopTimeout"),
                value: t,
                min: 0,
                max: i64::from(i32::MAX),
            });
        }
        effective.push(t);
    }
    let grace = effective.iter().copied().max().unwrap_or(DEFAULT_STOP_TIMEOUT);
    b.pod.termination_grace_period_seconds = Some(grace);
    if effective.iter().any(|t| *t != grace) {
        for (i, c) in defs.iter().enumerate() {
            if let Some(t) = c.stop_timeout {
                let message = if i64::from(t) < grace {
                    format!(
                        "Kubernetes has one grace period per pod: terminationGracePeriodSeconds is {grace} s, \
                         the longest stopTimeout of the task's containers (30 s where unset), so this container gets up to {grace} s \
                         between SIGTERM and SIGKILL instead of {t} s"
                    )
                } else {
                    format!(
                        "becomes the pod's terminationGracePeriodSeconds ({grace} s); Kubernetes has one grace \
                         period per pod, so the containers with a shorter stopTimeout (30 s where unset) get up to \
                         {grace} s too"
                    )
                };
                b.report.note(
                    NoteKind::Approximated,
                    format!("containerDefinitions[{i}].stopTimeout"),
                    message,
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::translate::{pod::PodTranslation, testing::try_translate};

    fn one(hc: serde_json::Value) -> Result<PodTranslation, PodError> {
        try_translate(
            json!({"family": "t", "containerDefinitions": [{"name": "a", "image": "x", "healthCheck": hc}]}),
        )
    }

    fn notes(t: &PodTranslation, field: &str) -> Vec<(NoteKind, String)> {
        t.report
            .notes
            .iter()
            .filter(|n| n.field == field)
            .map(|n| (n.kind, n.message.clone()))
            .collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn cmd_runs_the_arguments_with_ecs_defaults() {
        let t = one(json!({"command": ["CMD", "curl", "-f", "http://localhost/"]})).expect("translates");
        let spec = t.template.spec.as_ref().expect("spec");
        let c = &spec.containers[0];
        for probe in [&c.startup_probe, &c.liveness_probe, &c.readiness_probe] {
            let p = probe.as_ref().expect("probe");
            assert_eq!(
                p.exec.as_ref().and_then(|e| e.command.clone()),
                Some(strings(&["curl", "-f", "http://localhost/"]))
            );
            assert_eq!(
                (p.period_seconds, p.timeout_seconds, p.failure_threshold),
                (Some(30), Some(5), Some(3))
            );
        }
        assert!(
            notes(&t, "containerDefinitions[0].healthCheck").is_empty()
                && notes(&t, "containerDefinitions[0].healthCheck.command").is_empty(),
            "{:?}",
            t.report
        );
        assert_eq!(spec.termination_grace_period_seconds, None);
    }

    #[test]
    fn cmd_shell_runs_the_script_with_the_shell() {
        let t = one(json!({"command": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"]}))
            .expect("translates");
        let c = &t.template.spec.expect("spec").containers[0];
        assert_eq!(
            c.liveness_probe
                .as_ref()
                .and_then(|p| p.exec.as_ref())
                .and_then(|e| e.command.clone()),
            Some(strings(&["/bin/sh", "-c", "curl -f http://localhost/ || exit 1"]))
        );
        let t = try_translate(json!({
            "family": "t", "runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"},
            "containerDefinitions": [{"name": "a", "image": "x", "healthCheck": {"command": ["CMD-SHELL", "exit 0"]}}]
        }))
        .expect("translates");
        let c = &t.template.spec.expect("spec").containers[0];
        assert_eq!(
            c.startup_probe
                .as_ref()
                .and_then(|p| p.exec.as_ref())
                .and_then(|e| e.command.clone()),
            Some(strings(&["cmd", "/S", "/C", "exit 0"]))
        );
    }

    #[test]
    fn start_period_extends_only_the_startup_probe() {
        let t = one(json!({"command": ["CMD", "true"], "interval": 10, "timeout": 4, "retries": 2, "startPeriod": 25}))
            .expect("translates");
        let c = &t.template.spec.expect("spec").containers[0];
        let startup = c.startup_probe.as_ref().expect("startup");
        // ceil(25 / 10) = 3 checks that do not count, then 2 retries.
        assert_eq!(
            (
                startup.period_seconds,
                startup.timeout_seconds,
                startup.failure_threshold
            ),
            (Some(10), Some(4), Some(5))
        );
        let live = c.liveness_probe.as_ref().expect("liveness");
        assert_eq!(
            (live.period_seconds, live.timeout_seconds, live.failure_threshold),
            (Some(10), Some(4), Some(2))
        );
        assert_eq!(c.readiness_probe, c.liveness_probe);
        assert_eq!(live.initial_delay_seconds, None);
    }

    #[test]
    fn a_command_without_a_type_runs_as_cmd_and_is_reported() {
        let t = one(json!({"command": ["/healthcheck", "--quick"]})).expect("translates");
        let c = &t.template.spec.as_ref().expect("spec").containers[0];
        assert_eq!(
            c.liveness_probe
                .as_ref()
                .and_then(|p| p.exec.as_ref())
                .and_then(|e| e.command.clone()),
            Some(strings(&["/healthcheck", "--quick"]))
        );
        let n = notes(&t, "containerDefinitions[0].healthCheck.command");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, NoteKind::Approximated);
        assert!(n[0].1.contains("\"/healthcheck\""), "{}", n[0].1);
    }

    #[test]
    fn none_and_empty_commands_are_errors_naming_the_element() {
        let err = one(json!({"command": ["NONE"]})).expect_err("NONE");
        assert_eq!(
            err.to_string(),
            "spec.containerDefinitions[0].healthCheck.command[0]: \"NONE\" is not a health check type; start the \
             command with \"CMD\" (run the remaining elements as a command) or \"CMD-SHELL\" (run the next element \
             with the shell)"
        );
        let err = one(json!({"command": [""]})).expect_err("empty type");
        assert!(
            matches!(err, PodError::HealthCheckType { ref field, .. } if field == "containerDefinitions[0].healthCheck.command[0]"),
            "{err}"
        );
        let err = one(json!({"command": []})).expect_err("no command");
        assert!(
            err.to_string()
                .starts_with("spec.containerDefinitions[0].healthCheck.command: required:"),
            "{err}"
        );
        for kind in ["CMD", "CMD-SHELL"] {
            let err = one(json!({"command": [kind]})).expect_err("nothing to run");
            assert!(
                err.to_string()
                    .starts_with("spec.containerDefinitions[0].healthCheck.command[1]: required:"),
                "{err}"
            );
        }
    }

    #[test]
    fn values_outside_the_ecs_ranges_are_errors_naming_the_field() {
        for (key, value, min, max) in [
            ("interval", 4, 5, 300),
            ("interval", 301, 5, 300),
            ("timeout", 1, 2, 60),
            ("timeout", 61, 2, 60),
            ("retries", 0, 1, 10),
            ("retries", 11, 1, 10),
            ("startPeriod", -1, 0, 300),
            ("startPeriod", 301, 0, 300),
        ] {
            let mut hc = json!({"command": ["CMD", "true"]});
            hc[key] = json!(value);
            let err = one(hc).expect_err("out of range");
            assert_eq!(
                err.to_string(),
                format!(
                    "spec.containerDefinitions[0].healthCheck.{key}: {value} is out of range; ECS accepts {min} to {max}"
                )
            );
        }
        for (key, value) in [
            ("interval", 5),
            ("interval", 300),
            ("timeout", 2),
            ("timeout", 60),
            ("retries", 1),
            ("retries", 10),
            ("startPeriod", 0),
            ("startPeriod", 300),
        ] {
            let mut hc = json!({"command": ["CMD", "true"]});
            hc[key] = json!(value);
            one(hc).expect("bounds are accepted");
        }
    }

    #[test]
    fn non_essential_containers_get_a_startup_probe_only_when_waited_on() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x"},
            {"name": "helper", "image": "y", "essential": false, "healthCheck": {"command": ["CMD", "true"]}}
        ]}))
        .expect("translates");
        let spec = t.template.spec.as_ref().expect("spec");
        let helper = &spec.containers[1];
        assert!(
            helper.startup_probe.is_none()
                && helper.liveness_probe.is_none()
                && helper.readiness_probe.is_none()
        );
        assert_eq!(
            notes(&t, "containerDefinitions[1].healthCheck")[0].0,
            NoteKind::Ignored
        );

        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "helper", "condition": "HEALTHY"}]},
            {"name": "helper", "image": "y", "essential": false, "healthCheck": {"command": ["CMD", "true"], "startPeriod": 60}}
        ]}))
        .expect("translates");
        let spec = t.template.spec.as_ref().expect("spec");
        let helper = spec
            .init_containers
            .iter()
            .flatten()
            .find(|c| c.name == "helper")
            .expect("helper is a sidecar");
        assert_eq!(
            helper.startup_probe.as_ref().and_then(|p| p.failure_threshold),
            Some(2 + 3)
        );
        assert!(helper.liveness_probe.is_none() && helper.readiness_probe.is_none());
        assert!(notes(&t, "containerDefinitions[1].healthCheck").is_empty());
    }

    #[test]
    fn start_timeout_is_approximated_with_dependencies_and_ignored_without() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "startTimeout": 90, "dependsOn": [{"containerName": "db", "condition": "START"}]},
            {"name": "db", "image": "y", "startTimeout": 10}
        ]}))
        .expect("translates");
        let n = notes(&t, "containerDefinitions[0].startTimeout");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, NoteKind::Approximated);
        assert!(n[0].1.contains("90 s"), "{}", n[0].1);
        assert_eq!(
            notes(&t, "containerDefinitions[1].startTimeout")[0].0,
            NoteKind::Ignored
        );
    }

    #[test]
    fn stop_timeout_is_the_longest_of_the_containers() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "stopTimeout": 90},
            {"name": "b", "image": "y", "stopTimeout": 90}
        ]}))
        .expect("translates");
        assert_eq!(
            t.template
                .spec
                .as_ref()
                .expect("spec")
                .termination_grace_period_seconds,
            Some(90)
        );
        assert!(
            t.report.is_empty(),
            "same timeouts, nothing to report: {:?}",
            t.report
        );

        // An unset stopTimeout counts as ECS's 30 s.
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "stopTimeout": 10},
            {"name": "b", "image": "y"}
        ]}))
        .expect("translates");
        assert_eq!(
            t.template
                .spec
                .as_ref()
                .expect("spec")
                .termination_grace_period_seconds,
            Some(30)
        );
        let n = notes(&t, "containerDefinitions[0].stopTimeout");
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, NoteKind::Approximated);
        assert!(n[0].1.contains("30 s") && n[0].1.contains("10 s"), "{}", n[0].1);

        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "stopTimeout": 120},
            {"name": "b", "image": "y", "stopTimeout": 5}
        ]}))
        .expect("translates");
        assert_eq!(
            t.template
                .spec
                .as_ref()
                .expect("spec")
                .termination_grace_period_seconds,
            Some(120)
        );
        let longest = notes(&t, "containerDefinitions[0].stopTimeout");
        assert_eq!(longest.len(), 1);
        assert!(
            longest[0]
                .1
                .starts_with("becomes the pod's terminationGracePeriodSeconds (120 s)"),
            "{}",
            longest[0].1
        );
        let shorter = notes(&t, "containerDefinitions[1].stopTimeout");
        assert_eq!(shorter.len(), 1);
        assert!(
            shorter[0]
                .1
                .ends_with("up to 120 s between SIGTERM and SIGKILL instead of 5 s"),
            "{}",
            shorter[0].1
        );

        let err = try_translate(
            json!({"family": "t", "containerDefinitions": [{"name": "a", "image": "x", "stopTimeout": -1}]}),
        )
        .expect_err("negative");
        assert!(
            err.to_string()
                .starts_with("spec.containerDefinitions[0].stopTimeout: -1 is out of range"),
            "{err}"
        );
    }
}
