//! Recognising which AWS CLI document a JSON file is.

use serde_json::Value;

/// The kinds of ECS JSON that `import` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// RegisterTaskDefinition input or describe-task-definition output (`wrapped` when the task
    /// definition sits under a `taskDefinition` key).
    TaskDefinition {
        /// Whether the task definition is under `taskDefinition`.
        wrapped: bool,
    },
    /// CreateService input (`--cli-input-json`, or an ecspresso/CodeDeploy service file).
    CreateService,
    /// describe-services output: `{"services": [...], "failures": [...]}`.
    DescribeServices,
    /// create-service or update-service output: `{"service": {...}}`.
    CreateServiceOutput,
    /// CreateCapacityProvider input (an `autoScalingGroupProvider` or a
    /// `managedInstancesProvider`).
    CreateCapacityProvider,
    /// create-capacity-provider or update-capacity-provider output: `{"capacityProvider": {...}}`.
    CreateCapacityProviderOutput,
    /// describe-capacity-providers output: `{"capacityProviders": [{...}], ...}`.
    DescribeCapacityProviders,
    /// PutClusterCapacityProviders input: `{"cluster", "capacityProviders": [names],
    /// "defaultCapacityProviderStrategy"}`, or CreateCluster input (`clusterName`).
    PutClusterCapacityProviders,
    /// describe-clusters output: `{"clusters": [...], "failures": [...]}`.
    DescribeClusters,
    /// RunTask input: a `taskDefinition` without a `serviceName`.
    RunTask,
    /// describe-tasks output: `{"tasks": [...], "failures": [...]}`.
    DescribeTasks,
    /// EventBridge PutRule input or describe-rule output (`ScheduleExpression` or
    /// `EventPattern`), with or without its `Targets`.
    PutRule,
    /// EventBridge PutTargets input: `{"Rule", "Targets": [...]}`.
    PutTargets,
    /// EventBridge Scheduler CreateSchedule input or get-schedule output (`Target`).
    CreateSchedule,
    /// An ecschedule configuration: `{"region", "cluster", "rules": [...]}`.
    Ecschedule,
}

/// Keys only a RunTask request has.
const RUN_TASK_ONLY_KEYS: &[&str] = &["count", "startedBy", "overrides", "group", "referenceId"];

/// Keys only a service has (a service definition without `serviceName`, as ecspresso writes one,
/// has some of them).
const SERVICE_ONLY_KEYS: &[&str] = &[
    "desiredCount",
    "loadBalancers",
    "serviceRegistries",
    "deploymentConfiguration",
    "schedulingStrategy",
    "healthCheckGracePeriodSeconds",
    "deploymentController",
    "role",
    "serviceConnectConfiguration",
    "availabilityZoneRebalancing",
    "vpcLatticeConfigurations",
];

/// Top-level keys of a `serviceConnectConfiguration`.
const SERVICE_CONNECT_KEYS: &[&str] = &[
    "enabled",
    "namespace",
    "services",
    "logConfiguration",
    "accessLogConfiguration",
];

/// Top-level keys of a CreateService request or of a described service.
const SERVICE_KEYS: &[&str] = &[
    "serviceName",
    "taskDefinition",
    "desiredCount",
    "launchType",
    "capacityProviderStrategy",
    "platformVersion",
    "role",
    "roleArn",
    "loadBalancers",
    "serviceRegistries",
    "deploymentConfiguration",
    "placementConstraints",
    "placementStrategy",
    "networkConfiguration",
    "healthCheckGracePeriodSeconds",
    "schedulingStrategy",
    "deploymentController",
    "tags",
    "enableECSManagedTags",
    "propagateTags",
    "enableExecuteCommand",
    "serviceConnectConfiguration",
    "volumeConfigurations",
    "vpcLatticeConfigurations",
    "cluster",
    "clientToken",
    "availabilityZoneRebalancing",
    "monitoring",
    "gatewayConnectors",
    "serviceArn",
    "clusterArn",
];

