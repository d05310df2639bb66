//! `ecs-bridge render` end to end: the README examples render to objects that the upstream
//! Kubernetes schemas accept, every corpus task definition renders (through `import`) to valid
//! objects, and bad input fails with the file, position and field.

mod support;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ecs-bridge"))
}

fn run(cmd: &mut Command) -> (Output, String, String) {
    let out = cmd.output().expect("run ecs-bridge");
    let stdout = String::from_utf8(out.stdout.clone()).expect("utf-8 stdout");
    let stderr = String::from_utf8(out.stderr.clone()).expect("utf-8 stderr");
    (out, stdout, stderr)
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ecs-bridge-render-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Renders `paths` as a JSON List and returns (items, stderr, success).
fn render_json(paths: &[&Path]) -> (Vec<Value>, String, bool) {
    let (out, stdout, stderr) = run(bin().arg("render").args(paths).args(["-o", "json"]));
    let list: Value = serde_json::from_str(&stdout).expect("render -o json prints JSON");
    assert_eq!(list["apiVersion"], "v1");
    assert_eq!(list["kind"], "List");
    (
        list["items"].as_array().expect("items").clone(),
        stderr,
        out.status.success(),
    )
}

fn validate_all(items: &[Value], name: &str) {
    let dir = scratch(name);
    let file = dir.join("objects.yaml");
    let yaml: String = items
        .iter()
        .map(|i| format!("---\n{}", serde_yaml_ng::to_string(i).expect("yaml")))
        .collect();
    std::fs::write(&file, yaml).expect("write objects");
    for version in support::KUBERNETES_VERSIONS {
        if let Err(e) = support::kubernetes_validate(&[&file], version) {
            panic!("rendered objects invalid for Kubernetes {version}:\n{e}");
        }
    }
}

#[test]
fn readme_examples_render_to_valid_objects() {
    let examples = support::repo_root().join("examples");
    let (items, stderr, ok) = render_json(&[&examples]);
    assert!(ok, "render failed:\n{stderr}");
    let kinds: Vec<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap_or("").to_owned(),
                i["metadata"]["name"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert!(kinds.contains(&("Deployment".into(), "web".into())), "{kinds:?}");
    assert!(
        kinds.contains(&("PodTemplate".into(), "web-1".into())),
        "{kinds:?}"
    );
    // The batch example's ScheduledTask: its CronJob (validated below with the rest).
    assert!(
        kinds.contains(&("CronJob".into(), "weekday-report".into())),
        "{kinds:?}"
    );
    let deployment = items
        .iter()
        .find(|i| i["kind"] == "Deployment" && i["metadata"]["name"] == "web")
        .expect("deployment");
    assert_eq!(deployment["spec"]["replicas"], 3);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "public.ecr.aws/nginx/nginx:1.27");
    assert_eq!(container["resources"]["requests"]["cpu"], "250m");
    assert_eq!(container["resources"]["limits"]["memory"], "512Mi");
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"]["ecsbridge.io/service"],
        "web"
    );
    // The orders example's load balancer and Service Connect objects (the TargetGroupBinding
    // is checked against its CRD in tests/networking_render.rs).
    for (kind, name) in [
        ("Service", "orders-lb"),
        ("Service", "orders"),
        ("TargetGroupBinding", "orders.orders"),
    ] {
        assert!(
            kinds.contains(&(kind.into(), name.into())),
            "{kind} {name}: {kinds:?}"
        );
    }
    validate_all(&items, "examples");
    // What is not translated yet is said, with the place it is written.
    assert!(
        stderr.contains(
            "examples/web/taskdefinition.yaml:11:3: warning: TaskDefinition default/web: spec.cpu:"
        ),
        "{stderr}"
    );
}

#[test]
fn yaml_and_json_outputs_hold_the_same_objects() {
    let examples = support::repo_root().join("examples");
    let (items, _, _) = render_json(&[&examples]);
    let (out, stdout, _) = run(bin().arg("render").arg(&examples));
    assert!(out.status.success());
    let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&stdout)
        .map(|d| serde::Deserialize::deserialize(d).expect("yaml document"))
        .collect();
    assert_eq!(docs, items);
}

