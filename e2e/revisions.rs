//! TaskDefinition revisions end to end: applying the README TaskDefinition registers revision 1
//! as a ControllerRevision; applying it again unchanged registers nothing; one change (the image)
//! registers revision 2; a Service pinned to `web:1` runs revision 1's spec, and one pinned to a
//! revision that does not exist says so.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(60);

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The ControllerRevisions of TaskDefinition `web`, sorted by revision.
fn revisions(env: &Env) -> Vec<Value> {
    revisions_of(env, "web")
}

/// The ControllerRevisions of TaskDefinition `name`, sorted by revision.
fn revisions_of(env: &Env, name: &str) -> Vec<Value> {
    let selector = format!("ecsbridge.io/task-definition={name}");
    let list = env
        .get(&["controllerrevisions", "-l", &selector])
        .expect("kubectl get controllerrevisions");
    let mut items = list["items"].as_array().cloned().unwrap_or_default();
    items.sort_by_key(|cr| cr["revision"].as_i64());
    items
}

/// `kubectl get taskdef web -o jsonpath=...`.
fn jsonpath(env: &Env, path: &str) -> String {
    env.kubectl_ok(&["get", "taskdef", "web", "-o", &format!("jsonpath={{{path}}}")])
}

/// Waits until `status.revision` is `revision` for the TaskDefinition's current generation.
async fn wait_for_revision(env: &Env, revision: i64) {
    eventually(&format!("status.revision {revision}"), TIMEOUT, || {
        let td = env.get(&["taskdef", "web"]).ok_or("absent")?;
        let observed = td.pointer("/status/observedGeneration") == td.pointer("/metadata/generation");
        (observed && td.pointer("/status/revision") == Some(&Value::from(revision)))
            .then_some(())
            .ok_or(format!("{}", td["status"]))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_change_registers_one_revision() {
    let env = Env::start("revisions").await;
    let original = Env::s(&Env::example("web/taskdefinition.yaml"));
    env.kubectl_ok(&["apply", "-f", &original]);
    wait_for_revision(&env, 1).await;
    env.kubectl_ok(&["wait", "--for=condition=Ready", "taskdef/web", "--timeout=60s"]);

    // Unchanged: kubectl sends nothing new; a metadata-only edit makes the operator reconcile
    // the same spec again. Neither registers a revision.
    let out = env.kubectl_ok(&["apply", "-f", &original]);
    assert!(out.contains("taskdefinition.ecsbridge.io/web unchanged"), "{out}");
    env.kubectl_ok(&["annotate", "taskdef", "web", "example.com/touched=yes"]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(revisions(&env).len(), 1, "an unchanged spec registers nothing");

    // One change: the image.
    let text = std::fs::read_to_string(Env::example("web/taskdefinition.yaml")).expect("example");
    let changed = env.file("td.yaml", &text.replace("nginx/nginx:1.27", "nginx/nginx:1.28"));
    env.kubectl_ok(&["apply", "-f", &Env::s(&changed)]);
    wait_for_revision(&env, 2).await;
    assert_eq!(jsonpath(&env, ".status.revision"), "2");
    assert_eq!(jsonpath(&env, ".status.taskDefinitionArn"), "web:2");
    assert_eq!(jsonpath(&env, ".status.status"), "ACTIVE");

    // Exactly two ControllerRevisions, 1 and 2, owned by the TaskDefinition, each with its spec.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let td = env.get(&["taskdef", "web"]).expect("the TaskDefinition");
    let crs = revisions(&env);
    let numbers: Vec<Option<i64>> = crs.iter().map(|cr| cr["revision"].as_i64()).collect();
    assert_eq!(numbers, [Some(1), Some(2)], "{crs:?}");
    for (cr, (n, image)) in crs.iter().zip([("1", "1.27"), ("2", "1.28")]) {
        assert_eq!(s(cr, "/metadata/name"), format!("web-{n}"));
        assert_eq!(s(cr, "/metadata/labels/ecsbridge.io~1revision"), n);
        assert_eq!(
            s(cr, "/metadata/labels/app.kubernetes.io~1managed-by"),
            "ecs-bridge"
        );
        let owners = cr["metadata"]["ownerReferences"].as_array().expect("owners");
        assert_eq!(owners.len(), 1, "{cr}");
        let owner = &owners[0];
        assert_eq!(
            (s(owner, "/kind"), s(owner, "/name"), s(owner, "/uid")),
            ("TaskDefinition", "web", s(&td, "/metadata/uid"))
        );
        assert_eq!(owner["controller"], true);
        assert_eq!(owner["blockOwnerDeletion"], true);
        assert_eq!(
            s(cr, "/data/containerDefinitions/0/image"),
            format!("public.ecr.aws/nginx/nginx:{image}")
        );
        assert!(
            s(cr, "/metadata/annotations/ecsbridge.io~1spec-hash").starts_with("fnv1a64:"),
            "{cr}"
        );
    }
    assert_eq!(td.pointer("/status/revisions"), Some(&serde_json::json!([1, 2])));

    // A Service pinned to web:1 runs revision 1's image although the family is at revision 2.
    let pinned = env.file(
        "pinned.yaml",
        "apiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: pinned\nspec:\n  \
         taskDefinition: web:1\n  desiredCount: 1\n",
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&pinned)]);
    eventually("the pinned Deployment with revision 1's image", TIMEOUT, || {
        let d = env.get(&["deployment", "pinned"]).ok_or("absent")?;
        let image = s(&d, "/spec/template/spec/containers/0/image");
        let revision = s(&d, "/spec/template/metadata/labels/ecsbridge.io~1revision");
        (image == "public.ecr.aws/nginx/nginx:1.27" && revision == "1")
            .then_some(())
            .ok_or(format!("{image} revision {revision}"))
    })
    .await;

    // A Service pinned to a revision that was never registered is not Ready, and says why.
    let missing = env.file(
        "missing.yaml",
        "apiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: missing\nspec:\n  \
         taskDefinition: web:9\n  desiredCount: 1\n",
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&missing)]);
    let ready = eventually("the missing revision reported", TIMEOUT, || {
        let svc = env.get(&["ecssvc", "missing"]).ok_or("absent")?;
        let conditions = svc.pointer("/status/conditions").and_then(Value::as_array);
        conditions
            .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready").cloned())
            .ok_or(format!("{}", svc["status"]))
    })
    .await;
    assert_eq!(s(&ready, "/status"), "False");
    assert_eq!(s(&ready, "/reason"), "TaskDefinitionNotFound");
    assert!(s(&ready, "/message").contains("web:9"), "{ready}");
    assert!(env.get(&["deployment", "missing"]).is_none());
}