impl Shape {
    /// Recognises `value`, or says what was expected.
    ///
    /// # Errors
    /// A message listing the accepted documents.
    pub fn detect(value: &Value) -> Result<Self, String> {
        let Some(obj) = value.as_object() else {
            return Err(format!(
                "expected a JSON object, found {}; {EXPECTED}",
                kind(value)
            ));
        };
        if obj.get("taskDefinition").is_some_and(Value::is_object) {
            return Ok(Self::TaskDefinition { wrapped: true });
        }
        // EventBridge and Scheduler write PascalCase; ecschedule its own keys.
        if obj.get("Target").is_some_and(Value::is_object) {
            return Ok(Self::CreateSchedule);
        }
        if obj.get("Rule").is_some_and(Value::is_string) && obj.get("Targets").is_some_and(Value::is_array) {
            return Ok(Self::PutTargets);
        }
        if obj.contains_key("ScheduleExpression") || obj.contains_key("EventPattern") {
            return Ok(Self::PutRule);
        }
        if obj.get("rules").is_some_and(Value::is_array) {
            return Ok(Self::Ecschedule);
        }
        if obj.contains_key("containerDefinitions") {
            return Ok(Self::TaskDefinition { wrapped: false });
        }
        if obj.get("tasks").is_some_and(Value::is_array) {
            return Ok(Self::DescribeTasks);
        }
        // Shapes that look like others but are not taken: refused, saying what they look like.
        if obj.get("service").is_some_and(Value::is_string)
            && (obj.contains_key("scale")
                || obj.contains_key("externalId")
                || obj.contains_key("taskDefinition"))
        {
            return Err(format!(
                "this looks like a CreateTaskSet request (a task set of a service with an EXTERNAL \
                 deployment controller): import takes the service itself; {EXPECTED}"
            ));
        }
        if obj.contains_key("enabled")
            && !obj.is_empty()
            && obj.keys().all(|k| SERVICE_CONNECT_KEYS.contains(&k.as_str()))
        {
            return Err(format!(
                "this looks like a serviceConnectConfiguration fragment: put it in a CreateService \
                 request (or describe-services output) and import that; {EXPECTED}"
            ));
        }
        if obj.get("services").is_some_and(Value::is_array) {
            return Ok(Self::DescribeServices);
        }
        if obj.get("service").is_some_and(Value::is_object) {
            return Ok(Self::CreateServiceOutput);
        }
        if obj.contains_key("autoScalingGroupProvider") || obj.contains_key("managedInstancesProvider") {
            return Ok(Self::CreateCapacityProvider);
        }
        if obj.get("capacityProvider").is_some_and(Value::is_object) {
            return Ok(Self::CreateCapacityProviderOutput);
        }
        if obj.get("clusters").is_some_and(Value::is_array) {
            return Ok(Self::DescribeClusters);
        }
        if !obj.contains_key("serviceName")
            && (obj.contains_key("defaultCapacityProviderStrategy")
                || obj.contains_key("clusterName")
                || obj
                    .get("capacityProviders")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string)))
        {
            return Ok(Self::PutClusterCapacityProviders);
        }
        if obj
            .get("capacityProviders")
            .and_then(Value::as_array)
            .is_some_and(|a| a.iter().all(Value::is_object))
        {
            return Ok(Self::DescribeCapacityProviders);
        }
        let has = |keys: &[&str]| keys.iter().any(|k| obj.contains_key(*k));
        if obj.get("taskDefinition").is_some_and(Value::is_string)
            && !obj.contains_key("serviceName")
            && (has(RUN_TASK_ONLY_KEYS) || !has(SERVICE_ONLY_KEYS))
        {
            return Ok(Self::RunTask);
        }
        if !obj.is_empty() && obj.keys().any(|k| SERVICE_KEYS.contains(&k.as_str())) {
            return Ok(Self::CreateService);
        }
        if obj.is_empty() {
            return Err(format!("the object is empty; {EXPECTED}"));
        }
        let keys: Vec<&str> = obj.keys().map(String::as_str).take(5).collect();
        Err(format!(
            "not an ECS document I know (top-level keys: {}); {EXPECTED}",
            keys.join(", ")
        ))
    }
}

