//! The simulated kubelet (and scheduler): places a pod on a node its nodeSelector, affinity and
//! tolerations allow, and writes the pod status (phase, conditions, container states) as the
//! test asks, for one pod or for every new pod.
//!
//! A container whose environment names a Secret or ConfigMap (or a key) that does not exist is
//! not started (`CreateContainerConfigError`, with the kubelet's message), as a real kubelet
//! does; unlike one, the double does not retry when the object appears later (a test sets the
//! pod's outcome instead).
//!
//! Pod phases follow https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/: a
//! container that stops under a restart policy that restarts it does not end the pod; the pod
//! stays Running with the container in `CrashLoopBackOff`.

use std::{collections::HashMap, sync::Arc};

use serde_json::{Value, json};

use super::{
    ctx::{Ctx, Kind},
    scheduling,
    util::{format_time, is_deleting, name, s, uid},
};
use crate::api::ApiError;

/// What a pod should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodOutcome {
    /// Not scheduled: phase Pending, `PodScheduled` False (Unschedulable). As the kubelet's
    /// default outcome it leaves new pods alone.
    Pending,
    /// Running on a node; `ready` sets the Ready condition.
    Running {
        /// Whether the pod is Ready.
        ready: bool,
    },
    /// Scheduled, every container waiting with `reason` (e.g. `ErrImagePull`,
    /// `ImagePullBackOff`, `CreateContainerConfigError`; `CrashLoopBackOff` makes the pod
    /// Running with a restarted container).
    Waiting {
        /// The waiting reason.
        reason: String,
    },
    /// Finished successfully (exit 0). Under `restartPolicy: Always` the container restarts
    /// instead: Running, `CrashLoopBackOff`, last state terminated `Completed`.
    Succeeded,
    /// Finished with `exit_code` and `reason` (e.g. `Error`, `OOMKilled`). Unless
    /// `restartPolicy` is `Never` the container restarts instead: Running, `CrashLoopBackOff`,
    /// last state terminated with this code and reason.
    Failed {
        /// Container exit code.
        exit_code: i32,
        /// Termination reason.
        reason: String,
    },
}

/// Whether nobody has given the pod a status yet (the double's API server does not set
/// `phase: Pending` on create, so a missing phase counts as Pending).
fn untouched(pod: &Value) -> bool {
    matches!(s(pod, "/status/phase"), "" | "Pending")
        && pod.pointer("/status/containerStatuses").is_none()
        && s(pod, "/status/hostIP").is_empty()
}

/// Gives the marked pods that nobody has touched the default outcome, if one is set.
pub fn sync_all(ctx: &mut Ctx<'_>, keys: &[(String, String)]) -> Vec<(String, String, ApiError)> {
    let outcome = ctx.shared.outcome.lock().expect("kubelet lock").clone();
    let Some(outcome) = outcome.filter(|o| *o != PodOutcome::Pending) else {
        return Vec::new();
    };
    let mut load = None;
    let mut errors = Vec::new();
    for (ns, pod_name) in keys {
        let Some(pod) = ctx.snap.get(Kind::Pod, ns, pod_name) else {
            continue;
        };
        let handled = ctx
            .shared
            .handled
            .lock()
            .expect("kubelet lock")
            .contains(uid(&pod));
        if handled || is_deleting(&pod) || !untouched(&pod) {
            continue;
        }
        ctx.shared
            .syncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let load = load.get_or_insert_with(|| node_load(ctx));
        let outcome = missing_config(ctx, &pod)
            .map(|_| PodOutcome::Waiting {
                reason: CREATE_CONTAINER_CONFIG_ERROR.to_owned(),
            })
            .or_else(|| unpullable(&pod))
            .unwrap_or_else(|| outcome.clone());
        let result = match place(ctx, &pod, load, false) {
            Some(node) => {
                *load.entry(node.clone()).or_default() += 1;
                apply(ctx, &pod, &outcome, &node)
            }
            None => unschedulable(ctx, &pod),
        };
        if let Err(e) = result {
            errors.push((ns.clone(), pod_name.clone(), e));
        }
    }
    errors
}

