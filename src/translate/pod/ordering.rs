//! essential and dependsOn → native sidecars and init containers, in an order that respects
//! every dependency.
//!
//! Kubernetes starts a pod's init containers one after the other, then its main containers
//! (<https://kubernetes.io/docs/concepts/workloads/pods/init-containers/>). A regular init
//! container must exit with code 0 before the next one starts; a native sidecar (an init
//! container with `restartPolicy: Always`) only has to start, and to pass its `startupProbe` if
//! it has one, and then runs beside the main containers until they have stopped
//! (<https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/>, GA in 1.33).
//!
//! Every container that another waits for (`dependsOn`) therefore moves into `initContainers`:
//! - waited for with `START` or `HEALTHY` → a native sidecar. For `HEALTHY` the container needs a
//!   `healthCheck` (ECS rejects the dependency otherwise, and so does this translation); the
//!   health stage gave it a `startupProbe`, which holds back everything after it until the check
//!   passes once, as ECS checks HEALTHY only at startup.
//! - waited for with `SUCCESS` → a regular init container: it must exit 0 before the rest start.
//! - waited for with `COMPLETE` (any exit code) → a regular init container whose command is
//!   wrapped in `/bin/sh -c '"$@"; exit 0'` so that its exit code is ignored. That needs the
//!   image's entry point (ECS `entryPoint`) to be known and a `/bin/sh` in the image, and is
//!   reported as approximated; without `entryPoint` (or on Windows) the container runs unwrapped
//!   and a failure holds the task back as `SUCCESS` would, also reported.
//!
//! ECS requires `COMPLETE` and `SUCCESS` targets to be non-essential (a task stops when an
//! essential container exits); an essential target is an error. A container waited for with
//! both kinds of condition runs to completion (the stricter), reported on the START/HEALTHY
//! dependency. Regular init containers cannot have probes, so a `healthCheck` on one is reported
//! as ignored.
//!
//! The init containers are ordered by a topological sort of the `dependsOn` graph that keeps the
//! task definition's container order where the dependencies allow it, so every dependency comes
//! before its dependents, including a sidecar that itself waits for a regular init container
//! (both are init containers; the sidecar comes after it). Main containers wait for every init
//! container, so their dependencies hold as well; they may wait longer than in ECS, where a
//! container waits only for its own dependencies. Cycles are errors naming the containers in the
//! cycle, references to unknown containers errors naming both containers. Init containers that an
//! earlier stage added stay first. On shutdown Kubernetes stops sidecars after the main
//! containers, in reverse order, as ECS stops dependencies after their dependents.
//!
//! `essential`: when an essential container exits, ECS stops the task. The cluster does not do
//! that (the kubelet restarts the container), so the controllers enforce it from the
//! `ecsbridge.io/essential-containers` annotation ([`super::ESSENTIAL_ANNOTATION`]), which lists
//! Kubernetes container names; moving a container between `containers` and `initContainers` keeps
//! its name, and the controllers look for the names in both lists (an essential sidecar stays
//! essential; a regular init container is never essential). Non-essential main containers stay
//! ordinary containers.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap},
};

use k8s_openapi::api::core::v1::Container;

use super::{Build, NoteKind, PodError};
use crate::api::ecs::{ContainerCondition, OSFamily};

/// Fields this stage translates (`essential` is carried by the pipeline as an annotation).
pub(super) const HANDLED: &[&str] = &[
    "containerDefinitions[].dependsOn[].containerName",
    "containerDefinitions[].dependsOn[].condition",
];

/// What a container becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// A main container (no one waits for it).
    Main,
    /// A native sidecar (waited for with START or HEALTHY).
    Sidecar,
    /// A regular init container (waited for with COMPLETE or SUCCESS).
    Init,
}

/// One `dependsOn` entry: `from` waits for `to`.
#[derive(Debug, Clone, Copy)]
struct Edge {
    /// The dependent container (index in the task definition).
    from: usize,
    /// Index of the entry in `from`'s dependsOn.
    entry: usize,
    /// The container waited for.
    to: usize,
    condition: ContainerCondition,
}

