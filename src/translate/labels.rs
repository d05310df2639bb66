//! Labels and annotations that ecs-bridge puts on the objects it creates.

use std::collections::BTreeMap;

/// `app.kubernetes.io/managed-by`: the operator watches only children carrying this.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY`].
pub const MANAGED_BY_VALUE: &str = "ecs-bridge";
/// `app.kubernetes.io/name`: the task definition family.
pub const NAME: &str = "app.kubernetes.io/name";
/// The Service a child belongs to.
pub const SERVICE: &str = "ecsbridge.io/service";
/// The task definition family of a pod.
pub const TASK_DEFINITION: &str = "ecsbridge.io/task-definition";
/// The task definition revision of a pod.
pub const REVISION: &str = "ecsbridge.io/revision";
/// The namespace of the TaskDefinition a cluster-scoped object (an EFS PersistentVolume)
/// belongs to.
pub const NAMESPACE: &str = "ecsbridge.io/namespace";
/// The ECS task group, encoded as a label value (see [`group_label_value`]).
pub const GROUP: &str = "ecsbridge.io/group";
/// Annotation with the ECS task group as ECS writes it (`service:web`).
pub const GROUP_ANNOTATION: &str = "ecsbridge.io/group";
/// Annotation with ECS tags as a JSON object (key → value): ECS tag keys (up to 128 characters,
/// spaces and `:` allowed) do not fit label keys. On a workload, the service's tags; on a pod
/// template, the tags ECS would put on the tasks.
pub const TAGS: &str = "ecsbridge.io/tags";

/// The metadata of the object of Service `service` in `namespace` that bears its name (its HPA,
/// its ScaledObject): the name, and the labels that say whose it is and that it is ours.
#[must_use]
pub fn service_object_meta(
    service: &str,
    namespace: &str,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(service.to_owned()),
        namespace: Some(namespace.to_owned()),
        labels: Some(BTreeMap::from([
            (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
            (SERVICE.to_owned(), service.to_owned()),
        ])),
        ..Default::default()
    }
}

/// The labels that select a service's pods (its workload's, and its Kubernetes Services').
#[must_use]
pub fn selector_labels(service: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(SERVICE.to_owned(), service.to_owned())])
}

/// The ECS task group of a service's tasks: `service:<name>`.
#[must_use]
pub fn service_group(service: &str) -> String {
    format!("service:{service}")
}

/// Encodes an ECS task group (`service:web`, `family:batch`, `database`) as a label value.
///
/// Label values allow `[A-Za-z0-9._-]` only, so `:` becomes `.` (`service:web` →
/// `service.web`); any other character becomes `_`, and values are cut to 63 characters.
#[must_use]
pub fn group_label_value(group: &str) -> String {
    let mapped: String = group
        .chars()
        .map(|c| match c {
            ':' => '.',
            c if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' => c,
            _ => '_',
        })
        .take(63)
        .collect();
    mapped
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// The labels every child of a task definition family carries.
#[must_use]
pub fn task_definition_labels(family_object: &str, revision: i64) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), MANAGED_BY_VALUE.to_owned()),
        (NAME.to_owned(), family_object.to_owned()),
        (TASK_DEFINITION.to_owned(), family_object.to_owned()),
        (REVISION.to_owned(), revision.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_label_values_are_valid_label_values() {
        assert_eq!(group_label_value("service:web"), "service.web");
        assert_eq!(group_label_value("family:batch-job"), "family.batch-job");
        assert_eq!(group_label_value("my group!"), "my_group");
        assert_eq!(group_label_value(&"x".repeat(80)).len(), 63);
    }
}