/// The kubelet's waiting reason for a container whose environment names a Secret or ConfigMap
/// (or a key of one) that does not exist.
const CREATE_CONTAINER_CONFIG_ERROR: &str = "CreateContainerConfigError";

/// Why the kubelet cannot make a container of `pod`, as it says it: an `env[].valueFrom`
/// `secretKeyRef`/`configMapKeyRef` or an `envFrom` `secretRef`/`configMapRef` that is not
/// `optional` and whose object (or key) does not exist. A real kubelet does not start such a
/// container (`CreateContainerConfigError`) and retries until it exists.
fn missing_config(ctx: &Ctx<'_>, pod: &Value) -> Option<String> {
    let ns = s(pod, "/metadata/namespace");
    let lookup = |kind: &str, name: &str| -> Option<Value> {
        let rt = ctx.api.resource_type(&crate::schema::Gvk::new("", "v1", kind))?;
        ctx.api.get(&rt, Some(ns), name, None).ok()
    };
    let has_key = |obj: &Value, key: &str| {
        ["data", "binaryData", "stringData"]
            .iter()
            .any(|f| obj.get(*f).and_then(|d| d.get(key)).is_some())
    };
    let optional = |r: &Value| r.get("optional") == Some(&Value::Bool(true));
    let containers = ["/spec/initContainers", "/spec/containers"]
        .into_iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten();
    for c in containers {
        for env in c.get("env").and_then(Value::as_array).into_iter().flatten() {
            for (field, kind, lower) in [
                ("secretKeyRef", "Secret", "secret"),
                ("configMapKeyRef", "ConfigMap", "configmap"),
            ] {
                let Some(r) = env.pointer(&format!("/valueFrom/{field}")) else {
                    continue;
                };
                if optional(r) {
                    continue;
                }
                let (name, key) = (s(r, "/name"), s(r, "/key"));
                match lookup(kind, name) {
                    None => return Some(format!("{lower} \"{name}\" not found")),
                    Some(obj) if !has_key(&obj, key) => {
                        return Some(format!("couldn't find key {key} in {kind} {ns}/{name}"));
                    }
                    Some(_) => {}
                }
            }
        }
        for from in c.get("envFrom").and_then(Value::as_array).into_iter().flatten() {
            for (field, kind, lower) in [
                ("secretRef", "Secret", "secret"),
                ("configMapRef", "ConfigMap", "configmap"),
            ] {
                let Some(r) = from.get(field) else { continue };
                if !optional(r) && lookup(kind, s(r, "/name")).is_none() {
                    return Some(format!("{lower} \"{}\" not found", s(r, "/name")));
                }
            }
        }
    }
    None
}

/// The outcome of a pod with an image no kubelet can pull: one from a registry under `.invalid`
/// (RFC 2606: such names never resolve, on a real cluster too), so tests can break a rollout
/// the same way on the double and on kind.
fn unpullable(pod: &Value) -> Option<PodOutcome> {
    let images = ["/spec/initContainers", "/spec/containers"]
        .into_iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .map(|c| s(c, "/image"));
    images
        .filter_map(|image| image.split_once('/').map(|(host, _)| host))
        .any(|host| {
            let host = host.split(':').next().unwrap_or(host);
            host.ends_with(".invalid")
        })
        .then(|| PodOutcome::Waiting {
            reason: "ErrImagePull".to_owned(),
        })
}

/// Active pods per node.
fn node_load(ctx: &Ctx<'_>) -> HashMap<String, usize> {
    let mut load = HashMap::new();
    for p in ctx.snap.list(Kind::Pod) {
        let node = s(&p, "/spec/nodeName");
        if !node.is_empty() && super::util::pod_active(&p) {
            *load.entry(node.to_owned()).or_default() += 1;
        }
    }
    load
}

