//! The operator never writes to a spec (design.md: it would make a GitOps tool such as Argo CD
//! see drift). Apply the examples an Argo CD Application syncs (every manifest under
//! `examples/` but `examples/argocd/`), let the operator converge (every TaskDefinition and
//! Service Ready, or Degraded for what the cluster lacks, for its generation), then read every
//! applied object back:
//!
//! - its `spec` is exactly what was applied. Nothing is normalized: the CRDs declare no defaults
//!   (tests/crd_schema.rs) and every field of the examples is in the schema, so the API server
//!   itself changes nothing in these specs; any difference is a write by someone else;
//! - its `metadata.generation` is still 1 (any change of `spec` moves it, a status write does not);
//! - its managed fields give the `spec` fields to the applier only: the test applies with
//!   server-side apply as Argo CD does (`ServerSideApply=true`, field manager
//!   `argocd-controller`), and any other owner of a spec field fails the test (the operator's
//!   managers are `ecsbridge.io/<controller>`, but an update without a field manager would be
//!   named after its user agent); the operator does own the status of the kinds it reconciles,
//!   so the check sees its writes at all.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use serde_json::Value;

use crate::support::{Env, eventually, repo};

const TIMEOUT: Duration = Duration::from_secs(90);
/// The field manager of the apply: Argo CD's, as its server-side applies name it.
const APPLIER: &str = "argocd-controller";

/// The manifests an Argo CD Application of `examples/` syncs: every `*.yaml` below `examples/`
/// except `examples/argocd/` (examples/argocd/application.yaml excludes it), sorted.
fn example_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read examples") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "argocd") {
                    walk(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("examples"), &mut files);
    files.sort();
    files
}

/// The objects in `path` (one or more YAML documents).
fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("read example");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("a YAML document"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

/// `kubectl get` name of an ecs-bridge kind, fully qualified (`services` alone is the core one).
fn resource(kind: &str) -> String {
    let plural = match kind {
        "TaskDefinition" => "taskdefinitions",
        "Service" => "services",
        "Task" => "tasks",
        "ScheduledTask" => "scheduledtasks",
        "CapacityProvider" => "capacityproviders",
        other => panic!("an example of kind {other}, not an ecs-bridge kind"),
    };
    format!("{plural}.ecsbridge.io")
}

fn name(obj: &Value) -> &str {
    obj["metadata"]["name"].as_str().expect("metadata.name")
}

/// Whether `obj` is `Ready=True` with a status of its current generation.
fn ready(obj: &Value) -> Result<(), String> {
    let generation = &obj["metadata"]["generation"];
    if obj["status"]["observedGeneration"] != *generation {
        return Err(format!(
            "observedGeneration {} of generation {generation}",
            obj["status"]["observedGeneration"]
        ));
    }
    let conditions = obj["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // A Task's tasks run until they end (the double's kubelet ends none on its own): running is
    // settled.
    if obj["kind"] == "Task"
        && ["RUNNING", "STOPPED"].contains(&obj["status"]["lastStatus"].as_str().unwrap_or_default())
    {
        return Ok(());
    }
    // (Degraded: the test bed has no AWS Load Balancer Controller, which `orders` needs.)
    conditions
        .iter()
        .any(|c| (c["type"] == "Ready" || c["type"] == "Degraded") && c["status"] == "True")
        .then_some(())
        .ok_or_else(|| format!("conditions {conditions:?}"))
}

/// The managers of `obj`'s managed fields that own a field of `spec`, and those that own a
/// field of `status` (through the status subresource).
fn owners(obj: &Value) -> (Vec<String>, Vec<String>) {
    let entries = obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let of = |top: &str| -> Vec<String> {
        entries
            .iter()
            .filter(|e| e["fieldsV1"].get(top).is_some())
            .map(|e| e["manager"].as_str().unwrap_or("<no manager>").to_owned())
            .collect()
    };
    (of("f:spec"), of("f:status"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_never_writes_to_a_spec() {
    let env = Env::start("spec").await;
    let files = example_files();
    let applied: Vec<Value> = files.iter().flat_map(|f| documents(f)).collect();
    let kinds: Vec<&str> = applied.iter().filter_map(|o| o["kind"].as_str()).collect();
    for kind in ["TaskDefinition", "Service", "Task"] {
        assert!(kinds.contains(&kind), "the examples have a {kind}: {kinds:?}");
    }
    // As Argo CD applies them with `ServerSideApply=true` (examples/argocd/application.yaml).
    let mut args = vec![
        "apply".to_owned(),
        "--server-side".to_owned(),
        format!("--field-manager={APPLIER}"),
    ];
    for f in &files {
        args.extend(["-f".to_owned(), Env::s(f)]);
    }
    // The capacity example's providers select nodes by managed node groups' capacity type: two
    // nodes labelled so (as on EKS), one of each.
    let node_names = env.nodes(2);
    env.label_nodes([
        (&node_names[0], "eks.amazonaws.com/capacityType=ON_DEMAND"),
        (&node_names[1], "eks.amazonaws.com/capacityType=SPOT"),
    ]);
    env.kubectl_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // The operator converges: every kind it reconciles is Ready (or Degraded) for its generation.
    for obj in &applied {
        let kind = obj["kind"].as_str().unwrap_or_default();
        if ![
            "TaskDefinition",
            "Service",
            "Task",
            "ScheduledTask",
            "CapacityProvider",
        ]
        .contains(&kind)
        {
            continue;
        }
        let what = format!("{kind} {} settled for its generation", name(obj));
        eventually(&what, TIMEOUT, || {
            let live = env.get(&[&resource(kind), name(obj)]).ok_or("absent")?;
            ready(&live)
        })
        .await;
    }

    for obj in &applied {
        let kind = obj["kind"].as_str().unwrap_or_default();
        let live = env
            .get(&[&resource(kind), name(obj), "--show-managed-fields"])
            .unwrap_or_else(|| panic!("{kind} {} exists", name(obj)));
        let what = format!("{kind} {}", name(obj));
        assert_eq!(
            live["spec"],
            obj["spec"],
            "{what}: the spec read back is not the one applied\n--- operator log ---\n{}",
            env.operator_log()
        );
        assert_eq!(
            live["metadata"]["generation"], 1,
            "{what}: applied once, so generation 1; something wrote to the spec"
        );
        let (spec_owners, status_owners) = owners(&live);
        assert!(
            !spec_owners.is_empty(),
            "{what}: {APPLIER} owns the spec fields it applied (managed fields are tracked): {}",
            live["metadata"]
        );
        let others: Vec<&String> = spec_owners.iter().filter(|m| *m != APPLIER).collect();
        assert!(
            others.is_empty(),
            "{what}: spec fields owned by {others:?}, not only by {APPLIER} that applied them: {}",
            live["metadata"]["managedFields"]
        );
        if [
            "TaskDefinition",
            "Service",
            "CapacityProvider",
            "Task",
            "ScheduledTask",
        ]
        .contains(&kind)
        {
            assert!(
                status_owners.iter().any(|m| m.starts_with("ecsbridge.io/")),
                "{what}: the operator owns the status it wrote: {status_owners:?}"
            );
        }
    }
    env.label_nodes(node_names.iter().map(|n| (n, "eks.amazonaws.com/capacityType-")));
}