/// Revision numbers are never reused: deleting TaskDefinition `web` (its revisions go with it)
/// and applying it again goes on from the family's last number, which the namespace's families
/// ConfigMap keeps.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_and_reapplied_family_never_reuses_a_number() {
    let env = Env::start("renumber").await;
    let original = Env::s(&Env::example("web/taskdefinition.yaml"));
    env.kubectl_ok(&["apply", "-f", &original]);
    wait_for_revision(&env, 1).await;
    let text = std::fs::read_to_string(Env::example("web/taskdefinition.yaml")).expect("example");
    let changed = env.file("td.yaml", &text.replace("nginx/nginx:1.27", "nginx/nginx:1.28"));
    env.kubectl_ok(&["apply", "-f", &Env::s(&changed)]);
    wait_for_revision(&env, 2).await;

    env.kubectl_ok(&["delete", "taskdef", "web", "--wait=true"]);
    eventually("the revisions collected", TIMEOUT, || {
        revisions(&env)
            .is_empty()
            .then_some(())
            .ok_or("revisions left".to_owned())
    })
    .await;
    env.kubectl_ok(&["apply", "-f", &original]);
    wait_for_revision(&env, 3).await;
    let crs = revisions(&env);
    assert_eq!(crs.len(), 1, "{crs:?}");
    assert_eq!(s(&crs[0], "/metadata/name"), "web-3");
    let families = env
        .get(&["configmap", "ecsbridge-task-definition-families"])
        .expect("the families ConfigMap");
    // The number, and the TaskDefinition it was given to.
    let td = env.get(&["taskdef", "web"]).expect("the TaskDefinition");
    assert_eq!(
        s(&families, "/data/web"),
        format!("3 {}", s(&td, "/metadata/uid")),
        "{families}"
    );
    assert!(
        families["metadata"].get("ownerReferences").is_none(),
        "{families}"
    );
}