/// The node for a pod: its `nodeName`; else the least loaded node it fits on; else, when
/// `force`, any node; with no nodes at all, a made-up `node-1`.
fn place(ctx: &Ctx<'_>, pod: &Value, load: &HashMap<String, usize>, force: bool) -> Option<String> {
    let bound = s(pod, "/spec/nodeName");
    if !bound.is_empty() {
        return Some(bound.to_owned());
    }
    let nodes = ctx.snap.list(Kind::Node);
    if nodes.is_empty() {
        return Some("node-1".to_owned());
    }
    let spec = pod.get("spec").cloned().unwrap_or(json!({}));
    let schedulable = |n: &&Arc<Value>| n.pointer("/spec/unschedulable") != Some(&json!(true));
    nodes
        .iter()
        .filter(|n| schedulable(n) && scheduling::fits(&spec, n))
        .min_by_key(|n| (load.get(name(n)).copied().unwrap_or(0), name(n).to_owned()))
        .or_else(|| force.then(|| nodes.first()).flatten())
        .map(|n| name(n).to_owned())
}

/// Marks a pod that fits no node as the scheduler does (once).
fn unschedulable(ctx: &mut Ctx<'_>, pod: &Arc<Value>) -> Result<(), ApiError> {
    let already = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| s(c, "/type") == "PodScheduled" && s(c, "/reason") == "Unschedulable")
        });
    if already {
        return Ok(());
    }
    let status = pending_status(pod, ctx.snap.list(Kind::Node).len(), &format_time(ctx.now));
    ctx.write_status(Kind::Pod, pod, status).map(|_| ())
}

fn pending_status(pod: &Value, nodes: usize, t: &str) -> Value {
    json!({
        "phase": "Pending",
        "qosClass": qos_class(pod),
        "conditions": [{
            "type": "PodScheduled", "status": "False", "lastTransitionTime": t, "reason": "Unschedulable",
            "message": format!("0/{nodes} nodes are available: no node matches the pod's node selector, affinity and tolerations (simulated scheduler)."),
        }],
    })
}

/// Sets one pod as `outcome` describes, whatever its state (retrying on conflicts with
/// concurrent writers).
pub fn set_pod(
    ctx: &mut Ctx<'_>,
    namespace: &str,
    pod_name: &str,
    outcome: &PodOutcome,
) -> Result<Value, ApiError> {
    let rt = ctx.rt(Kind::Pod);
    let mut attempts = 0;
    loop {
        let pod = Arc::new(ctx.api.get(&rt, Some(namespace), pod_name, None)?);
        let result = if *outcome == PodOutcome::Pending {
            let status = pending_status(&pod, ctx.snap.list(Kind::Node).len(), &format_time(ctx.now));
            ctx.write_status(Kind::Pod, &pod, status).map(|_| ())
        } else {
            let node = place(ctx, &pod, &node_load(ctx), true).unwrap_or_else(|| "node-1".to_owned());
            apply(ctx, &pod, outcome, &node)
        };
        match result {
            Err(ApiError { code: 409, .. }) if attempts < 10 => attempts += 1,
            Err(e) => return Err(e),
            Ok(()) => {
                ctx.shared
                    .handled
                    .lock()
                    .expect("kubelet lock")
                    .insert(uid(&pod).to_owned());
                return ctx.api.get(&rt, Some(namespace), pod_name, None);
            }
        }
    }
}

/// Binds the pod to `node` if it is not bound, then writes its status.
fn apply(ctx: &mut Ctx<'_>, pod: &Arc<Value>, outcome: &PodOutcome, node: &str) -> Result<(), ApiError> {
    let mut pod = pod.clone();
    if s(&pod, "/spec/nodeName").is_empty() {
        // The scheduler binds through pods/binding; the double takes the field in an update.
        let mut bound = (*pod).clone();
        bound["spec"]["nodeName"] = json!(node);
        pod = ctx.update(Kind::Pod, bound)?;
    }
    let host_ip = ctx
        .snap
        .get(Kind::Node, "", node)
        .and_then(|n| {
            n.pointer("/status/addresses")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|x| s(x, "/type") == "InternalIP"))
                .map(|x| s(x, "/address").to_owned())
        })
        .unwrap_or_else(|| "10.0.0.1".to_owned());
    let pod_ip = match s(&pod, "/status/podIP") {
        "" => ctx.shared.pod_ip(),
        ip => ip.to_owned(),
    };
    let mut status = status_for(&pod, outcome, &format_time(ctx.now), &host_ip, &pod_ip);
    if let PodOutcome::Waiting { reason } = outcome
        && reason == CREATE_CONTAINER_CONFIG_ERROR
        && let Some(message) = missing_config(ctx, &pod)
    {
        for st in status["containerStatuses"].as_array_mut().into_iter().flatten() {
            st["state"]["waiting"]["message"] = json!(message);
        }
    }
    ctx.write_status(Kind::Pod, &pod, status)?;
    ctx.shared
        .handled
        .lock()
        .expect("kubelet lock")
        .insert(uid(&pod).to_owned());
    Ok(())
}