/// Orders `n` containers so that each comes after everything it depends on (`deps[i]` lists
/// the containers `i` waits for), keeping index order where the dependencies allow; on a cycle,
/// the containers of one cycle, each depending on the next, the first repeated at the end.
fn linearise(deps: &[Vec<usize>]) -> Result<Vec<usize>, Vec<usize>> {
    let n = deps.len();
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..n).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.push(Reverse(j));
            }
        }
    }
    if order.len() == n {
        return Ok(order);
    }
    // Every container left waits for another one left: follow the dependencies until one repeats.
    let left: Vec<bool> = (0..n).map(|i| waiting[i] > 0).collect();
    let mut path = vec![(0..n).find(|&i| left[i]).unwrap_or_default()];
    loop {
        let last = path[path.len() - 1];
        let Some(&next) = deps[last].iter().find(|&&d| left[d]) else {
            return Err(path); // unreachable: a container left waits for one left
        };
        if let Some(p) = path.iter().position(|&i| i == next) {
            let mut cycle = path.split_off(p);
            cycle.push(next);
            return Err(cycle);
        }
        path.push(next);
    }
}

fn condition_name(c: ContainerCondition) -> &'static str {
    match c {
        ContainerCondition::Start => "START",
        ContainerCondition::Complete => "COMPLETE",
        ContainerCondition::Success => "SUCCESS",
        ContainerCondition::Healthy => "HEALTHY",
    }
}