const EXPECTED: &str = "expected RegisterTaskDefinition input, describe-task-definition output, \
                        CreateService input (with its serviceName), describe-services output, \
                        CreateCapacityProvider input, describe-capacity-providers output, \
                        PutClusterCapacityProviders or CreateCluster input, describe-clusters output, \
                        RunTask input, describe-tasks output, EventBridge put-rule input (with its \
                        put-targets input), describe-rule output, Scheduler create-schedule input, \
                        get-schedule output or an ecschedule configuration";

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn recognises_each_cli_document() {
        let td = json!({"family": "x", "containerDefinitions": []});
        assert_eq!(Shape::detect(&td), Ok(Shape::TaskDefinition { wrapped: false }));
        assert_eq!(
            Shape::detect(&json!({"taskDefinition": td})),
            Ok(Shape::TaskDefinition { wrapped: true })
        );
        // A taskDefinition that is a string: not a wrapped task definition. Without a
        // serviceName (which CreateService requires) nor anything only a service has, it is a
        // RunTask request; with something only a service has (an ecspresso service definition
        // leaves serviceName out), a service.
        assert_eq!(
            Shape::detect(&json!({"taskDefinition": "web:3"})),
            Ok(Shape::RunTask)
        );
        assert_eq!(
            Shape::detect(&json!({"taskDefinition": "report", "count": 2, "overrides": {}})),
            Ok(Shape::RunTask)
        );
        assert_eq!(
            Shape::detect(&json!({"taskDefinition": "web:3", "desiredCount": 2})),
            Ok(Shape::CreateService)
        );
        assert_eq!(
            Shape::detect(&json!({"serviceName": "web", "taskDefinition": "web:3"})),
            Ok(Shape::CreateService)
        );
        assert_eq!(
            Shape::detect(&json!({"tasks": [], "failures": []})),
            Ok(Shape::DescribeTasks)
        );
        assert_eq!(
            Shape::detect(&json!({"schedulingStrategy": "DAEMON"})),
            Ok(Shape::CreateService)
        );
        assert_eq!(
            Shape::detect(&json!({"services": [], "failures": []})),
            Ok(Shape::DescribeServices)
        );
        assert_eq!(
            Shape::detect(&json!({"service": {}})),
            Ok(Shape::CreateServiceOutput)
        );
        assert_eq!(
            Shape::detect(&json!({"name": "spot", "autoScalingGroupProvider": {}})),
            Ok(Shape::CreateCapacityProvider)
        );
        assert_eq!(
            Shape::detect(&json!({"capacityProvider": {"name": "spot"}})),
            Ok(Shape::CreateCapacityProviderOutput)
        );
        assert_eq!(
            Shape::detect(&json!({"capacityProviders": [{"name": "FARGATE"}], "failures": []})),
            Ok(Shape::DescribeCapacityProviders)
        );
        assert_eq!(
            Shape::detect(&json!({"cluster": "prod", "capacityProviders": ["FARGATE"],
                                  "defaultCapacityProviderStrategy": []})),
            Ok(Shape::PutClusterCapacityProviders)
        );
        assert_eq!(
            Shape::detect(&json!({"clusterName": "prod", "capacityProviders": ["FARGATE"]})),
            Ok(Shape::PutClusterCapacityProviders),
            "CreateCluster input"
        );
        assert_eq!(
            Shape::detect(&json!({"clusters": [], "failures": []})),
            Ok(Shape::DescribeClusters)
        );
        // A service's strategy is the service's, not a cluster's.
        assert_eq!(
            Shape::detect(&json!({"serviceName": "web", "capacityProviderStrategy": []})),
            Ok(Shape::CreateService)
        );
    }

    #[test]
    fn recognises_eventbridge_scheduler_and_ecschedule_documents() {
        assert_eq!(
            Shape::detect(&json!({"Name": "nightly", "ScheduleExpression": "rate(1 day)"})),
            Ok(Shape::PutRule)
        );
        assert_eq!(
            Shape::detect(&json!({"Name": "x", "EventPattern": "{}", "Arn": "arn:aws:events:..."})),
            Ok(Shape::PutRule),
            "describe-rule output of an event-pattern rule"
        );
        assert_eq!(
            Shape::detect(&json!({"Rule": "nightly", "Targets": []})),
            Ok(Shape::PutTargets)
        );
        assert_eq!(
            Shape::detect(
                &json!({"Name": "n", "ScheduleExpression": "at(2027-01-01T00:00:00)", "Target": {}})
            ),
            Ok(Shape::CreateSchedule)
        );
        assert_eq!(
            Shape::detect(&json!({"region": "us-east-1", "cluster": "api", "rules": []})),
            Ok(Shape::Ecschedule)
        );
    }

    #[test]
    fn shapes_not_taken_are_refused_saying_what_they_look_like() {
        let task_set = json!({"service": "web", "cluster": "prod", "taskDefinition": "web:3",
                              "externalId": "blue", "scale": {"value": 100, "unit": "PERCENT"}});
        let err = Shape::detect(&task_set).expect_err("a task set");
        assert!(
            err.starts_with("this looks like a CreateTaskSet request"),
            "{err}"
        );
        assert!(err.contains("RunTask input"), "{err}");
        let connect = json!({"enabled": true, "namespace": "shop",
                             "services": [{"portName": "http", "clientAliases": [{"port": 80}]}]});
        let err = Shape::detect(&connect).expect_err("a fragment");
        assert!(
            err.starts_with("this looks like a serviceConnectConfiguration fragment"),
            "{err}"
        );
    }

    #[test]
    fn explains_what_it_expected() {
        let err = Shape::detect(&json!({"foo": 1})).expect_err("unknown document");
        assert!(err.contains("top-level keys: foo"), "{err}");
        assert!(err.contains("describe-services output"), "{err}");
        assert!(
            Shape::detect(&json!([1]))
                .expect_err("list")
                .contains("found a list")
        );
    }
}