/// The container state an outcome leads to, under the pod's restart policy.
enum Effective {
    Running(bool),
    Waiting(String),
    /// Restarted after exiting with this code and reason.
    Crashing(i64, String),
    Finished(i64, String),
}

fn effective(pod: &Value, o: &PodOutcome) -> Effective {
    let restart = match s(pod, "/spec/restartPolicy") {
        "" => "Always",
        r => r,
    };
    match o {
        PodOutcome::Pending | PodOutcome::Running { ready: false } => Effective::Running(false),
        PodOutcome::Running { ready: true } => Effective::Running(true),
        PodOutcome::Waiting { reason } if reason == "CrashLoopBackOff" => {
            Effective::Crashing(1, "Error".into())
        }
        PodOutcome::Waiting { reason } => Effective::Waiting(reason.clone()),
        PodOutcome::Succeeded if restart == "Always" => Effective::Crashing(0, "Completed".into()),
        PodOutcome::Succeeded => Effective::Finished(0, "Completed".into()),
        PodOutcome::Failed { exit_code, reason } if restart != "Never" => {
            Effective::Crashing(i64::from(*exit_code), reason.clone())
        }
        PodOutcome::Failed { exit_code, reason } => {
            Effective::Finished(i64::from(*exit_code), reason.clone())
        }
    }
}

/// The QoS class the API server computes
/// (https://kubernetes.io/docs/concepts/workloads/pods/pod-qos/).
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod.pointer(&format!("/spec/{k}")).and_then(Value::as_array))
        .flatten()
        .collect();
    let has = |c: &Value, kind: &str| {
        c.pointer(&format!("/resources/{kind}"))
            .and_then(Value::as_object)
            .is_some_and(|m| !m.is_empty())
    };
    if !containers.iter().any(|c| has(c, "requests") || has(c, "limits")) {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = c.pointer(&format!("/resources/limits/{r}"));
            let request = c.pointer(&format!("/resources/requests/{r}")).or(limit);
            limit.is_some() && limit == request
        })
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }
}

/// The kubelet's message for a container waiting with `reason`, as containerd words an image it
/// cannot resolve (the double's only pull failure is a registry that does not exist).
fn waiting_message(reason: &str, image: &str) -> String {
    match reason {
        "ErrImagePull" | "ImagePullBackOff" => {
            let host = image.split_once('/').map_or(image, |(h, _)| h);
            format!(
                "failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": \
                 dial tcp: lookup {host}: no such host"
            )
        }
        _ => format!("simulated {reason} for image \"{image}\""),
    }
}

