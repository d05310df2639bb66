//! Resources: container and task-level cpu and memory → requests and limits, the Fargate task
//! sizes, GPUs and Neuron devices, and the task's ephemeral storage.
//!
//! The rules (design.md "Resources"; ecs-reference §1.3, §1.8, §1.9):
//!
//! - 1024 ECS cpu units = 1 vCPU = 1000m. Container `cpu` is a share (Linux CpuShares), so it
//!   becomes `requests.cpu`, never a limit on its own.
//! - Container `memory` (hard limit) → `limits.memory`, and the request when there is no
//!   `memoryReservation`; `memoryReservation` (soft limit) → `requests.memory`. A reservation
//!   above `memory` is an error (ECS rejects it, and Kubernetes rejects a request above a limit).
//! - Task-level `cpu` / `memory` (`"1024"`, `"1 vCPU"`, `"2 GB"`, ...) bound the whole task in
//!   ECS: placement reserves them, and the task's cgroup is capped at them. From Kubernetes 1.34
//!   (`--kubernetes-version`; the operator asks its API server) they become the pod's own
//!   `spec.resources` requests and limits, exactly ECS's meaning
//!   (<https://kubernetes.io/docs/tasks/configure-pod-container/assign-pod-level-resources/>,
//!   beta and on by default in 1.34), and each container keeps only its own values. Before 1.34
//!   there is no pod-wide cap, so they are spread onto the containers:
//!   * requests: a container that sets `cpu` (or `memoryReservation`, or `memory`) keeps its
//!     value; what is left of the task value is split equally among the containers that set
//!     none (for memory, a container's share is capped at its `memory`, and what it cannot take
//!     goes to the others). The requests never add up to more than the task value: a task
//!     definition whose container cpu or memory reservations add up to more is an error, as in
//!     ECS ("The sum of all container 'cpu' values cannot be greater than the value of the task
//!     'cpu'"), and so is a container `memory` above the task memory.
//!   * limits: every container is limited to what ECS would let it use alone: `limits.cpu` = the
//!     task cpu (ecs-reference §1.9: a CPU limit only when a task cpu is set), `limits.memory` =
//!     its `memory`, else the task memory. One container is thus bounded exactly as in ECS;
//!     several containers could together use more than the task, which is reported.
//!   * every container with a limit gets an explicit request (possibly `0`): Kubernetes copies a
//!     limit into a missing request, which would break the bound
//!     (<https://kubernetes.io/docs/concepts/configuration/manage-resources-containers/#requests-and-limits>).
//! - `requiresCompatibilities` containing `FARGATE`: task cpu and memory are required and must be
//!   a Fargate size (ecs-reference §1.3). Other launch types are reported as ignored: Kubernetes
//!   has one launch type, and where pods run is the capacity provider's business.
//! - `resourceRequirements`: `GPU` N → `nvidia.com/gpu: N` (limits and the equal request,
//!   <https://kubernetes.io/docs/tasks/manage-gpus/scheduling-gpus/>); `NeuronDevice` N →
//!   `aws.amazon.com/neuron: N` (the Neuron device plugin's whole-device resource,
//!   <https://awsdocs-neuron.readthedocs-hosted.com/en/latest/containers/tutorials/k8s-neuron-device-plugin.html>).
//!   ECS's `ALL` (every device of the instance) is an error: Kubernetes needs a count.
//!   `sharingStrategy.nvidiaMps` → one GPU replica, reported (MPS sharing is configured in the
//!   NVIDIA device plugin, not per pod). `InferenceAccelerator` is ignored and reported (Elastic
//!   Inference is discontinued).
//! - `ephemeralStorage.sizeInGiB` (21–200) → an `ephemeral-storage` request and limit of that
//!   size on one container: the first essential container that no other waits on to COMPLETE or
//!   SUCCESS (those become init containers). The kubelet evicts a pod whose containers and
//!   emptyDir volumes together use more than the sum of its containers' limits
//!   (<https://kubernetes.io/docs/concepts/storage/ephemeral-storage/>), so the whole task is
//!   bounded by the one limit, as Fargate bounds the task's disk; reported as an approximation
//!   (eviction instead of a full disk).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::{api::core::v1::ResourceRequirements, apimachinery::pkg::api::resource::Quantity};

use super::{
    Build, NoteKind, PodError, Report,
    apportion::{apportion_millis, split, units_to_millis},
    size,
};
use crate::api::{
    NumberOrString,
    ecs::{Compatibility, ContainerCondition, ContainerDefinition, RegisterTaskDefinition, ResourceType},
};

/// Fields this module translates.
pub(super) const HANDLED: &[&str] = &[
    "cpu",
    "memory",
    "requiresCompatibilities",
    "ephemeralStorage.sizeInGiB",
    "containerDefinitions[].cpu",
    "containerDefinitions[].memory",
    "containerDefinitions[].memoryReservation",
    "containerDefinitions[].resourceRequirements[].type",
    "containerDefinitions[].resourceRequirements[].value",
    "containerDefinitions[].resourceRequirements[].sharingStrategy.*",
];

/// The Kubernetes extended resource for NVIDIA GPUs.
const GPU: &str = "nvidia.com/gpu";
/// The Kubernetes extended resource for whole AWS Neuron devices.
const NEURON: &str = "aws.amazon.com/neuron";
/// The range ECS accepts for `ephemeralStorage.sizeInGiB`.
const EPHEMERAL_GIB: std::ops::RangeInclusive<i64> = 21..=200;

fn positive(v: Option<i32>) -> Option<i64> {
    v.filter(|v| *v > 0).map(i64::from)
}

/// One container's cpu (millicores) and memory (MiB).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Sizes {
    cpu_request: Option<i64>,
    cpu_limit: Option<i64>,
    memory_request: Option<i64>,
    memory_limit: Option<i64>,
}

/// The task-level sizes, parsed: cpu in units, memory in MiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct TaskSize {
    cpu: Option<i64>,
    memory: Option<i64>,
}