/// The ReplicaSets of Service `web`: (revision label, image) of each, sorted.
fn replica_sets(env: &Env) -> Vec<(String, String)> {
    let list = env
        .get(&["rs", "-l", "ecsbridge.io/service=web"])
        .expect("kubectl get rs");
    let mut out: Vec<(String, String)> = list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|rs| {
            (
                s(rs, "/spec/template/metadata/labels/ecsbridge.io~1revision").to_owned(),
                s(rs, "/spec/template/spec/containers/0/image").to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

/// An edit of a TaskDefinition reaches its Service once, as the revision it registers: N edits
/// make exactly N new ReplicaSets, each labelled with the revision whose image it runs (the
/// Service never runs the live spec under the previous revision's number).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_edit_rolls_out_once_as_its_revision() {
    let env = Env::start("edits").await;
    env.kubectl_ok(&["apply", "-f", &Env::s(&Env::example("web"))]);
    let text = std::fs::read_to_string(Env::example("web/taskdefinition.yaml")).expect("example");
    let tags = ["1.27", "1.28", "1.29", "1.30"];
    for (n, tag) in tags.iter().enumerate() {
        let revision = (n + 1).to_string();
        if n > 0 {
            let edited = env.file(
                &format!("td-{revision}.yaml"),
                &text.replace("nginx/nginx:1.27", &format!("nginx/nginx:{tag}")),
            );
            env.kubectl_ok(&["apply", "-f", &Env::s(&edited)]);
        }
        // The rollout of this revision is complete: the Service runs it and the Deployment's
        // every replica is of its template.
        eventually(&format!("web running web:{revision}"), TIMEOUT, || {
            let svc = env.get(&["ecssvc", "web"]).ok_or("absent")?;
            let d = env.get(&["deployment", "web"]).ok_or("no Deployment")?;
            let running = s(&svc, "/status/taskDefinition") == format!("web:{revision}");
            let labelled = s(&d, "/spec/template/metadata/labels/ecsbridge.io~1revision") == revision;
            let observed = d.pointer("/status/observedGeneration") == d.pointer("/metadata/generation");
            let replicas = d.pointer("/spec/replicas");
            let done =
                d.pointer("/status/updatedReplicas") == replicas && d.pointer("/status/replicas") == replicas;
            (running && labelled && observed && done)
                .then_some(())
                .ok_or(format!("{} {}", svc["status"]["taskDefinition"], d["status"]))
        })
        .await;
    }
    let expected: Vec<(String, String)> = tags
        .iter()
        .enumerate()
        .map(|(n, tag)| ((n + 1).to_string(), format!("public.ecr.aws/nginx/nginx:{tag}")))
        .collect();
    assert_eq!(
        replica_sets(&env),
        expected,
        "one ReplicaSet per revision, each with its own image"
    );

    // An edit ECS would refuse (the container reserves more cpu than the task has) registers
    // nothing: the TaskDefinition is not Ready and Degraded, naming the field, and the Service
    // keeps running the last registered revision.
    let refused = env.file(
        "td-refused.yaml",
        &text
            .replace("nginx/nginx:1.27", "nginx/nginx:1.31")
            .replace("cpu: 256", "cpu: 1024"),
    );
    env.kubectl_ok(&["apply", "-f", &Env::s(&refused)]);
    let td = eventually("the refused edit reported", TIMEOUT, || {
        let td = env.get(&["taskdef", "web"]).ok_or("absent")?;
        let observed = td.pointer("/status/observedGeneration") == td.pointer("/metadata/generation");
        observed.then_some(td.clone()).ok_or(format!("{}", td["status"]))
    })
    .await;
    let conditions = td["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let find = |t: &str| {
        conditions
            .iter()
            .find(|c| c["type"] == t)
            .cloned()
            .unwrap_or_default()
    };
    let (ready, degraded) = (find("Ready"), find("Degraded"));
    assert_eq!(
        (s(&ready, "/status"), s(&degraded, "/status")),
        ("False", "True"),
        "{td}"
    );
    assert_eq!(s(&degraded, "/reason"), "InvalidTaskDefinition");
    assert!(s(&degraded, "/message").starts_with("spec.cpu: "), "{degraded}");
    assert_eq!(td.pointer("/status/revision"), Some(&Value::from(4)));
    let table = env.kubectl_ok(&["get", "taskdef", "web"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap_or("").split_whitespace().collect();
    assert_eq!(
        &row[..6],
        ["web", "4", "ACTIVE", "False", "Degraded", "InvalidTaskDefinition"],
        "{table}"
    );
    let wide = env.kubectl_ok(&["get", "taskdef", "web", "-o", "wide"]);
    assert!(
        wide.contains("spec.cpu: the containers' cpu add up to 1024"),
        "{wide}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(revisions_of(&env, "web").len(), 4, "nothing registered");
    assert_eq!(replica_sets(&env), expected, "no rollout");
    let svc = env.get(&["ecssvc", "web"]).expect("the Service");
    assert_eq!(s(&svc, "/status/taskDefinition"), "web:4");
}