/// Applies this stage to the pod under construction.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let defs = &b.td.container_definitions;
    let n = defs.len();
    let name = |i: usize| defs[i].name.clone().unwrap_or_default();
    let index: BTreeMap<&str, usize> = defs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.name.as_deref().map(|n| (n, i)))
        .collect();
    let mut edges = Vec::new();
    for (from, c) in defs.iter().enumerate() {
        for (entry, d) in c.depends_on.iter().flatten().enumerate() {
            let Some(&to) = index.get(d.container_name.as_str()) else {
                return Err(PodError::UnknownDependency {
                    field: format!("containerDefinitions[{from}].dependsOn[{entry}].containerName"),
                    container: name(from),
                    dependency: d.container_name.clone(),
                });
            };
            edges.push(Edge {
                from,
                entry,
                to,
                condition: d.condition,
            });
        }
    }
    if edges.is_empty() {
        return Ok(());
    }
    let mut deps = vec![Vec::new(); n];
    for e in &edges {
        deps[e.from].push(e.to);
    }
    let order = linearise(&deps).map_err(|cycle| PodError::DependencyCycle {
        containers: cycle.into_iter().map(name).collect(),
    })?;

    let mut role = vec![Role::Main; n];
    for e in &edges {
        let wanted = match e.condition {
            ContainerCondition::Start | ContainerCondition::Healthy => Role::Sidecar,
            ContainerCondition::Complete | ContainerCondition::Success => Role::Init,
        };
        role[e.to] = role[e.to].max(wanted);
    }
    let windows =
        b.td.runtime_platform
            .as_ref()
            .and_then(|p| p.operating_system_family)
            .is_some_and(|f| f != OSFamily::Linux);
    // Regular init containers whose exit code is ignored (every dependency on them is COMPLETE).
    let mut wrap = vec![false; n];
    for e in &edges {
        let field = format!("containerDefinitions[{}].dependsOn[{}]", e.from, e.entry);
        let unsatisfiable = |reason: String| PodError::UnsatisfiableDependency {
            field: field.clone(),
            container: name(e.from),
            dependency: name(e.to),
            reason,
        };
        let (dependent, dependency) = (name(e.from), name(e.to));
        match e.condition {
            ContainerCondition::Healthy if defs[e.to].health_check.is_none() => {
                return Err(unsatisfiable(format!(
                    "HEALTHY needs a healthCheck on {dependency:?}; give {dependency:?} a healthCheck or use condition START"
                )));
            }
            ContainerCondition::Complete | ContainerCondition::Success
                if defs[e.to].essential != Some(false) =>
            {
                return Err(unsatisfiable(format!(
                    "{} needs {dependency:?} to be non-essential (ECS stops the task when an essential container exits); \
                     set \"essential\": false on {dependency:?} or use condition START",
                    condition_name(e.condition)
                )));
            }
            ContainerCondition::Start | ContainerCondition::Healthy if role[e.to] == Role::Init => {
                b.report.note(
                    NoteKind::Approximated,
                    field,
                    format!(
                        "another container waits for {dependency:?} to exit, so it runs to completion as an init \
                         container and {dependent:?} starts after it has exited, not once it is {}",
                        if e.condition == ContainerCondition::Start { "started" } else { "healthy" }
                    ),
                );
            }
            _ => {}
        }
    }
    for (to, wrapped) in wrap.iter_mut().enumerate() {
        let complete: Vec<&Edge> = edges
            .iter()
            .filter(|e| e.to == to && e.condition == ContainerCondition::Complete)
            .collect();
        if complete.is_empty() {
            continue;
        }
        let success = edges
            .iter()
            .any(|e| e.to == to && e.condition == ContainerCondition::Success);
        let dependency = name(to);
        let reason = if windows {
            Some("Windows containers have no /bin/sh to wrap it in")
        } else if b.containers[to].command.is_none() {
            Some("its entryPoint is not given, so it cannot be wrapped to ignore the exit code")
        } else if success {
            Some("another container waits for it to SUCCEED")
        } else {
            None
        };
        for e in complete {
            let field = format!(
                "containerDefinitions[{}].dependsOn[{}].condition",
                e.from, e.entry
            );
            let message = match reason {
                None => format!(
                    "{dependency:?} runs as an init container wrapped in /bin/sh -c so that its exit code is ignored \
                     (the image needs /bin/sh)"
                ),
                Some(why) => format!(
                    "waits for {dependency:?} to exit with code 0, as SUCCESS: {why}; if it fails, Kubernetes runs it again \
                     instead of starting {:?}",
                    name(e.from)
                ),
            };
            b.report.note(NoteKind::Approximated, field, message);
        }
        *wrapped = reason.is_none();
    }

    let mut slots: Vec<Option<Container>> = std::mem::take(&mut b.containers).into_iter().map(Some).collect();
    let mut init = b.pod.init_containers.take().unwrap_or_default();
    for &i in order.iter().filter(|&&i| role[i] != Role::Main) {
        let Some(mut c) = slots[i].take() else {
            continue;
        };
        if role[i] == Role::Sidecar {
            c.restart_policy = Some("Always".to_owned());
        } else {
            // Regular init containers may not have probes (see the init containers page).
            let had_probes = c.startup_probe.take().is_some()
                | c.liveness_probe.take().is_some()
                | c.readiness_probe.take().is_some();
            // (Without probes, the health stage has reported the check already.)
            if had_probes {
                b.report.note(
                    NoteKind::Ignored,
                    format!("containerDefinitions[{i}].healthCheck"),
                    "the container runs to completion as an init container, which Kubernetes allows no probes",
                );
            }
            if wrap[i] {
                let mut command = vec![
                    "/bin/sh".to_owned(),
                    "-c".to_owned(),
                    "\"$@\"; exit 0".to_owned(),
                    "ecs-complete".to_owned(),
                ];
                command.extend(c.command.take().into_iter().flatten());
                command.extend(c.args.take().into_iter().flatten());
                c.command = Some(command);
            }
        }
        init.push(c);
    }
    b.pod.init_containers = Some(init);
    b.containers = slots.into_iter().flatten().collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::{
        api::ecs::RegisterTaskDefinition,
        translate::{
            pod::{ESSENTIAL_ANNOTATION, PodTranslation, pod_template},
            testing::{corpus_dir, try_translate},
        },
    };

    fn names(cs: Option<&Vec<Container>>) -> Vec<&str> {
        cs.into_iter().flatten().map(|c| c.name.as_str()).collect()
    }

    fn init<'a>(t: &'a PodTranslation, name: &str) -> &'a Container {
        t.template
            .spec
            .as_ref()
            .and_then(|s| s.init_containers.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.name == name))
            .expect("init container")
    }

    fn corpus(file: &str) -> PodTranslation {
        let path = corpus_dir().join(file);
        let text = std::fs::read_to_string(&path).expect("corpus file");
        let td: RegisterTaskDefinition = serde_json::from_str(&text).expect("task definition");
        pod_template("t", &td, 1).expect("translates")
    }

    #[test]
    fn without_dependencies_nothing_moves() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x"}, {"name": "b", "image": "y", "essential": false}
        ]}))
        .expect("translates");
        let spec = t.template.spec.expect("spec");
        assert_eq!(names(Some(&spec.containers)), ["a", "b"]);
        assert_eq!(spec.init_containers, None);
    }

    #[test]
    fn start_makes_a_native_sidecar() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "proxy", "condition": "START"}]},
            {"name": "proxy", "image": "y"}
        ]}))
        .expect("translates");
        let spec = t.template.spec.as_ref().expect("spec");
        assert_eq!(names(Some(&spec.containers)), ["app"]);
        assert_eq!(names(spec.init_containers.as_ref()), ["proxy"]);
        assert_eq!(init(&t, "proxy").restart_policy.as_deref(), Some("Always"));
        assert!(t.report.is_empty(), "{:?}", t.report);
    }

    #[test]
    fn healthy_makes_a_sidecar_with_a_startup_probe() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "envoy", "condition": "HEALTHY"}]},
            {"name": "envoy", "image": "y", "healthCheck": {"command": ["CMD-SHELL", "curl -s localhost:9901/ready"]}}
        ]}))
        .expect("translates");
        let envoy = init(&t, "envoy");
        assert_eq!(envoy.restart_policy.as_deref(), Some("Always"));
        assert!(
            envoy.startup_probe.is_some()
                && envoy.liveness_probe.is_some()
                && envoy.readiness_probe.is_some()
        );
    }

    #[test]
    fn healthy_without_a_health_check_names_both_containers() {
        let err = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "envoy", "condition": "HEALTHY"}]},
            {"name": "envoy", "image": "y"}
        ]}))
        .expect_err("no health check");
        assert_eq!(
            err.to_string(),
            "spec.containerDefinitions[0].dependsOn[0]: container \"app\" cannot depend on \"envoy\": HEALTHY needs a \
             healthCheck on \"envoy\"; give \"envoy\" a healthCheck or use condition START"
        );
    }

    #[test]
    fn success_makes_a_plain_init_container() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "migrate", "condition": "SUCCESS"}]},
            {"name": "migrate", "image": "y", "essential": false, "entryPoint": ["/migrate"], "command": ["up"]}
        ]}))
        .expect("translates");
        let m = init(&t, "migrate");
        assert_eq!(m.restart_policy, None);
        assert_eq!(
            m.command.as_deref(),
            Some(&["/migrate".to_owned()][..]),
            "unwrapped"
        );
        assert_eq!(m.args.as_deref(), Some(&["up".to_owned()][..]));
        assert!(t.report.is_empty(), "{:?}", t.report);
    }

    #[test]
    fn complete_wraps_the_command_to_ignore_the_exit_code() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "warm", "condition": "COMPLETE"}]},
            {"name": "warm", "image": "y", "essential": false, "entryPoint": ["/warm", "-v"], "command": ["cache"]}
        ]}))
        .expect("translates");
        let w = init(&t, "warm");
        assert_eq!(w.restart_policy, None);
        let want: Vec<String> = [
            "/bin/sh",
            "-c",
            "\"$@\"; exit 0",
            "ecs-complete",
            "/warm",
            "-v",
            "cache",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        assert_eq!(w.command.as_ref(), Some(&want));
        assert_eq!(w.args, None);
        let note = t
            .report
            .notes
            .iter()
            .find(|n| n.field == "containerDefinitions[0].dependsOn[0].condition")
            .expect("note");
        assert_eq!(note.kind, NoteKind::Approximated);
        assert!(note.message.contains("/bin/sh"), "{}", note.message);
    }

    #[test]
    fn complete_without_an_entry_point_runs_as_success_and_says_so() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "warm", "condition": "COMPLETE"}]},
            {"name": "warm", "image": "y", "essential": false, "command": ["cache"]}
        ]}))
        .expect("translates");
        let w = init(&t, "warm");
        assert_eq!(
            (w.command.as_ref(), w.args.as_deref()),
            (None, Some(&["cache".to_owned()][..]))
        );
        let note = t
            .report
            .notes
            .iter()
            .find(|n| n.field == "containerDefinitions[0].dependsOn[0].condition")
            .expect("note");
        assert!(
            note.message.contains("as SUCCESS") && note.message.contains("entryPoint"),
            "{}",
            note.message
        );
    }

    #[test]
    fn complete_and_success_need_a_non_essential_container() {
        for condition in ["COMPLETE", "SUCCESS"] {
            let err = try_translate(json!({"family": "t", "containerDefinitions": [
                {"name": "app", "image": "x", "dependsOn": [{"containerName": "setup", "condition": condition}]},
                {"name": "setup", "image": "y"}
            ]}))
            .expect_err("essential");
            assert_eq!(
                err.to_string(),
                format!(
                    "spec.containerDefinitions[0].dependsOn[0]: container \"app\" cannot depend on \"setup\": {condition} \
                     needs \"setup\" to be non-essential (ECS stops the task when an essential container exits); set \
                     \"essential\": false on \"setup\" or use condition START"
                )
            );
        }
    }

    #[test]
    fn unknown_containers_are_errors_naming_both() {
        let err = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x"},
            {"name": "b", "image": "y", "dependsOn": [{"containerName": "a", "condition": "START"}, {"containerName": "ghost", "condition": "START"}]}
        ]}))
        .expect_err("unknown");
        assert_eq!(
            err.to_string(),
            "spec.containerDefinitions[1].dependsOn[1].containerName: container \"b\" depends on \"ghost\", which is not \
             a container of this task definition; name one of its containers"
        );
    }

    #[test]
    fn cycles_are_errors_naming_the_containers() {
        let err = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "web", "image": "x", "dependsOn": [{"containerName": "a", "condition": "START"}]},
            {"name": "a", "image": "x", "dependsOn": [{"containerName": "b", "condition": "START"}]},
            {"name": "b", "image": "x", "dependsOn": [{"containerName": "c", "condition": "START"}]},
            {"name": "c", "image": "x", "dependsOn": [{"containerName": "a", "condition": "START"}]}
        ]}))
        .expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "spec.containerDefinitions: dependsOn forms a cycle: a → b → c → a; remove one of these dependencies"
        );
        let err = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "a", "image": "x", "dependsOn": [{"containerName": "a", "condition": "START"}]}
        ]}))
        .expect_err("self");
        assert_eq!(
            err,
            PodError::DependencyCycle {
                containers: vec!["a".into(), "a".into()]
            }
        );
    }

    #[test]
    fn a_sidecar_that_waits_for_an_init_container_comes_after_it() {
        // proxy is a sidecar (app waits for it to START) and itself waits for certs to succeed,
        // listed after it: certs must run first.
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "proxy", "condition": "START"}]},
            {"name": "proxy", "image": "y", "dependsOn": [{"containerName": "certs", "condition": "SUCCESS"}]},
            {"name": "certs", "image": "z", "essential": false},
            {"name": "log", "image": "w"}
        ]}))
        .expect("translates");
        let spec = t.template.spec.as_ref().expect("spec");
        assert_eq!(names(spec.init_containers.as_ref()), ["certs", "proxy"]);
        assert_eq!(names(Some(&spec.containers)), ["app", "log"]);
        assert_eq!(init(&t, "certs").restart_policy, None);
        assert_eq!(init(&t, "proxy").restart_policy.as_deref(), Some("Always"));
    }

    #[test]
    fn the_order_keeps_the_task_definition_order_where_it_can() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [
                {"containerName": "c", "condition": "START"}, {"containerName": "b", "condition": "START"}, {"containerName": "a", "condition": "START"}
            ]},
            {"name": "c", "image": "x", "dependsOn": [{"containerName": "a", "condition": "START"}]},
            {"name": "b", "image": "x"},
            {"name": "a", "image": "x"}
        ]}))
        .expect("translates");
        let spec = t.template.spec.as_ref().expect("spec");
        assert_eq!(names(spec.init_containers.as_ref()), ["b", "a", "c"]);
    }

    #[test]
    fn a_container_waited_for_to_start_and_to_complete_runs_to_completion() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app", "image": "x", "dependsOn": [{"containerName": "setup", "condition": "START"}]},
            {"name": "job", "image": "x", "dependsOn": [{"containerName": "setup", "condition": "SUCCESS"}]},
            {"name": "setup", "image": "y", "essential": false, "healthCheck": {"command": ["CMD", "true"]}}
        ]}))
        .expect("translates");
        let setup = init(&t, "setup");
        assert_eq!(setup.restart_policy, None);
        assert!(
            setup.startup_probe.is_none()
                && setup.liveness_probe.is_none()
                && setup.readiness_probe.is_none()
        );
        let fields: Vec<(&str, NoteKind)> = t
            .report
            .notes
            .iter()
            .map(|n| (n.field.as_str(), n.kind))
            .collect();
        assert!(
            fields.contains(&("containerDefinitions[0].dependsOn[0]", NoteKind::Approximated)),
            "{fields:?}"
        );
        assert!(
            fields.contains(&("containerDefinitions[2].healthCheck", NoteKind::Ignored)),
            "{fields:?}"
        );
    }

    #[test]
    fn the_essential_annotation_still_names_containers_of_the_pod() {
        let t = try_translate(json!({"family": "t", "containerDefinitions": [
            {"name": "app_1", "image": "x", "dependsOn": [{"containerName": "proxy", "condition": "START"}, {"containerName": "setup", "condition": "SUCCESS"}]},
            {"name": "proxy", "image": "y"},
            {"name": "setup", "image": "z", "essential": false}
        ]}))
        .expect("translates");
        let spec = t.template.spec.as_ref().expect("spec");
        let annotation = &t
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .expect("annotations")[ESSENTIAL_ANNOTATION];
        assert_eq!(annotation, "app-1,proxy");
        let all: BTreeSet<&str> = names(Some(&spec.containers))
            .into_iter()
            .chain(names(spec.init_containers.as_ref()))
            .collect();
        for n in annotation.split(',') {
            assert!(all.contains(n), "{n} is in the pod");
        }
        assert_eq!(names(spec.init_containers.as_ref()), ["proxy", "setup"]);
    }

    #[test]
    fn corpus_healthy_dependency_is_a_sidecar_gated_by_its_check() {
        let t = corpus("taskdef-ecsagent-container-ordering-healthy.json");
        let spec = t.template.spec.as_ref().expect("spec");
        assert_eq!(names(Some(&spec.containers)), ["healthy"]);
        assert_eq!(names(spec.init_containers.as_ref()), ["healthy-dependency"]);
        let dep = init(&t, "healthy-dependency");
        assert_eq!(dep.restart_policy.as_deref(), Some("Always"));
        let startup = dep.startup_probe.as_ref().expect("startup probe");
        assert_eq!(
            startup
                .exec
                .as_ref()
                .and_then(|e| e.command.as_ref())
                .map(|c| c[..2].to_vec()),
            Some(vec!["/bin/sh".to_owned(), "-c".to_owned()])
        );
        assert_eq!(
            (
                startup.period_seconds,
                startup.timeout_seconds,
                startup.failure_threshold
            ),
            (Some(5), Some(50), Some(3))
        );
    }

    #[test]
    fn corpus_app_mesh_envoy_is_a_sidecar_and_log_router_stays_main() {
        let t = corpus("taskdef-firelens-appmesh-envoy-colorteller.json");
        let spec = t.template.spec.as_ref().expect("spec");
        assert_eq!(names(Some(&spec.containers)), ["log-router", "app"]);
        assert_eq!(names(spec.init_containers.as_ref()), ["envoy"]);
        assert!(init(&t, "envoy").startup_probe.is_some());
    }

    #[test]
    fn corpus_laravel_php_starts_before_nginx() {
        let t = corpus("taskdef-laravel-fargate-nginx-php-envfiles.json");
        let spec = t.template.spec.as_ref().expect("spec");
        assert_eq!(names(Some(&spec.containers)), ["nginx"]);
        assert_eq!(names(spec.init_containers.as_ref()), ["php"]);
        assert_eq!(init(&t, "php").restart_policy.as_deref(), Some("Always"));
    }

    #[test]
    fn corpus_adot_collector_starts_first_for_three_containers() {
        let t = corpus("taskdef-adot-fargate-sidecar-xray-dependson.json");
        let spec = t.template.spec.as_ref().expect("spec");
        assert_eq!(
            names(Some(&spec.containers)),
            ["aws-otel-emitter", "nginx", "aoc-statsd-emitter"]
        );
        assert_eq!(names(spec.init_containers.as_ref()), ["aws-otel-collector"]);
        // Its check ["/healthcheck"] has no CMD: run as CMD and reported.
        assert!(
            t.report
                .notes
                .iter()
                .any(|n| n.field == "containerDefinitions[0].healthCheck.command"
                    && n.kind == NoteKind::Approximated),
            "{:?}",
            t.report
        );
    }

    const CONDITIONS: [&str; 4] = ["START", "HEALTHY", "COMPLETE", "SUCCESS"];

    /// A task definition over `n` containers with `edges` (dependent, dependency, condition).
    fn graph(n: usize, edges: &[(usize, usize, usize)]) -> serde_json::Value {
        let completes: BTreeSet<usize> = edges.iter().filter(|e| e.2 >= 2).map(|e| e.1).collect();
        let defs: Vec<serde_json::Value> = (0..n)
            .map(|i| {
                let deps: Vec<serde_json::Value> = edges
                    .iter()
                    .filter(|e| e.0 == i)
                    .map(|e| json!({"containerName": format!("c{}", e.1), "condition": CONDITIONS[e.2]}))
                    .collect();
                json!({
                    "name": format!("c{i}"), "image": "x", "essential": !completes.contains(&i),
                    "entryPoint": ["/bin/run"], "healthCheck": {"command": ["CMD", "true"]}, "dependsOn": deps
                })
            })
            .collect();
        json!({"family": "t", "containerDefinitions": defs})
    }

    /// `n` containers, a hidden order of them, and for each pair whether the later one depends on
    /// the earlier and with which condition.
    fn dag() -> impl Strategy<Value = (usize, Vec<(usize, usize, usize)>)> {
        (1usize..=8).prop_flat_map(|n| {
            (
                Just(n),
                Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
                proptest::collection::vec((any::<bool>(), 0usize..4), n * n),
            )
                .prop_map(|(n, rank, picks)| {
                    let mut edges = Vec::new();
                    for a in 0..n {
                        for b in 0..n {
                            let (take, cond) = picks[a * n + b];
                            if take && rank[b] < rank[a] {
                                edges.push((a, b, cond));
                            }
                        }
                    }
                    (n, edges)
                })
        })
    }

    proptest! {
        #[test]
        fn acyclic_graphs_linearise_respecting_every_edge((n, edges) in dag()) {
            let t = try_translate(graph(n, &edges)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let spec = t.template.spec.as_ref().expect("spec");
            let inits = names(spec.init_containers.as_ref());
            let mains = names(Some(&spec.containers));
            let mut all: Vec<&str> = inits.iter().chain(&mains).copied().collect();
            all.sort_unstable();
            let mut want: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
            want.sort_unstable();
            prop_assert_eq!(all, want.iter().map(String::as_str).collect::<Vec<_>>(), "each container exactly once");
            prop_assert!(!mains.is_empty(), "a pod needs a main container");
            let pos = |i: usize| inits.iter().position(|c| *c == format!("c{i}"));
            for &(from, to, cond) in &edges {
                let to_pos = pos(to);
                prop_assert!(to_pos.is_some(), "c{} is waited for, so an init container", to);
                if let Some(from_pos) = pos(from) {
                    prop_assert!(to_pos < Some(from_pos), "c{} before c{}", to, from);
                }
                let sidecar = spec.init_containers.iter().flatten()
                    .find(|c| c.name == format!("c{to}"))
                    .is_some_and(|c| c.restart_policy.as_deref() == Some("Always"));
                let runs_to_completion = edges.iter().any(|e| e.1 == to && e.2 >= 2);
                prop_assert_eq!(sidecar, !runs_to_completion, "c{} via {}", to, CONDITIONS[cond]);
            }
        }

        #[test]
        fn cycles_are_always_rejected(
            (n, mut edges) in dag(),
            cycle in proptest::collection::vec(0usize..8, 1..=8).prop_shuffle(),
            cond in 0usize..4,
        ) {
            // A cycle through distinct containers (one of them: a self-dependency).
            let mut members: Vec<usize> = Vec::new();
            for c in cycle.into_iter().map(|c| c % n) {
                if !members.contains(&c) {
                    members.push(c);
                }
            }
            for (k, &a) in members.iter().enumerate() {
                edges.push((a, members[(k + 1) % members.len()], cond));
            }
            let err = try_translate(graph(n, &edges)).expect_err("cycle");
            let PodError::DependencyCycle { containers } = err else {
                return Err(TestCaseError::fail(format!("not a cycle error: {err}")));
            };
            prop_assert!(containers.len() >= 2);
            prop_assert_eq!(containers.first(), containers.last());
            for pair in containers.windows(2) {
                let has = edges.iter().any(|e| format!("c{}", e.0) == pair[0] && format!("c{}", e.1) == pair[1]);
                prop_assert!(has, "{} depends on {}", pair[0], pair[1]);
            }
        }
    }
}