fn bad(field: impl Into<String>, reason: impl Into<String>) -> PodError {
    PodError::BadResources {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Applies task and container sizes, devices and ephemeral storage to the containers.
pub(super) fn apply(b: &mut Build<'_>) -> Result<(), PodError> {
    let td = b.td;
    let task = task_size(td, &mut b.report)?;
    // (Checks the containers against the task as ECS does, whichever form is made.)
    let spread = plan(&td.container_definitions, task)?;
    let names: Vec<String> = b.containers.iter().map(|c| c.name.clone()).collect();
    let version = b.options.kubernetes();
    let sizes = if version.has_pod_level_resources() && (task.cpu.is_some() || task.memory.is_some()) {
        b.pod.resources = pod_resources(task);
        own_sizes(&td.container_definitions, task)?
    } else {
        note_task_size(&spread, task, &names, version, &mut b.report);
        spread
    };
    let storage = ephemeral_storage(td, &mut b.report, &names)?;
    for (i, (c, s)) in td.container_definitions.iter().zip(&sizes).enumerate() {
        let mut extra = devices(i, c, &mut b.report)?;
        if let Some((index, gib)) = storage
            && index == i
        {
            extra.insert("ephemeral-storage".to_owned(), Quantity(format!("{gib}Gi")));
        }
        if let Some(k) = b.containers.get_mut(i) {
            k.resources = requirements(s, &extra);
        }
    }
    Ok(())
}

/// The pod's own resources for the task size (Kubernetes ≥ 1.34): requests and limits of the
/// task cpu and memory, ECS's reservation and cap of the whole task.
fn pod_resources(task: TaskSize) -> Option<ResourceRequirements> {
    let mut sizes = BTreeMap::new();
    if let Some(units) = task.cpu {
        sizes.insert("cpu".to_owned(), Quantity(format!("{}m", units_to_millis(units))));
    }
    if let Some(mib) = task.memory {
        sizes.insert("memory".to_owned(), Quantity(format!("{mib}Mi")));
    }
    (!sizes.is_empty()).then(|| ResourceRequirements {
        requests: Some(sizes.clone()),
        limits: Some(sizes),
        ..ResourceRequirements::default()
    })
}

/// Each container's own cpu and memory when the pod carries the task size
/// ([`pod_resources`]): its `cpu` as its request (no limit: a share), its `memory` as its limit
/// and `memoryReservation` as its request. Under a pod-level memory a container with a limit and
/// no reservation requests `0` explicitly (Kubernetes would copy the limit, and the containers'
/// requests may not add up to more than the pod's).
fn own_sizes(cs: &[ContainerDefinition], task: TaskSize) -> Result<Vec<Sizes>, PodError> {
    let mut sizes = plan(cs, TaskSize::default())?;
    if task.memory.is_some() {
        for (s, c) in sizes.iter_mut().zip(cs) {
            s.memory_request = positive(c.memory_reservation).or(s.memory_limit.map(|_| 0));
        }
    }
    Ok(sizes)
}

/// Parses task cpu and memory and checks them against `requiresCompatibilities`.
fn task_size(td: &RegisterTaskDefinition, report: &mut Report) -> Result<TaskSize, PodError> {
    let cpu = td
        .cpu
        .as_ref()
        .map(size::parse_cpu)
        .transpose()
        .map_err(|e| bad("cpu", e))?;
    let memory = td
        .memory
        .as_ref()
        .map(size::parse_memory)
        .transpose()
        .map_err(|e| bad("memory", e))?;
    let compat = td.requires_compatibilities.as_deref().unwrap_or_default();
    let others: Vec<&str> = compat
        .iter()
        .filter_map(|c| match c {
            Compatibility::Fargate => None,
            Compatibility::Ec2 => Some("EC2"),
            Compatibility::External => Some("EXTERNAL"),
            Compatibility::ManagedInstances => Some("MANAGED_INSTANCES"),
        })
        .collect();
    if !others.is_empty() {
        report.note(
            NoteKind::Ignored,
            "requiresCompatibilities",
            format!(
                "{} not checked: Kubernetes has one launch type, and the nodes a task runs on come from the service's capacity provider{}",
                others.join(", "),
                if compat.contains(&Compatibility::Fargate) {
                    "; FARGATE is checked (task cpu and memory must be a Fargate size)"
                } else {
                    ""
                }
            ),
        );
    }
    if compat.contains(&Compatibility::Fargate) {
        let cpus = "256, 512, 1024, 2048, 4096, 8192 or 16384 units";
        let cpu = cpu.ok_or_else(|| {
            bad(
                "cpu",
                format!("required: requiresCompatibilities includes FARGATE, which needs a task cpu: {cpus} (e.g. \"1 vCPU\")"),
            )
        })?;
        let memory = memory.ok_or_else(|| {
            let valid = size::fargate_memory(cpu)
                .map(|v| {
                    let v: Vec<String> = v.iter().map(ToString::to_string).collect();
                    format!("with {cpu} CPU units, one of {} MiB", v.join(", "))
                })
                .unwrap_or_else(|| format!("a Fargate size (task cpu {cpus})"));
            bad(
                "memory",
                format!(
                    "required: requiresCompatibilities includes FARGATE, which needs a task memory: {valid}"
                ),
            )
        })?;
        size::check_fargate(cpu, memory).map_err(|e| match e {
            size::FargateError::Cpu(reason) => bad("cpu", reason),
            size::FargateError::Memory(reason) => bad("memory", reason),
        })?;
    }
    Ok(TaskSize { cpu, memory })
}

/// Each container's cpu and memory, given the task size (see the module docs).
fn plan(cs: &[ContainerDefinition], task: TaskSize) -> Result<Vec<Sizes>, PodError> {
    let mut sizes = vec![Sizes::default(); cs.len()];
    // CPU.
    let explicit: Vec<Option<i64>> = cs.iter().map(|c| positive(c.cpu)).collect();
    if let Some(task_cpu) = task.cpu {
        let sum: i64 = explicit.iter().flatten().sum();
        if sum > task_cpu {
            let terms = terms(&explicit, "cpu");
            return Err(bad(
                "cpu",
                format!(
                    "the containers' cpu add up to {sum} units ({terms}), more than the task's {task_cpu}; ECS rejects this too: raise spec.cpu or lower the containers' cpu"
                ),
            ));
        }
        let free: Vec<usize> = (0..cs.len()).filter(|&i| explicit[i].is_none()).collect();
        let shares = split(task_cpu - sum, &vec![None; free.len()]);
        let mut units: Vec<i64> = explicit.iter().map(|u| u.unwrap_or(0)).collect();
        for (&i, share) in free.iter().zip(shares) {
            units[i] = share;
        }
        let limit = units_to_millis(task_cpu);
        for (s, millis) in sizes.iter_mut().zip(apportion_millis(&units)) {
            s.cpu_request = Some(millis);
            s.cpu_limit = Some(limit);
        }
    } else {
        for (s, units) in sizes.iter_mut().zip(&explicit) {
            s.cpu_request = units.map(units_to_millis);
        }
    }
    // Memory.
    let hard: Vec<Option<i64>> = cs.iter().map(|c| positive(c.memory)).collect();
    let soft: Vec<Option<i64>> = cs.iter().map(|c| positive(c.memory_reservation)).collect();
    for (i, (h, r)) in hard.iter().zip(&soft).enumerate() {
        if let (Some(h), Some(r)) = (h, r)
            && r > h
        {
            return Err(bad(
                format!("containerDefinitions[{i}].memoryReservation"),
                format!(
                    "{r} MiB is more than the container's memory ({h} MiB, its hard limit); ECS rejects this too: make memoryReservation at most memory"
                ),
            ));
        }
    }
    if let Some(task_memory) = task.memory {
        for (i, h) in hard.iter().enumerate() {
            if let Some(h) = h
                && *h > task_memory
            {
                return Err(bad(
                    format!("containerDefinitions[{i}].memory"),
                    format!(
                        "{h} MiB is more than the task's memory ({task_memory} MiB, spec.memory); ECS rejects this too: lower it or raise spec.memory"
                    ),
                ));
            }
        }
        let reserved: i64 = soft.iter().flatten().sum();
        if reserved > task_memory {
            let terms = terms(&soft, "memoryReservation");
            return Err(bad(
                "memory",
                format!(
                    "the containers' memoryReservation add up to {reserved} MiB ({terms}), more than the task's {task_memory} MiB; ECS rejects this too: raise spec.memory or lower the reservations"
                ),
            ));
        }
        let free: Vec<usize> = (0..cs.len()).filter(|&i| soft[i].is_none()).collect();
        let caps: Vec<Option<i64>> = free.iter().map(|&i| hard[i]).collect();
        let shares = split(task_memory - reserved, &caps);
        for (i, s) in sizes.iter_mut().enumerate() {
            s.memory_request = soft[i];
            s.memory_limit = Some(hard[i].unwrap_or(task_memory));
        }
        for (&i, share) in free.iter().zip(shares) {
            sizes[i].memory_request = Some(share);
        }
    } else {
        for (i, s) in sizes.iter_mut().enumerate() {
            s.memory_request = soft[i].or(hard[i]);
            s.memory_limit = hard[i];
        }
    }
    Ok(sizes)
}

/// `containerDefinitions[0].cpu = 256 + containerDefinitions[1].cpu = 512`, for messages.
fn terms(values: &[Option<i64>], field: &str) -> String {
    values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| format!("containerDefinitions[{i}].{field} = {v}")))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Says how task-level sizes were spread, when the result differs from ECS.
fn note_task_size(
    sizes: &[Sizes],
    task: TaskSize,
    names: &[String],
    version: crate::translate::kubernetes_version::KubernetesVersion,
    report: &mut Report,
) {
    // (Formatted only for a note.)
    let no_cap = || {
        format!(
            "Kubernetes {version} has no pod-wide cap (pod-level resources, on by default from {}, \
             would make it exact: --kubernetes-version)",
            crate::translate::kubernetes_version::POD_LEVEL_RESOURCES
        )
    };
    let several = sizes.len() > 1;
    if let Some(task_cpu) = task.cpu {
        let limit = units_to_millis(task_cpu);
        let requested: i64 = sizes.iter().filter_map(|s| s.cpu_request).sum();
        if several || requested < limit {
            let each = per_container(names, sizes.iter().map(|s| s.cpu_request), "m");
            let no_cap = no_cap();
            report.note(
                NoteKind::Approximated,
                "cpu",
                format!(
                    "ECS reserves and caps {task_cpu} CPU units for the whole task; {no_cap}, so each container is limited to {limit}m and requests its share ({each}){}",
                    if requested < limit {
                        format!(
                            "; the pod reserves {requested}m, not {limit}m, because every container sets its own cpu"
                        )
                    } else {
                        String::new()
                    }
                ),
            );
        }
    }
    if let Some(task_memory) = task.memory {
        let requested: i64 = sizes.iter().filter_map(|s| s.memory_request).sum();
        if several || requested < task_memory {
            let each = per_container(names, sizes.iter().map(|s| s.memory_request), "Mi");
            let no_cap = no_cap();
            report.note(
                NoteKind::Approximated,
                "memory",
                format!(
                    "ECS reserves and caps {task_memory} MiB for the whole task; {no_cap}, so each container is limited to its memory or else {task_memory}Mi, and requests its share ({each}){}",
                    if requested < task_memory {
                        format!(
                            "; the pod reserves {requested}Mi, not {task_memory}Mi, because the containers set their own memory"
                        )
                    } else {
                        String::new()
                    }
                ),
            );
        }
    }
}

fn per_container(names: &[String], values: impl Iterator<Item = Option<i64>>, unit: &str) -> String {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}: {}{unit}", v.unwrap_or(0)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// GPUs and Neuron devices of container `i`, as extended resources.
fn devices(
    i: usize,
    c: &ContainerDefinition,
    report: &mut Report,
) -> Result<BTreeMap<String, Quantity>, PodError> {
    let mut counts: BTreeMap<&str, i64> = BTreeMap::new();
    for (j, r) in c.resource_requirements.iter().flatten().enumerate() {
        let field = format!("containerDefinitions[{i}].resourceRequirements[{j}]");
        match r.r#type {
            ResourceType::Inferenceaccelerator => report.note(
                NoteKind::Ignored,
                field,
                "Elastic Inference accelerators are discontinued and have no Kubernetes equivalent; use a GPU or Neuron device instead",
            ),
            ResourceType::Gpu => {
                let n = match (&r.value, &r.sharing_strategy) {
                    (Some(v), sharing) => {
                        let n = device_count(v, &format!("{field}.value"), "GPUs")?;
                        if sharing.is_some() {
                            report.note(
                                NoteKind::Ignored,
                                format!("{field}.sharingStrategy"),
                                format!("value asks for {n} whole GPU(s), so the sharing strategy is not used"),
                            );
                        }
                        n
                    }
                    (None, Some(_)) => {
                        report.note(
                            NoteKind::Approximated,
                            format!("{field}.sharingStrategy"),
                            format!(
                                "becomes one {GPU}; GPU sharing through NVIDIA MPS is set up in the NVIDIA device plugin's configuration (shared replicas), which does not enforce the per-container memory or maxComputePercent"
                            ),
                        );
                        1
                    }
                    (None, None) => {
                        return Err(bad(
                            format!("{field}.value"),
                            "required: give the number of GPUs (e.g. \"1\") or a sharingStrategy",
                        ));
                    }
                };
                *counts.entry(GPU).or_default() += n;
            }
            ResourceType::Neurondevice => {
                let v = r.value.as_ref().ok_or_else(|| {
                    bad(format!("{field}.value"), "required: give the number of Neuron devices (e.g. \"1\")")
                })?;
                *counts.entry(NEURON).or_default() += device_count(v, &format!("{field}.value"), "Neuron devices")?;
            }
        }
    }
    Ok(counts
        .into_iter()
        .map(|(k, n)| (k.to_owned(), Quantity(n.to_string())))
        .collect())
}