#[test]
fn every_corpus_task_definition_renders_to_valid_objects() {
    let dir = scratch("corpus");
    let files = support::corpus_files("taskdef-");
    assert!(files.len() >= 30, "corpus has {} task definitions", files.len());
    let (out, stdout, stderr) = run(bin().arg("import").args(&files));
    assert!(out.status.success(), "import failed:\n{stderr}");
    std::fs::write(dir.join("taskdefs.yaml"), stdout).expect("write imported");
    let (items, stderr, ok) = render_json(&[&dir]);
    // Task definitions ECS itself would refuse to register fail with ECS's reason, and only they.
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error: ")).collect();
    for line in &errors {
        assert!(
            INVALID_IN_ECS.iter().any(|(name, reason)| line
                .contains(&format!("TaskDefinition default/{name}:"))
                && line.contains(reason)),
            "unexpected render error: {line}\n{stderr}"
        );
    }
    assert_eq!(
        errors.len(),
        INVALID_IN_ECS.len(),
        "expected exactly the refusals ECS would give:\n{stderr}"
    );
    assert_eq!(ok, errors.is_empty());
    let templates = items.iter().filter(|i| i["kind"] == "PodTemplate").count();
    assert_eq!(
        templates,
        files.len() - INVALID_IN_ECS.len(),
        "one PodTemplate per valid task definition"
    );
    validate_all(&items, "corpus-out");
}