fn status_for(pod: &Value, o: &PodOutcome, t: &str, host_ip: &str, pod_ip: &str) -> Value {
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = containers.iter().map(|c| s(c, "/name")).collect();
    let e = effective(pod, o);
    let (phase, ready) = match &e {
        Effective::Running(r) => ("Running", *r),
        Effective::Waiting(_) => ("Pending", false),
        Effective::Crashing(..) => ("Running", false),
        Effective::Finished(0, _) => ("Succeeded", false),
        Effective::Finished(..) => ("Failed", false),
    };
    let finished = matches!(e, Effective::Finished(..));
    let container_id = |c: &str| {
        format!(
            "containerd://{:0>64}",
            format!("{:x}", fnv(&format!("{}{c}", uid(pod))))
        )
    };
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let cname = s(c, "/name");
            let image = s(c, "/image");
            let mut st = json!({"name": cname, "image": image, "imageID": "", "ready": ready, "started": false, "restartCount": 0});
            match &e {
                Effective::Running(_) => {
                    st["state"] = json!({"running": {"startedAt": t}});
                    st["started"] = json!(true);
                }
                Effective::Waiting(reason) => {
                    st["state"] = json!({"waiting": {"reason": reason, "message": waiting_message(reason, image)}});
                }
                Effective::Crashing(code, reason) => {
                    st["restartCount"] = json!(1);
                    st["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 10s restarting failed container={cname} pod={}_{}({})", name(pod), s(pod, "/metadata/namespace"), uid(pod))}});
                    st["lastState"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": t, "finishedAt": t, "containerID": container_id(cname)}});
                }
                Effective::Finished(code, reason) => {
                    st["state"] = json!({"terminated": {"exitCode": code, "reason": reason, "startedAt": t, "finishedAt": t, "containerID": container_id(cname)}});
                }
            }
            if matches!(e, Effective::Running(_) | Effective::Crashing(..) | Effective::Finished(..)) {
                st["imageID"] = json!(format!("{image}@sha256:{:0>64}", format!("{:x}", fnv(image))));
                st["containerID"] = json!(container_id(cname));
            }
            st
        })
        .collect();
    let cond = |type_: &str, ok: bool, reason: Option<&str>, message: Option<String>| {
        let mut c =
            json!({"type": type_, "status": if ok { "True" } else { "False" }, "lastTransitionTime": t});
        if let Some(r) = reason {
            c["reason"] = json!(r);
        }
        if let Some(m) = message {
            c["message"] = json!(m);
        }
        c
    };
    let (not_ready_reason, not_ready_message) = if phase == "Succeeded" {
        (Some("PodCompleted"), None)
    } else if ready {
        (None, None)
    } else {
        (
            Some("ContainersNotReady"),
            Some(format!("containers with unready status: [{}]", names.join(" "))),
        )
    };
    let mut status = json!({
        "phase": phase,
        "qosClass": qos_class(pod),
        "conditions": [
            cond("PodReadyToStartContainers", !finished, None, None),
            cond("Initialized", true, None, None),
            cond("Ready", ready, not_ready_reason, not_ready_message.clone()),
            cond("ContainersReady", ready, not_ready_reason, not_ready_message),
            cond("PodScheduled", true, None, None),
        ],
        "containerStatuses": statuses,
        "startTime": t,
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
    });
    if let Some(init) = pod.pointer("/spec/initContainers").and_then(Value::as_array) {
        status["initContainerStatuses"] = init
            .iter()
            .map(|c| {
                // A native sidecar (restartPolicy Always) runs beside the main containers until
                // they end; a regular init container has run to completion.
                if s(c, "/restartPolicy") == "Always" && !matches!(e, Effective::Finished(..)) {
                    json!({"name": s(c, "/name"), "image": s(c, "/image"), "imageID": "", "ready": ready, "started": true, "restartCount": 0,
                           "state": {"running": {"startedAt": t}}})
                } else {
                    json!({"name": s(c, "/name"), "image": s(c, "/image"), "imageID": "", "ready": true, "started": false, "restartCount": 0,
                           "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": t, "finishedAt": t}}})
                }
            })
            .collect();
    }
    status
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn restart_policy_decides_whether_a_stopped_container_ends_the_pod() {
        let failed = PodOutcome::Failed {
            exit_code: 2,
            reason: "Error".into(),
        };
        let always = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"containers": [{"name": "a", "image": "x"}]}});
        let st = status_for(&always, &failed, "t", "10.0.0.1", "10.244.0.2");
        assert_eq!(st["phase"], "Running");
        assert_eq!(
            st["containerStatuses"][0]["state"]["waiting"]["reason"],
            "CrashLoopBackOff"
        );
        assert_eq!(
            st["containerStatuses"][0]["lastState"]["terminated"]["exitCode"],
            2
        );
        let never = json!({"metadata": {"name": "p", "uid": "u"}, "spec": {"restartPolicy": "Never", "containers": [{"name": "a", "image": "x"}]}});
        assert_eq!(status_for(&never, &failed, "t", "h", "p")["phase"], "Failed");
        assert_eq!(
            status_for(&never, &PodOutcome::Succeeded, "t", "h", "p")["phase"],
            "Succeeded"
        );
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&json!({"spec": {"containers": [{}]}})), "BestEffort");
        let g = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}]}});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