/// A positive device count; ECS's `ALL` is an error since Kubernetes needs a number.
fn device_count(v: &NumberOrString, field: &str, what: &str) -> Result<i64, PodError> {
    let written = v.as_ecs_string();
    match written.trim().parse::<i64>() {
        Ok(n) if n > 0 => Ok(n),
        _ if written.trim().eq_ignore_ascii_case("all") => Err(bad(
            field,
            format!(
                "\"ALL\" (every device of the instance) has no Kubernetes equivalent: Kubernetes schedules a count; write the number of {what} the container needs (e.g. \"1\")"
            ),
        )),
        _ => Err(bad(
            field,
            format!("{written:?} is not a number of {what}; write a positive whole number (e.g. \"1\")"),
        )),
    }
}

/// `ephemeralStorage.sizeInGiB`, checked, and the container that carries it.
fn ephemeral_storage(
    td: &RegisterTaskDefinition,
    report: &mut Report,
    names: &[String],
) -> Result<Option<(usize, i64)>, PodError> {
    let Some(storage) = &td.ephemeral_storage else {
        return Ok(None);
    };
    let gib = i64::from(storage.size_in_gib);
    if !EPHEMERAL_GIB.contains(&gib) {
        return Err(bad(
            "ephemeralStorage.sizeInGiB",
            format!(
                "{gib} is out of range; ECS accepts {} to {} GiB (leave ephemeralStorage out for the default 20 GiB)",
                EPHEMERAL_GIB.start(),
                EPHEMERAL_GIB.end()
            ),
        ));
    }
    let Some(index) = storage_container(&td.container_definitions) else {
        return Ok(None);
    };
    report.note(
        NoteKind::Approximated,
        "ephemeralStorage.sizeInGiB",
        format!(
            "container {:?} requests and is limited to {gib}Gi of ephemeral-storage; Kubernetes evicts the pod when its containers and emptyDir volumes together use more, where Fargate's disk would fill up",
            names.get(index).map_or("", String::as_str)
        ),
    );
    Ok(Some((index, gib)))
}

