//! Container logging: `logConfiguration` and `firelensConfiguration`.
//!
//! Kubernetes has no per-container log driver: the container runtime writes each container's
//! stdout and stderr to files on the node, and a node-level agent ships them
//! (<https://kubernetes.io/docs/concepts/cluster-administration/logging/>). So the ECS settings
//! are recorded as pod annotations (for that agent, or for people) and reported as
//! approximations. `secretOptions` are kept as references (`valueFrom`), never resolved.

use std::collections::BTreeMap;

use super::{Build, NoteKind, json_text};
use crate::{
    api::ecs::{LogConfiguration, LogDriver},
    translate::spelling::enum_name,
};

/// Pod template annotation with the containers' `logConfiguration`s as JSON: an object keyed by
/// Kubernetes container name, each value as ECS writes it (`logDriver`, `options`,
/// `secretOptions` with `name` and `valueFrom` only).
pub(crate) const LOG_ANNOTATION: &str = "ecsbridge.io/log-configuration";

/// Pod template annotation with the FireLens log router's `firelensConfiguration` as JSON: an
/// object keyed by Kubernetes container name, each value `{type, options}`.
pub(crate) const FIRELENS_ANNOTATION: &str = "ecsbridge.io/firelens-configuration";

/// A FireLens log router's settings as the annotation holds them (keys in JSON order).
#[derive(serde::Serialize)]
struct Router<'a> {
    options: &'a BTreeMap<String, String>,
    r#type: String,
}