/// Every corpus service renders, through `import`, to valid objects (its networking objects
/// included): with its task definition where the corpus has it (same family), else with a stub
/// task definition that has the containers and ports the service names (its load balancers' and
/// registries' `containerName`/`containerPort`) and the network mode its `networkConfiguration`
/// implies.
#[test]
fn every_corpus_service_renders_to_valid_objects() {
    let dir = scratch("corpus-services");
    let services = support::corpus_files("service-");
    assert!(services.len() >= 5, "corpus has {} services", services.len());
    // Families of the corpus task definitions.
    let task_definitions: Vec<(String, PathBuf)> = support::corpus_files("taskdef-")
        .into_iter()
        .filter_map(|f| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).ok()?).ok()?;
            let td = v.get("taskDefinition").unwrap_or(&v);
            Some((td.get("family")?.as_str()?.to_owned(), f))
        })
        .collect();
    let mut expected = Vec::new();
    for (i, file) in services.iter().enumerate() {
        let (out, stdout, stderr) = run(bin().arg("import").arg(file));
        assert!(out.status.success(), "import {}:\n{stderr}", file.display());
        let mut svc: Value = serde_yaml_ng::from_str(&stdout).expect("one Service");
        // Some corpus services are templates their tools fill in before calling ECS
        // (`TARGET_GROUP_ARN`, ecspresso's `{{ tfstate ... }}`): fill in the target groups as they
        // would (ECS, and render, refuse anything but a target group ARN).
        for (j, lb) in svc["spec"]["loadBalancers"]
            .as_array_mut()
            .into_iter()
            .flatten()
            .enumerate()
        {
            if lb["targetGroupArn"]
                .as_str()
                .is_some_and(|a| !a.starts_with("arn:"))
            {
                lb["targetGroupArn"] = Value::from(format!(
                    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/corpus-{i}-{j}/0123456789abcdef"
                ));
            }
        }
        let name = svc["metadata"]["name"].as_str().expect("a name").to_owned();
        let family = svc["spec"]["taskDefinition"].as_str().map(|r| {
            r.rsplit('/')
                .next()
                .unwrap_or(r)
                .split(':')
                .next()
                .unwrap_or(r)
                .to_owned()
        });
        let corpus_td = family
            .as_ref()
            .and_then(|f| task_definitions.iter().find(|(tf, _)| tf == f));
        let td_yaml = if let Some((_, td_file)) = corpus_td {
            let (out, stdout, stderr) = run(bin().arg("import").arg(td_file));
            assert!(out.status.success(), "import {}:\n{stderr}", td_file.display());
            stdout
        } else {
            // A stub with what the service refers to.
            let stub = format!("stub-{i}");
            svc["spec"]["taskDefinition"] = Value::from(stub.clone());
            let mut containers: Vec<(String, Vec<i64>)> = Vec::new();
            let named = svc["spec"]["loadBalancers"]
                .as_array()
                .into_iter()
                .chain(svc["spec"]["serviceRegistries"].as_array())
                .flatten()
                .filter(|r| r["containerName"].is_string() || r["containerPort"].is_i64());
            for lb in named {
                let c = lb["containerName"].as_str().unwrap_or("app").to_owned();
                let port = lb["containerPort"].as_i64().unwrap_or(80);
                match containers.iter_mut().find(|(n, _)| *n == c) {
                    Some((_, ports)) if ports.contains(&port) => {}
                    Some((_, ports)) => ports.push(port),
                    None => containers.push((c, vec![port])),
                }
            }
            if containers.is_empty() {
                containers.push(("app".to_owned(), Vec::new()));
            }
            let awsvpc = !svc["spec"]["networkConfiguration"].is_null();
            let containers: Vec<Value> = containers
                .into_iter()
                .map(|(name, ports)| {
                    serde_json::json!({
                        "name": name,
                        "image": "public.ecr.aws/nginx/nginx:1.27",
                        "memory": 256,
                        "essential": true,
                        "portMappings": ports.iter().map(|p| serde_json::json!({"containerPort": p})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let td = serde_json::json!({
                "apiVersion": "ecsbridge.io/v1alpha1",
                "kind": "TaskDefinition",
                "metadata": {"name": stub},
                "spec": {
                    "networkMode": if awsvpc { "awsvpc" } else { "bridge" },
                    "containerDefinitions": containers,
                },
            });
            serde_yaml_ng::to_string(&td).expect("yaml")
        };
        std::fs::write(dir.join(format!("{i}-taskdefinition.yaml")), td_yaml).expect("write");
        std::fs::write(
            dir.join(format!("{i}-service.yaml")),
            serde_yaml_ng::to_string(&svc).expect("yaml"),
        )
        .expect("write");
        let workload = if svc["spec"]["schedulingStrategy"] == "DAEMON" {
            "DaemonSet"
        } else {
            "Deployment"
        };
        expected.push((name, workload, corpus_td.is_some()));
    }
    let (items, stderr, ok) = render_json(&[&dir]);
    assert!(ok, "corpus services render:\n{stderr}");
    for (name, workload, _) in &expected {
        // (Its workload, or one per capacity provider: `launchType: FARGATE` runs on FARGATE.)
        assert!(
            items.iter().any(|i| i["kind"] == *workload
                && i["metadata"]["labels"]["ecsbridge.io/service"] == name.as_str()
                && (i["metadata"]["name"] == name.as_str()
                    || i["metadata"]["labels"]["ecsbridge.io/capacity-provider"].is_string())),
            "no {workload} {name}:\n{stderr}"
        );
    }
    // A FARGATE service runs on the built-in FARGATE provider's nodes.
    let fargate = items
        .iter()
        .find(|i| i["metadata"]["labels"]["ecsbridge.io/capacity-provider"] == "FARGATE")
        .expect("a service on FARGATE among the corpus");
    assert_eq!(
        fargate["spec"]["template"]["spec"]["nodeSelector"]["eks.amazonaws.com/compute-type"], "fargate",
        "{fargate:#}"
    );
    // At least one service runs its own corpus task definition, not a stub.
    assert!(expected.iter().any(|(_, _, own)| *own), "{expected:?}");
    validate_all(&items, "corpus-services-out");
    // (kubernetes-validate skips custom resources: the bindings against their published CRD.)
    let bindings: String = items
        .iter()
        .filter(|i| i["kind"] == "TargetGroupBinding")
        .map(|i| format!("---\n{}", serde_yaml_ng::to_string(i).expect("yaml")))
        .collect();
    assert!(!bindings.is_empty(), "corpus load balancers are bound");
    let file = dir.join("bindings.yaml");
    std::fs::write(&file, bindings).expect("write bindings");
    support::validate_custom_resources(&support::target_group_binding_crd(), &[&file])
        .unwrap_or_else(|e| panic!("TargetGroupBindings invalid against the published CRD:\n{e}"));
}

/// Corpus task definitions that ECS would not register, and the reason render gives.
const INVALID_IN_ECS: &[(&str, &str)] = &[
    // spinnaker's test artifact asks for 2 x 256 cpu units in a task of 256 (ECS: "The sum of all
    // container 'cpu' values cannot be greater than the value of the task 'cpu'").
    ("placeholder", "spec.cpu"),
];

#[test]
fn unknown_fields_are_errors_with_file_line_and_column() {
    let dir = scratch("unknown");
    let file = dir.join("td.yaml");
    std::fs::write(
        &file,
        "apiVersion: ecsbridge.io/v1alpha1\nkind: TaskDefinition\nmetadata:\n  name: web\nspec:\n  \
         containerDefinitions:\n  - name: web\n    image: nginx\n    portMapings:\n    - containerPort: 80\n",
    )
    .expect("write");
    let (out, _, stderr) = run(bin().arg("render").arg(&file));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let want = format!(
        "{}:9:5: error: spec.containerDefinitions[0].portMapings: unknown field",
        file.display()
    );
    assert!(stderr.contains(&want), "expected {want:?} in:\n{stderr}");
}

#[test]
fn wrong_types_and_missing_references_name_the_field() {
    let dir = scratch("refs");
    let file = dir.join("svc.yaml");
    std::fs::write(
        &file,
        "apiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  taskDefinition: web:2\n  \
         desiredCount: 2\n---\napiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: bad\nspec:\n  \
         desiredCount: many\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n",
    )
    .expect("write");
    let (out, stdout, stderr) = run(bin().arg("render").arg(&file));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let f = file.display();
    for want in [
        format!("{f}:6:3: error: spec.taskDefinition: task definition \"web\" not found"),
        format!("{f}:14:3: error: spec.desiredCount: invalid type: string \"many\", expected an integer"),
        format!("{f}:16:1: warning: skipped: ConfigMap (\"v1\") is not an ecs-bridge kind"),
    ] {
        assert!(stderr.contains(&want), "expected {want:?} in:\n{stderr}");
    }
    assert!(stdout.trim().is_empty(), "nothing to render: {stdout}");
}

#[test]
fn a_missing_file_is_an_error() {
    let (out, _, stderr) = run(bin().args(["render", "/nonexistent/ecs-bridge.yaml"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("/nonexistent/ecs-bridge.yaml: error: cannot read"),
        "{stderr}"
    );
}

#[test]
fn installation_flags_change_what_is_rendered() {
    let dir = scratch("flags");
    let file = dir.join("td.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: app
  namespace: team-a
spec:
  containerDefinitions:
    - name: app
      image: nginx:1.27
      environmentFiles:
        - value: arn:aws:s3:::config-bucket/prod/app.env
          type: s3
      secrets:
        - name: TOKEN
          valueFrom: arn:aws:ssm:us-east-1:123456789012:parameter/token
"#,
    )
    .expect("write");
    let kinds = |items: &[Value]| -> Vec<String> {
        items
            .iter()
            .map(|i| i["kind"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // Defaults: an ExternalSecret; the environment file reported, not loaded.
    let (items, stderr, ok) = render_json(&[&file]);
    assert!(ok, "{stderr}");
    assert_eq!(kinds(&items), ["PodTemplate", "ExternalSecret"]);
    assert!(items[0].pointer("/template/spec/containers/0/envFrom").is_none());
    assert!(stderr.contains("environmentFiles[0]: ignored"), "{stderr}");

    let (out, stdout, stderr) = run(bin().arg("render").arg(&file).args([
        "-o",
        "json",
        "--external-secrets=false",
        "--environment-files-as-config-maps",
    ]));
    assert!(out.status.success(), "{stderr}");
    let list: Value = serde_json::from_str(&stdout).expect("json");
    let items = list["items"].as_array().expect("items").clone();
    assert_eq!(
        kinds(&items),
        ["PodTemplate"],
        "no ExternalSecret without External Secrets"
    );
    assert_eq!(
        items[0].pointer("/template/spec/containers/0/envFrom/0/configMapRef/name"),
        Some(&Value::from("config-bucket-prod-app"))
    );
    assert!(
        stderr.contains("kubectl create configmap config-bucket-prod-app --from-env-file=app.env"),
        "{stderr}"
    );
    validate_all(&items, "flags");
}

#[test]
fn attribute_prefix_names_the_labels_of_custom_attributes() {
    let key = "/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchExpressions/0/key";
    let (out, stdout, stderr) = run(bin().args([
        "explain",
        "--attribute-prefix",
        "example.com/",
        "--expression",
        "attribute:stack == prod",
    ]));
    assert!(out.status.success(), "{stderr}");
    let explained: Value = serde_json::from_str(&stdout).expect("explain prints JSON");
    assert_eq!(explained.pointer(key), Some(&Value::from("example.com/stack")));
    // The default stays ecsbridge.io/attr-.
    let (out, stdout, stderr) = run(bin().args(["explain", "--expression", "attribute:stack == prod"]));
    assert!(out.status.success(), "{stderr}");
    let explained: Value = serde_json::from_str(&stdout).expect("explain prints JSON");
    assert_eq!(
        explained.pointer(key),
        Some(&Value::from("ecsbridge.io/attr-stack"))
    );

    // render: the task definition's pod template and the service's Deployment (memberOf and
    // spread) read the same labels.
    let dir = scratch("attribute-prefix");
    let file = dir.join("app.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: app
spec:
  containerDefinitions:
    - name: app
      image: nginx:1.27
  placementConstraints:
    - type: memberOf
      expression: attribute:stack == prod
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: app
spec:
  serviceName: app
  taskDefinition: app
  desiredCount: 2
  placementStrategy:
    - type: spread
      field: attribute:rack
"#,
    )
    .expect("write");
    let (out, stdout, stderr) =
        run(bin()
            .arg("render")
            .arg(&file)
            .args(["-o", "json", "--attribute-prefix", "example.com/attr."]));
    assert!(out.status.success(), "{stderr}");
    let list: Value = serde_json::from_str(&stdout).expect("json");
    let items = list["items"].as_array().expect("items").clone();
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
    assert_eq!(kinds, ["PodTemplate", "Deployment"]);
    let affinity_key = "/spec/affinity".to_owned() + key;
    assert_eq!(
        items[0].pointer(&format!("/template{affinity_key}")),
        Some(&Value::from("example.com/attr.stack"))
    );
    assert_eq!(
        items[1].pointer(&format!("/spec/template{affinity_key}")),
        Some(&Value::from("example.com/attr.stack"))
    );
    assert_eq!(
        items[1].pointer("/spec/template/spec/topologySpreadConstraints/0/topologyKey"),
        Some(&Value::from("example.com/attr.rack"))
    );
    validate_all(&items, "attribute-prefix");
}

#[test]
fn a_bad_attribute_prefix_is_refused_before_anything_runs() {
    for args in [
        vec![
            "explain",
            "--expression",
            "attribute:stack == prod",
            "--attribute-prefix",
            "Example.com/",
        ],
        vec![
            "render",
            "/nonexistent/ecs-bridge.yaml",
            "--attribute-prefix",
            "Example.com/",
        ],
        vec!["run", "--attribute-prefix", "Example.com/"],
    ] {
        let (out, stdout, stderr) = run(bin().args(&args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr.contains("--attribute-prefix") && stderr.contains("Example.com/"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("like example.com/attr-"), "{args:?}: {stderr}");
    }
    // run reads it from the environment too, and checks it there.
    let (out, _, stderr) = run(bin().arg("run").env("ECS_BRIDGE_ATTRIBUTE_PREFIX", "a b/"));
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--attribute-prefix") && stderr.contains("a b/"),
        "{stderr}"
    );
}

#[test]
fn rollouts_render_to_valid_strategies_and_a_stuck_one_says_why() {
    let dir = scratch("rollout");
    let file = dir.join("services.yaml");
    std::fs::write(
        &file,
        r#"apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: app
spec:
  containerDefinitions:
    - name: app
      image: nginx:1.27
      healthCheck:
        command: ["CMD", "true"]
  tags:
    - key: owner
      value: team a
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: stuck
spec:
  taskDefinition: app
  desiredCount: 1
  deploymentConfiguration:
    minimumHealthyPercent: 100
    maximumPercent: 100
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: scaled
spec:
  taskDefinition: app
  desiredCount: 4
  healthCheckGracePeriodSeconds: 120
  propagateTags: TASK_DEFINITION
  enableECSManagedTags: true
  tags:
    - key: "cost center"
      value: "a:b"
  deploymentConfiguration:
    minimumHealthyPercent: 50
    maximumPercent: 125
  autoScaling:
    minCapacity: 2
    maxCapacity: 8
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: agent
spec:
  taskDefinition: app
  schedulingStrategy: DAEMON
  deploymentConfiguration:
    minimumHealthyPercent: 50
"#,
    )
    .expect("write");
    let (items, stderr, ok) = render_json(&[&file]);
    assert!(ok, "{stderr}");
    let named = |kind: &str, name: &str| -> Value {
        items
            .iter()
            .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
            .clone()
    };
    // min = max = 100 with one task: ECS could not roll; the strategy stays valid (one extra).
    assert_eq!(
        named("Deployment", "stuck")["spec"]["strategy"]["rollingUpdate"],
        serde_json::json!({"maxSurge": 1, "maxUnavailable": 0})
    );
    let f = file.display();
    let want = format!(
        "{f}:22:3: warning: Service default/stuck: (service stuck) was unable to stop or start tasks during a \
         deployment because of the service deployment configuration."
    );
    assert!(stderr.contains(&want), "expected {want:?} in:\n{stderr}");
    // Auto scaling: the Service's count and ECS's bounds for it (4 tasks at 50/125: at most
    // floor(5) running, at least ceil(2) healthy); the grace period delays the liveness probe; tags.
    let scaled = named("Deployment", "scaled");
    assert_eq!(scaled["spec"]["replicas"], 4);
    assert_eq!(
        scaled["spec"]["strategy"]["rollingUpdate"],
        serde_json::json!({"maxSurge": 1, "maxUnavailable": 2})
    );
    let pod = &scaled["spec"]["template"];
    assert_eq!(
        pod["spec"]["containers"][0]["livenessProbe"]["initialDelaySeconds"],
        120
    );
    let tags: Value = serde_json::from_str(
        pod["metadata"]["annotations"]["ecsbridge.io/tags"]
            .as_str()
            .expect("pod tags"),
    )
    .expect("json");
    assert_eq!(
        tags,
        serde_json::json!({"owner": "team a", "aws:ecs:serviceName": "scaled", "aws:ecs:clusterName": "default"})
    );
    assert_eq!(
        scaled["metadata"]["annotations"]["ecsbridge.io/tags"],
        r#"{"cost center":"a:b"}"#
    );
    // DAEMON: no surge; the number of nodes is not known offline, so a percentage.
    assert_eq!(
        named("DaemonSet", "agent")["spec"]["updateStrategy"],
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "50%"}})
    );
    validate_all(&items, "rollout");
}

/// A task definition that cannot become a pod template is an error at the line and column of
/// the field it names (not at 1:1), and the Service that runs it gets no second, wrong error
/// ("not found among the given manifests") when its file was passed.
#[test]
fn errors_sit_at_their_field_and_do_not_cascade() {
    let dir = scratch("positions");
    let td = dir.join("td.yaml");
    std::fs::write(
        &td,
        "apiVersion: ecsbridge.io/v1alpha1\nkind: TaskDefinition\nmetadata:\n  name: bigcpu\nspec:\n  \
         family: bigcpu\n  cpu: \"256\"\n  memory: \"512\"\n  containerDefinitions:\n    - name: a\n      \
         image: nginx\n      cpu: 512\n---\napiVersion: ecsbridge.io/v1alpha1\nkind: TaskDefinition\n\
         metadata:\n  name: placed\nspec:\n  containerDefinitions:\n    - name: a\n      image: nginx\n  \
         placementConstraints:\n    - type: memberOf\n      expression: \"attribute:stack == \"\n",
    )
    .expect("write");
    let svc = dir.join("svc.yaml");
    std::fs::write(
        &svc,
        "apiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: web\nspec:\n  \
         taskDefinition: bigcpu\n  desiredCount: 1\n",
    )
    .expect("write");
    let (out, _, stderr) = run(bin().arg("render").arg(&td).arg(&svc));
    assert!(!out.status.success());
    let td_file = td.display().to_string();
    assert!(
        stderr.contains(&format!(
            "{td_file}:7:3: error: TaskDefinition default/bigcpu: spec.cpu: "
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{td_file}:24:7: error: TaskDefinition default/placed: spec.placementConstraints[0].expression: "
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(":1:1:"), "{stderr}");
    assert!(
        !stderr.contains("not found among the given manifests"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "warning: spec.taskDefinition: not rendered: its task definition \"bigcpu\" has an error (above)"
        ),
        "{stderr}"
    );
}

/// Both forms of a task's size are valid for the Kubernetes version they are made for: before
/// 1.34 spread onto the containers (checked against 1.30 and 1.33), from 1.34 the pod's own
/// `resources` (checked against 1.34 and 1.37); and `--kubernetes-version` chooses the form.
#[test]
fn the_task_size_form_follows_the_kubernetes_version_and_validates_there() {
    let web = support::repo_root().join("examples/web");
    for (flag, schemas, pod_level) in [
        (None, ["1.30.0", "1.33.0"], false),
        (Some("1.33"), ["1.30.0", "1.33.0"], false),
        (Some("1.34"), ["1.34.0", "1.37.0"], true),
    ] {
        let mut cmd = bin();
        cmd.arg("render").arg(&web).args(["-o", "json"]);
        if let Some(v) = flag {
            cmd.args(["--kubernetes-version", v]);
        }
        let (out, stdout, stderr) = run(&mut cmd);
        assert!(out.status.success(), "{flag:?}: {stderr}");
        let list: Value = serde_json::from_str(&stdout).expect("JSON");
        let items = list["items"].as_array().expect("items").clone();
        let deployment = items
            .iter()
            .find(|i| i["kind"] == "Deployment")
            .expect("a Deployment");
        let pod = &deployment["spec"]["template"]["spec"];
        assert_eq!(pod.get("resources").is_some(), pod_level, "{flag:?}: {pod}");
        if pod_level {
            assert_eq!(pod["resources"]["limits"]["cpu"], "500m", "{pod}");
            assert_eq!(pod["resources"]["limits"]["memory"], "1024Mi", "{pod}");
            assert!(!stderr.contains("no pod-wide cap"), "{stderr}");
        } else {
            let version = flag.unwrap_or("1.30");
            assert!(
                stderr.contains(&format!("Kubernetes {version} has no pod-wide cap")),
                "{flag:?}: {stderr}"
            );
        }
        let dir = scratch(&format!("k8s-{}", flag.unwrap_or("default")));
        let file = dir.join("objects.yaml");
        let yaml: String = items
            .iter()
            .map(|i| format!("---\n{}", serde_yaml_ng::to_string(i).expect("yaml")))
            .collect();
        std::fs::write(&file, yaml).expect("write");
        for schema in schemas {
            if let Err(e) = support::kubernetes_validate(&[&file], schema) {
                panic!("{flag:?}: invalid for Kubernetes {schema}:\n{e}");
            }
        }
    }
    // An unsupported version is refused, naming the flag.
    let (out, _, stderr) = run(bin()
        .arg("render")
        .arg(&web)
        .args(["--kubernetes-version", "1.20"]));
    assert!(!out.status.success());
    assert!(
        stderr.contains("--kubernetes-version") && stderr.contains("oldest supported"),
        "{stderr}"
    );
}