/// The container that carries the task's ephemeral storage: the first essential container that
/// no other container waits on to COMPLETE or SUCCESS (those become init containers, whose
/// limits do not add to the pod's), else the first such container, else the first.
fn storage_container(cs: &[ContainerDefinition]) -> Option<usize> {
    let waited: BTreeSet<&str> = cs
        .iter()
        .flat_map(|c| c.depends_on.iter().flatten())
        .filter(|d| {
            matches!(
                d.condition,
                ContainerCondition::Complete | ContainerCondition::Success
            )
        })
        .map(|d| d.container_name.as_str())
        .collect();
    let runs = |c: &ContainerDefinition| !c.name.as_deref().is_some_and(|n| waited.contains(n));
    cs.iter()
        .position(|c| c.essential != Some(false) && runs(c))
        .or_else(|| cs.iter().position(runs))
        .or((!cs.is_empty()).then_some(0))
}

/// Sizes plus extended resources → Kubernetes resource requirements (`None` when empty).
fn requirements(s: &Sizes, extra: &BTreeMap<String, Quantity>) -> Option<ResourceRequirements> {
    let cpu = |m: i64| Quantity(if m == 0 { "0".to_owned() } else { format!("{m}m") });
    let mib = |m: i64| Quantity(if m == 0 { "0".to_owned() } else { format!("{m}Mi") });
    let mut requests = BTreeMap::new();
    let mut limits = BTreeMap::new();
    if let Some(m) = s.cpu_request {
        requests.insert("cpu".to_owned(), cpu(m));
    }
    if let Some(m) = s.cpu_limit {
        limits.insert("cpu".to_owned(), cpu(m));
    }
    if let Some(m) = s.memory_request {
        requests.insert("memory".to_owned(), mib(m));
    }
    if let Some(m) = s.memory_limit {
        limits.insert("memory".to_owned(), mib(m));
    }
    for (k, v) in extra {
        requests.insert(k.clone(), v.clone());
        limits.insert(k.clone(), v.clone());
    }
    (!requests.is_empty() || !limits.is_empty()).then(|| ResourceRequirements {
        requests: (!requests.is_empty()).then_some(requests),
        limits: (!limits.is_empty()).then_some(limits),
        ..ResourceRequirements::default()
    })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::{Container, PodSpec};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::translate::{Options, testing::td};

    /// The containers stage and this one, without the stages after it.
    fn run(td: &RegisterTaskDefinition) -> Result<(Vec<Container>, Report), PodError> {
        run_for(td, &Options::default()).map(|(cs, _, report)| (cs, report))
    }

    /// [`run`] for an installation with `options`; the pod spec too.
    fn run_for(
        td: &RegisterTaskDefinition,
        options: &Options,
    ) -> Result<(Vec<Container>, PodSpec, Report), PodError> {
        let mut b = Build {
            td,
            object_name: "t",
            revision: 1,
            namespace: None,
            options,
            containers: Vec::new(),
            pod: PodSpec::default(),
            annotations: BTreeMap::new(),
            labels: BTreeMap::new(),
            objects: Vec::new(),
            report: Report::default(),
        };
        for (i, c) in td.container_definitions.iter().enumerate() {
            b.containers
                .push(super::super::container::container(i, c, &mut b.report)?);
        }
        apply(&mut b)?;
        Ok((b.containers, b.pod, b.report))
    }

    fn for_version(minor: u32) -> Options {
        Options {
            kubernetes_version: Some(crate::translate::kubernetes_version::KubernetesVersion { minor }),
            ..Options::default()
        }
    }

    fn ok(v: Value) -> (Vec<Container>, Report) {
        run(&td(v)).expect("translates")
    }

    fn err(v: Value) -> String {
        run(&td(v)).expect_err("rejected").to_string()
    }

    fn containers(cs: &[Value]) -> Value {
        let cs: Vec<Value> = cs
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut c = c.clone();
                c["name"] = json!(format!("c{i}"));
                c["image"] = json!("x");
                c
            })
            .collect();
        Value::Array(cs)
    }

    fn with(task: Value, cs: &[Value]) -> Value {
        let mut v = task;
        v["family"] = json!("f");
        v["containerDefinitions"] = containers(cs);
        v
    }

    /// (requests, limits) of one resource, as written.
    fn get(c: &Container, resource: &str) -> (Option<String>, Option<String>) {
        let r = c.resources.as_ref();
        let q = |m: Option<&BTreeMap<String, Quantity>>| m.and_then(|m| m.get(resource)).map(|q| q.0.clone());
        (
            q(r.and_then(|r| r.requests.as_ref())),
            q(r.and_then(|r| r.limits.as_ref())),
        )
    }

    fn pair(request: &str, limit: &str) -> (Option<String>, Option<String>) {
        (Some(request.to_owned()), Some(limit.to_owned()))
    }

    fn notes(r: &Report) -> Vec<(NoteKind, &str)> {
        r.notes.iter().map(|n| (n.kind, n.field.as_str())).collect()
    }

    #[test]
    fn container_values_alone_become_requests_and_limits() {
        let (cs, report) = ok(with(
            json!({}),
            &[
                json!({"cpu": 256, "memory": 512, "memoryReservation": 128}),
                json!({"cpu": 0, "memory": 64}),
                json!({"memoryReservation": 50}),
                json!({}),
            ],
        ));
        assert_eq!(
            get(&cs[0], "cpu"),
            (Some("250m".to_owned()), None),
            "a share, not a cap"
        );
        assert_eq!(get(&cs[0], "memory"), pair("128Mi", "512Mi"));
        assert_eq!(get(&cs[1], "cpu"), (None, None), "cpu 0 is ECS's default share");
        assert_eq!(get(&cs[1], "memory"), pair("64Mi", "64Mi"));
        assert_eq!(get(&cs[2], "memory"), (Some("50Mi".to_owned()), None));
        assert_eq!(cs[3].resources, None);
        assert!(report.is_empty(), "{:?}", report.notes);
    }

    #[test]
    fn a_reservation_above_the_hard_limit_is_an_error() {
        assert_eq!(
            err(with(
                json!({}),
                &[json!({}), json!({"memory": 128, "memoryReservation": 256})]
            )),
            "spec.containerDefinitions[1].memoryReservation: 256 MiB is more than the container's memory (128 MiB, its hard limit); ECS rejects this too: make memoryReservation at most memory"
        );
    }

    #[test]
    fn task_sizes_are_read_in_every_form() {
        for (cpu, memory, millis, mib) in [
            (json!("1 vCPU"), json!("2 GB"), "1000m", "2048Mi"),
            (json!("0.25 vcpu"), json!("2GB"), "250m", "2048Mi"),
            (json!(1024), json!(3072), "1000m", "3072Mi"),
            (json!("1024"), json!("2 gb"), "1000m", "2048Mi"),
        ] {
            let (cs, report) = ok(with(json!({"cpu": cpu, "memory": memory}), &[json!({})]));
            assert_eq!(get(&cs[0], "cpu"), pair(millis, millis), "{cpu}");
            assert_eq!(get(&cs[0], "memory"), pair(mib, mib), "{memory}");
            assert!(
                report.is_empty(),
                "one container filling the task is exact: {:?}",
                report.notes
            );
        }
    }

    #[test]
    fn unreadable_task_sizes_name_the_field_and_the_forms() {
        assert_eq!(
            err(with(json!({"cpu": "2 cores"}), &[json!({})])),
            "spec.cpu: \"2 cores\" is not a task cpu; write CPU units (\"1024\" or 1024) or vCPUs (\"1 vCPU\", \"0.25 vcpu\"); 1024 units = 1 vCPU"
        );
        assert_eq!(
            err(with(json!({"memory": "2 GiB"}), &[json!({})])),
            "spec.memory: \"2 GiB\" is not a task memory; write MiB (\"2048\" or 2048) or GB (\"2 GB\", \"2GB\", \"0.5 gb\"); 1 GB = 1024 MiB"
        );
        assert!(
            err(with(json!({"cpu": 64}), &[json!({})])).starts_with("spec.cpu: 64 CPU units is out of range")
        );
    }

    #[test]
    fn task_cpu_is_split_among_the_containers_that_set_none() {
        let (cs, report) = ok(with(
            json!({"cpu": "1 vCPU"}),
            &[json!({"cpu": 256}), json!({}), json!({"cpu": 0})],
        ));
        // 1024 - 256 = 768 units → 384 each.
        assert_eq!(get(&cs[0], "cpu"), pair("250m", "1000m"));
        assert_eq!(get(&cs[1], "cpu"), pair("375m", "1000m"));
        assert_eq!(get(&cs[2], "cpu"), pair("375m", "1000m"));
        assert_eq!(notes(&report), vec![(NoteKind::Approximated, "cpu")]);
        assert_eq!(
            report.notes[0].message,
            "ECS reserves and caps 1024 CPU units for the whole task; Kubernetes 1.30 has no pod-wide cap \
             (pod-level resources, on by default from 1.34, would make it exact: --kubernetes-version), so \
             each container is limited to 1000m and requests its share (c0: 250m, c1: 375m, c2: 375m)"
        );
    }

    #[test]
    fn from_kubernetes_1_34_the_task_size_is_the_pods_own() {
        let td = td(with(
            json!({"cpu": "1 vCPU", "memory": "2048"}),
            &[
                json!({"cpu": 256, "memory": 512}),
                json!({"memoryReservation": 256}),
                json!({}),
            ],
        ));
        let (cs, pod, report) = run_for(&td, &for_version(34)).expect("translates");
        let pod_resources = pod.resources.expect("pod-level resources");
        for map in [&pod_resources.requests, &pod_resources.limits] {
            let map = map.as_ref().expect("set");
            assert_eq!(map["cpu"].0, "1000m");
            assert_eq!(map["memory"].0, "2048Mi");
        }
        // Each container keeps only its own values: a cpu share, its memory limit (with an
        // explicit 0 request, not the limit copied), its reservation.
        assert_eq!(get(&cs[0], "cpu"), (Some("250m".to_owned()), None));
        assert_eq!(get(&cs[0], "memory"), pair("0", "512Mi"));
        assert_eq!(get(&cs[1], "memory"), (Some("256Mi".to_owned()), None));
        assert_eq!(get(&cs[2], "cpu"), (None, None));
        assert_eq!(get(&cs[2], "memory"), (None, None));
        assert!(
            notes(&report).is_empty(),
            "exact, nothing to report: {:?}",
            report.notes
        );
        // ECS's checks hold whichever form is made.
        let over = td_sum_over();
        assert!(run_for(&over, &for_version(34)).is_err());
        // 1.33 has no pod-level resources: the task size is spread, and the note names 1.33.
        let (cs, pod, report) = run_for(&td, &for_version(33)).expect("translates");
        assert!(pod.resources.is_none());
        assert_eq!(get(&cs[0], "cpu"), pair("250m", "1000m"));
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.message.contains("Kubernetes 1.33 has no pod-wide cap")),
            "{:?}",
            report.notes
        );
    }

    fn td_sum_over() -> RegisterTaskDefinition {
        td(with(
            json!({"cpu": "256"}),
            &[json!({"cpu": 200}), json!({"cpu": 200})],
        ))
    }

    #[test]
    fn containers_left_nothing_request_zero_not_their_limit() {
        // Kubernetes copies a limit into a missing request, which would break the task bound.
        let (cs, _) = ok(with(
            json!({"cpu": "256", "memory": "512"}),
            &[json!({"cpu": 256, "memoryReservation": 512}), json!({})],
        ));
        assert_eq!(get(&cs[0], "cpu"), pair("250m", "250m"));
        assert_eq!(get(&cs[1], "cpu"), pair("0", "250m"));
        assert_eq!(get(&cs[0], "memory"), pair("512Mi", "512Mi"));
        assert_eq!(get(&cs[1], "memory"), pair("0", "512Mi"));
    }

    #[test]
    fn task_memory_fills_containers_without_a_reservation_up_to_their_hard_limit() {
        let (cs, report) = ok(with(
            json!({"memory": "2 GB"}),
            &[
                json!({"memoryReservation": 512}),
                json!({"memory": 256}),
                json!({}),
                json!({"memory": 1024, "memoryReservation": 100}),
            ],
        ));
        // 2048 - 512 - 100 = 1436 for c1 (at most 256) and c2 (the rest).
        assert_eq!(get(&cs[0], "memory"), pair("512Mi", "2048Mi"));
        assert_eq!(get(&cs[1], "memory"), pair("256Mi", "256Mi"));
        assert_eq!(get(&cs[2], "memory"), pair("1180Mi", "2048Mi"));
        assert_eq!(get(&cs[3], "memory"), pair("100Mi", "1024Mi"));
        assert_eq!(get(&cs[0], "cpu"), (None, None), "no task cpu, no cpu limit");
        assert_eq!(notes(&report), vec![(NoteKind::Approximated, "memory")]);
    }

    #[test]
    fn a_pod_that_reserves_less_than_the_task_says_so() {
        // The README example: one container with its own cpu and memory inside a bigger task.
        let (cs, report) = ok(with(
            json!({"cpu": "512", "memory": "1024", "requiresCompatibilities": ["FARGATE"]}),
            &[json!({"cpu": 256, "memory": 512, "memoryReservation": 256})],
        ));
        assert_eq!(get(&cs[0], "cpu"), pair("250m", "500m"));
        assert_eq!(get(&cs[0], "memory"), pair("256Mi", "512Mi"));
        assert_eq!(
            notes(&report),
            vec![
                (NoteKind::Approximated, "cpu"),
                (NoteKind::Approximated, "memory")
            ]
        );
        assert!(
            report.notes[0]
                .message
                .ends_with("; the pod reserves 250m, not 500m, because every container sets its own cpu"),
            "{}",
            report.notes[0].message
        );
    }

    #[test]
    fn container_sizes_above_the_task_are_errors_as_in_ecs() {
        assert_eq!(
            err(with(
                json!({"cpu": "256"}),
                &[json!({"cpu": 256}), json!({"cpu": 256})]
            )),
            "spec.cpu: the containers' cpu add up to 512 units (containerDefinitions[0].cpu = 256 + containerDefinitions[1].cpu = 256), more than the task's 256; ECS rejects this too: raise spec.cpu or lower the containers' cpu"
        );
        assert_eq!(
            err(with(
                json!({"memory": "512"}),
                &[
                    json!({"memoryReservation": 512}),
                    json!({}),
                    json!({"memoryReservation": 1})
                ]
            )),
            "spec.memory: the containers' memoryReservation add up to 513 MiB (containerDefinitions[0].memoryReservation = 512 + containerDefinitions[2].memoryReservation = 1), more than the task's 512 MiB; ECS rejects this too: raise spec.memory or lower the reservations"
        );
        assert_eq!(
            err(with(
                json!({"memory": "1 GB"}),
                &[json!({}), json!({"memory": 2048})]
            )),
            "spec.containerDefinitions[1].memory: 2048 MiB is more than the task's memory (1024 MiB, spec.memory); ECS rejects this too: lower it or raise spec.memory"
        );
        // Equal is allowed, and hard limits may add up to more than the task (each fits alone).
        let (cs, _) = ok(with(
            json!({"cpu": "512", "memory": "512"}),
            &[json!({"cpu": 512, "memory": 512}), json!({"memory": 512})],
        ));
        assert_eq!(get(&cs[0], "memory"), pair("256Mi", "512Mi"));
        assert_eq!(get(&cs[1], "memory"), pair("256Mi", "512Mi"));
    }

    #[test]
    fn fargate_needs_a_valid_task_size() {
        let fargate = |cpu: Value, memory: Value| {
            let mut t = json!({"requiresCompatibilities": ["FARGATE"]});
            if !cpu.is_null() {
                t["cpu"] = cpu;
            }
            if !memory.is_null() {
                t["memory"] = memory;
            }
            with(t, &[json!({})])
        };
        assert_eq!(
            err(fargate(Value::Null, json!("2 GB"))),
            "spec.cpu: required: requiresCompatibilities includes FARGATE, which needs a task cpu: 256, 512, 1024, 2048, 4096, 8192 or 16384 units (e.g. \"1 vCPU\")"
        );
        assert_eq!(
            err(fargate(json!("0.5 vCPU"), Value::Null)),
            "spec.memory: required: requiresCompatibilities includes FARGATE, which needs a task memory: with 512 CPU units, one of 1024, 2048, 3072, 4096 MiB"
        );
        assert_eq!(
            err(fargate(json!("1 vCPU"), json!("1 GB"))),
            "spec.memory: 1024 MiB does not go with 1024 CPU units (spec.cpu) on Fargate; with requiresCompatibilities FARGATE, 1024 units take one of 2048, 3072, 4096, 5120, 6144, 7168, 8192 MiB"
        );
        assert!(
            err(fargate(json!(768), json!(2048)))
                .starts_with("spec.cpu: 768 CPU units is not a Fargate task size")
        );
        let (_, report) = ok(fargate(json!("0.25 vCPU"), json!("0.5 GB")));
        assert!(report.is_empty(), "{:?}", report.notes);
    }

    #[test]
    fn other_launch_types_are_reported_and_not_checked() {
        let (cs, report) = ok(with(
            json!({"requiresCompatibilities": ["EC2", "EXTERNAL"], "cpu": 768, "memory": 1000}),
            &[json!({})],
        ));
        assert_eq!(get(&cs[0], "cpu"), pair("750m", "750m"));
        assert_eq!(
            notes(&report),
            vec![(NoteKind::Ignored, "requiresCompatibilities")]
        );
        assert!(
            report.notes[0].message.starts_with("EC2, EXTERNAL not checked"),
            "{}",
            report.notes[0].message
        );
        let err = err(with(
            json!({"requiresCompatibilities": ["EC2", "FARGATE"], "cpu": 768, "memory": 1000}),
            &[json!({})],
        ));
        assert!(
            err.starts_with("spec.cpu: 768 CPU units is not a Fargate task size"),
            "{err}"
        );
        let (_, report) = ok(with(json!({"requiresCompatibilities": []}), &[json!({})]));
        assert!(report.is_empty());
    }

    #[test]
    fn gpus_and_neuron_devices_become_extended_resources() {
        let (cs, report) = ok(with(
            json!({}),
            &[
                json!({"resourceRequirements": [{"type": "GPU", "value": "2"}]}),
                json!({"resourceRequirements": [{"type": "GPU", "value": 1}, {"type": "NeuronDevice", "value": "4"}]}),
                json!({"memory": 64, "resourceRequirements": [{"type": "InferenceAccelerator", "value": "device_1"}]}),
            ],
        ));
        assert_eq!(get(&cs[0], GPU), pair("2", "2"));
        assert_eq!(get(&cs[1], GPU), pair("1", "1"));
        assert_eq!(get(&cs[1], NEURON), pair("4", "4"));
        assert_eq!(get(&cs[2], GPU), (None, None));
        assert_eq!(get(&cs[2], "memory"), pair("64Mi", "64Mi"));
        assert_eq!(
            notes(&report),
            vec![(
                NoteKind::Ignored,
                "containerDefinitions[2].resourceRequirements[0]"
            )]
        );
    }

    #[test]
    fn gpu_sharing_and_counts_kubernetes_cannot_express() {
        let (cs, report) = ok(with(
            json!({}),
            &[
                json!({"resourceRequirements": [{"type": "GPU", "sharingStrategy": {"nvidiaMps": {"memory": 1024, "maxComputePercent": 50}}}]}),
                json!({"resourceRequirements": [{"type": "GPU", "value": "1", "sharingStrategy": {"nvidiaMps": {"memory": 1024}}}]}),
            ],
        ));
        assert_eq!(get(&cs[0], GPU), pair("1", "1"));
        assert_eq!(get(&cs[1], GPU), pair("1", "1"));
        assert_eq!(
            notes(&report),
            vec![
                (
                    NoteKind::Approximated,
                    "containerDefinitions[0].resourceRequirements[0].sharingStrategy"
                ),
                (
                    NoteKind::Ignored,
                    "containerDefinitions[1].resourceRequirements[0].sharingStrategy"
                ),
            ]
        );
        assert_eq!(
            err(with(
                json!({}),
                &[json!({"resourceRequirements": [{"type": "GPU", "value": "ALL"}]})]
            )),
            "spec.containerDefinitions[0].resourceRequirements[0].value: \"ALL\" (every device of the instance) has no Kubernetes equivalent: Kubernetes schedules a count; write the number of GPUs the container needs (e.g. \"1\")"
        );
        assert!(
            err(with(
                json!({}),
                &[json!({"resourceRequirements": [{"type": "NeuronDevice", "value": "ALL"}]})]
            ))
            .contains("write the number of Neuron devices the container needs")
        );
        for bad in [json!("0"), json!("two"), json!(-1)] {
            let e = err(with(
                json!({}),
                &[json!({"resourceRequirements": [{"type": "GPU", "value": bad}]})],
            ));
            assert!(
                e.contains("is not a number of GPUs; write a positive whole number"),
                "{e}"
            );
        }
        assert_eq!(
            err(with(
                json!({}),
                &[json!({"resourceRequirements": [{"type": "GPU"}]})]
            )),
            "spec.containerDefinitions[0].resourceRequirements[0].value: required: give the number of GPUs (e.g. \"1\") or a sharingStrategy"
        );
    }

    #[test]
    fn ephemeral_storage_goes_on_the_first_essential_container_that_keeps_running() {
        let (cs, report) = ok(with(
            json!({"ephemeralStorage": {"sizeInGiB": 30}}),
            &[
                json!({"essential": false}),
                json!({}),
                json!({"dependsOn": [{"containerName": "c1", "condition": "COMPLETE"}]}),
            ],
        ));
        // c0 is not essential; c1 is waited on to COMPLETE (an init container): c2 carries it.
        assert_eq!(get(&cs[0], "ephemeral-storage"), (None, None));
        assert_eq!(get(&cs[1], "ephemeral-storage"), (None, None));
        assert_eq!(get(&cs[2], "ephemeral-storage"), pair("30Gi", "30Gi"));
        assert_eq!(
            notes(&report),
            vec![(NoteKind::Approximated, "ephemeralStorage.sizeInGiB")]
        );
        assert!(
            report.notes[0]
                .message
                .starts_with("container \"c2\" requests and is limited to 30Gi")
        );
        let (cs, _) = ok(with(
            json!({"ephemeralStorage": {"sizeInGiB": 21}}),
            &[json!({}), json!({})],
        ));
        assert_eq!(get(&cs[0], "ephemeral-storage"), pair("21Gi", "21Gi"));
        for gib in [0, 20, 201] {
            assert_eq!(
                err(with(
                    json!({"ephemeralStorage": {"sizeInGiB": gib}}),
                    &[json!({})]
                )),
                format!(
                    "spec.ephemeralStorage.sizeInGiB: {gib} is out of range; ECS accepts 21 to 200 GiB (leave ephemeralStorage out for the default 20 GiB)"
                )
            );
        }
    }

    #[test]
    fn handled_fields_are_not_reported_as_untranslated() {
        let t = super::super::pod_template(
            "t",
            &td(with(
                json!({"cpu": "1 vCPU", "memory": "2 GB", "requiresCompatibilities": ["FARGATE"], "ephemeralStorage": {"sizeInGiB": 25}}),
                &[json!({"cpu": 128, "memory": 512, "memoryReservation": 256, "resourceRequirements": [{"type": "GPU", "value": "1"}]})],
            )),
            1,
        )
        .expect("translates");
        let untranslated: Vec<&str> = t
            .report
            .notes
            .iter()
            .filter(|n| n.kind == NoteKind::NotYetTranslated)
            .map(|n| n.field.as_str())
            .collect();
        assert!(untranslated.is_empty(), "{untranslated:?}");
    }

    fn quantity(q: Option<String>, unit: &str) -> Option<i64> {
        let q = q?;
        if q == "0" {
            return Some(0);
        }
        Some(q.strip_suffix(unit).expect("unit").parse().expect("number"))
    }

    prop_compose! {
        fn container()(
            cpu in prop::option::of(0..=3000_i32),
            memory in prop::option::of(1..=6000_i32),
            reservation in prop::option::of(1..=3000_i32),
        ) -> Value {
            json!({"cpu": cpu, "memory": memory, "memoryReservation": reservation})
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// For any task cpu/memory and container values: the translation succeeds exactly when
        /// ECS would accept the sizes, and then the containers' requests never add up to more
        /// than the task (and fill it when some container sets none), no request is above its
        /// limit, and every container has both when the task sets the size.
        #[test]
        fn requests_never_exceed_the_task(
            task_cpu in prop::option::of(128..=16384_i64),
            task_memory in prop::option::of(1..=16384_i64),
            as_text in any::<bool>(),
            cs in prop::collection::vec(container(), 1..=10),
        ) {
            let written = |v: i64| if as_text { json!(v.to_string()) } else { json!(v) };
            let mut task = json!({});
            if let Some(c) = task_cpu { task["cpu"] = written(c); }
            if let Some(m) = task_memory { task["memory"] = written(m); }
            let spec = td(with(task, &cs));
            let defs = &spec.container_definitions;
            let hard: Vec<Option<i64>> = defs.iter().map(|c| positive(c.memory)).collect();
            let soft: Vec<Option<i64>> = defs.iter().map(|c| positive(c.memory_reservation)).collect();
            let cpu_sum: i64 = defs.iter().filter_map(|c| positive(c.cpu)).sum();
            let valid = hard.iter().zip(&soft).all(|(h, r)| !matches!((h, r), (Some(h), Some(r)) if r > h))
                && task_cpu.is_none_or(|c| cpu_sum <= c)
                && task_memory.is_none_or(|m| {
                    hard.iter().flatten().all(|h| *h <= m) && soft.iter().flatten().sum::<i64>() <= m
                });
            let result = run(&spec);
            prop_assert_eq!(result.is_ok(), valid, "{:?}", result.as_ref().err());
            let Ok((containers, _)) = result else { return Ok(()) };
            let (mut cpu, mut memory) = (0, 0);
            for (k, c) in containers.iter().zip(defs) {
                let (cpu_req, cpu_lim) = get(k, "cpu");
                let (cpu_req, cpu_lim) = (quantity(cpu_req, "m"), quantity(cpu_lim, "m"));
                let (mem_req, mem_lim) = get(k, "memory");
                let (mem_req, mem_lim) = (quantity(mem_req, "Mi"), quantity(mem_lim, "Mi"));
                if let (Some(r), Some(l)) = (cpu_req, cpu_lim) { prop_assert!(r <= l, "cpu {} > {}", r, l); }
                if let (Some(r), Some(l)) = (mem_req, mem_lim) { prop_assert!(r <= l, "memory {} > {}", r, l); }
                prop_assert_eq!(task_cpu.is_some(), cpu_req.is_some() && cpu_lim.is_some());
                if task_cpu.is_none() {
                    prop_assert_eq!(cpu_req, positive(c.cpu).map(units_to_millis));
                }
                if task_memory.is_some() {
                    prop_assert!(mem_req.is_some() && mem_lim.is_some());
                }
                if let Some(r) = positive(c.memory_reservation) {
                    prop_assert_eq!(mem_req, Some(r), "a reservation is kept");
                }
                cpu += cpu_req.unwrap_or(0);
                memory += mem_req.unwrap_or(0);
            }
            if let Some(c) = task_cpu {
                let limit = units_to_millis(c);
                prop_assert!(cpu <= limit, "cpu requests {} > task {}", cpu, limit);
                if defs.iter().any(|c| positive(c.cpu).is_none()) {
                    prop_assert_eq!(cpu, limit, "containers without cpu take the rest");
                }
            }
            if let Some(m) = task_memory {
                prop_assert!(memory <= m, "memory requests {} > task {}", memory, m);
                if defs.iter().any(|c| c.memory.is_none() && c.memory_reservation.is_none()) {
                    prop_assert_eq!(memory, m, "containers without memory take the rest");
                }
            }
        }
    }
}