/// Records the logging settings and reports how they differ on Kubernetes.
///
/// The annotations are serialised straight from the typed settings: keys sorted (container
/// names by `BTreeMap`, each value's fields declared in alphabetical order), so the text is the
/// one a `serde_json::Value` gave, byte for byte, and a pod template's hash does not move.
pub(super) fn apply(b: &mut Build<'_>) {
    let empty = BTreeMap::new();
    let mut logs: BTreeMap<&str, &LogConfiguration> = BTreeMap::new();
    let mut routers: BTreeMap<&str, Router<'_>> = BTreeMap::new();
    for (i, c) in b.td.container_definitions.iter().enumerate() {
        let name = b.containers[i].name.as_str();
        if let Some(lc) = &c.log_configuration {
            logs.insert(name, lc);
            b.report.note(
                NoteKind::Approximated,
                format!("containerDefinitions[{i}].logConfiguration"),
                log_message(lc),
            );
        }
        if let Some(fc) = &c.firelens_configuration {
            let kind = enum_name(&fc.r#type);
            b.report.note(
                NoteKind::Approximated,
                format!("containerDefinitions[{i}].firelensConfiguration"),
                format!(
                    "{kind} log router: container {name} runs as an ordinary container; ECS's \
                     FireLens wiring (the generated configuration, the socket that awsfirelens \
                     logs arrive on, ECS log metadata) is not reproduced: ship logs with the \
                     node's log pipeline, or configure this router to read the node's container \
                     log files; the settings are kept in annotation {FIRELENS_ANNOTATION}"
                ),
            );
            routers.insert(
                name,
                Router {
                    options: fc.options.as_ref().unwrap_or(&empty),
                    r#type: kind,
                },
            );
        }
    }
    if !logs.is_empty() {
        b.annotations.insert(LOG_ANNOTATION.to_owned(), json_text(&logs));
    }
    if !routers.is_empty() {
        b.annotations
            .insert(FIRELENS_ANNOTATION.to_owned(), json_text(&routers));
    }
}

/// What happens to one container's logs.
fn log_message(lc: &LogConfiguration) -> String {
    let driver = enum_name(&lc.log_driver);
    let option = |k: &str| lc.options.as_ref().and_then(|o| o.get(k)).map(String::as_str);
    let what = match lc.log_driver {
        LogDriver::Awslogs => {
            let mut dest = format!(
                "awslogs to CloudWatch Logs group {:?}",
                option("awslogs-group").unwrap_or_default()
            );
            if let Some(region) = option("awslogs-region") {
                dest.push_str(&format!(" in {region}"));
            }
            if let Some(prefix) = option("awslogs-stream-prefix") {
                dest.push_str(&format!(", stream prefix {prefix:?}"));
            }
            format!(
                "{dest}: Kubernetes writes stdout/stderr to files on the node; ship them with \
                 the node's log pipeline (e.g. a Fluent Bit or CloudWatch agent DaemonSet)"
            )
        }
        LogDriver::Awsfirelens => {
            let output = option("Name").map_or_else(String::new, |n| format!(" (output {n})"));
            format!(
                "awsfirelens{output}: ECS sent stdout/stderr to the task's log router; Kubernetes \
                 writes them to files on the node: ship them with the node's log pipeline (e.g. \
                 a Fluent Bit DaemonSet with the same output)"
            )
        }
        LogDriver::JsonFile => "json-file: the container runtime writes stdout/stderr to files on \
             the node; rotation is the kubelet's (containerLogMaxSize, containerLogMaxFiles), not \
             the container's options"
            .to_owned(),
        _ => format!(
            "{driver}: Kubernetes has no per-container log driver; stdout/stderr go to files on \
             the node: ship them with the node's log pipeline to the same destination"
        ),
    };
    let secrets = lc
        .secret_options
        .iter()
        .flatten()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>();
    let secrets = if secrets.is_empty() {
        String::new()
    } else {
        format!(
            "; secretOptions ({}) are kept as references, not resolved",
            secrets.join(", ")
        )
    };
    format!("{what}; the settings are kept in annotation {LOG_ANNOTATION}{secrets}")
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::{PodTranslation, pod_template};
    use super::*;
    use crate::api::ecs::RegisterTaskDefinition;

    fn translate(v: Value) -> PodTranslation {
        let td: RegisterTaskDefinition = serde_json::from_value(v).expect("task definition");
        pod_template("web", &td, 1).expect("translates")
    }

    fn annotation(t: &PodTranslation, key: &str) -> Value {
        let text = t
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(key))
            .expect("annotation");
        serde_json::from_str(text).expect("JSON annotation")
    }

    #[test]
    fn awslogs_destination_is_recorded_and_reported() {
        let t = translate(json!({"family": "w", "containerDefinitions": [
            {"name": "app_1", "image": "x", "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web"}}},
            {"name": "quiet", "image": "y"}
        ]}));
        assert_eq!(
            annotation(&t, LOG_ANNOTATION),
            json!({"app-1": {"logDriver": "awslogs", "options": {
                "awslogs-group": "/ecs/web", "awslogs-region": "eu-west-1", "awslogs-stream-prefix": "web"}}})
        );
        let logs: Vec<_> = t
            .report
            .notes
            .iter()
            .filter(|n| n.field.ends_with("logConfiguration"))
            .collect();
        assert_eq!(logs.len(), 1, "{:?}", t.report.notes);
        let n = logs[0];
        assert_eq!(
            (n.field.as_str(), n.kind),
            ("containerDefinitions[0].logConfiguration", NoteKind::Approximated)
        );
        assert!(
            n.message.contains("\"/ecs/web\" in eu-west-1") && n.message.contains("node's log pipeline"),
            "{}",
            n.message
        );
    }

    #[test]
    fn secret_options_stay_references() {
        let arn = "arn:aws:secretsmanager:us-east-1:1:secret:splunk-AbCdEf";
        let t = translate(json!({"family": "w", "containerDefinitions": [
            {"name": "a", "image": "x", "logConfiguration": {"logDriver": "splunk",
                "options": {"splunk-url": "https://splunk:8088"},
                "secretOptions": [{"name": "splunk-token", "valueFrom": arn}]}}
        ]}));
        let logs = annotation(&t, LOG_ANNOTATION);
        assert_eq!(
            logs["a"]["secretOptions"],
            json!([{"name": "splunk-token", "valueFrom": arn}])
        );
        let n = t
            .report
            .notes
            .iter()
            .find(|n| n.field == "containerDefinitions[0].logConfiguration")
            .expect("note");
        assert!(n.message.starts_with("splunk: "), "{}", n.message);
        assert!(
            n.message.contains("secretOptions (splunk-token)"),
            "{}",
            n.message
        );
        // No Secret, env var or ExternalSecret is made for a log option.
        assert!(t.objects.iter().all(|o| o["kind"] != "ExternalSecret"));
    }

    #[test]
    fn the_firelens_router_is_recorded_and_reported() {
        let t = translate(json!({"family": "w", "containerDefinitions": [
            {"name": "log_router", "image": "fluent-bit", "firelensConfiguration": {"type": "fluentbit",
                "options": {"enable-ecs-log-metadata": "true", "config-file-type": "file", "config-file-value": "/extra.conf"}}},
            {"name": "app", "image": "x", "logConfiguration": {"logDriver": "awsfirelens", "options": {"Name": "cloudwatch"}}}
        ]}));
        assert_eq!(
            annotation(&t, FIRELENS_ANNOTATION),
            json!({"log-router": {"type": "fluentbit", "options": {
                "enable-ecs-log-metadata": "true", "config-file-type": "file", "config-file-value": "/extra.conf"}}})
        );
        let notes: Vec<_> = t
            .report
            .notes
            .iter()
            .filter(|n| n.field.ends_with("logConfiguration") || n.field.ends_with("firelensConfiguration"))
            .collect();
        let fields: Vec<&str> = notes.iter().map(|n| n.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "containerDefinitions[0].firelensConfiguration",
                "containerDefinitions[1].logConfiguration"
            ]
        );
        assert!(notes[0].message.contains("container log-router"));
        assert!(notes[1].message.contains("awsfirelens (output cloudwatch)"));
    }
}
