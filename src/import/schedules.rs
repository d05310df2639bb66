//! Scheduled tasks, imported (ScheduledTasks): EventBridge `put-rule` input (or `describe-rule`
//! output) with its `put-targets` input — in one document (`Targets` beside the rule's fields)
//! or in two files given together, matched by the rule's name ([`merge`]) —, EventBridge
//! Scheduler's `create-schedule` input (or `get-schedule` output), and ecschedule configuration
//! files (`rules[]`, YAML or JSON), each rule a ScheduledTask whose target is its task.

use serde_json::{Map, Value, json};

use super::{Ctx, ImportResult, Imported, strip};
use crate::{
    api::{ScheduledTask, ScheduledTaskSpec, ecs::EbTarget},
    manifest::{Diagnostic, FieldPath, position_of},
    names::scheduled_task_name,
};

/// Fields of describe-rule output that EventBridge computes: not part of a PutRule request.
pub const RULE_READ_ONLY: &[&str] = &["Arn", "CreatedBy", "ManagedBy"];
/// Fields of get-schedule output that Scheduler computes: not part of a CreateSchedule request.
pub const SCHEDULE_READ_ONLY: &[&str] = &["Arn", "CreationDate", "LastModificationDate"];

/// The targets of a rule whose rule is in another file (put-targets input), until [`merge`]d.
#[derive(Debug, Clone)]
pub struct RuleTargets {
    /// The rule's name (`Rule`).
    pub rule: String,
    /// Its targets.
    pub targets: Vec<EbTarget>,
    /// Where they were read.
    pub file: std::path::PathBuf,
}

/// Where a YAML file holds template expressions (`{{ ... }}`, as ecschedule's configurations
/// may), which only their tool fills in: an error naming the first line.
#[must_use]
pub fn templated(path: &std::path::Path, text: &str) -> Option<Diagnostic> {
    let line = text.lines().position(|l| l.contains("{{"))? + 1;
    Some(Diagnostic::error(
        path,
        Some((line, 1)),
        None,
        "template expressions ({{ ... }}, as ecschedule's): import reads a configuration with its values \
         in place (fill them in, or import what `ecschedule dump` prints)",
    ))
}

impl Ctx<'_> {
    /// A ScheduledTask from the rule or schedule at `base` (PutRule, with or without `Targets`,
    /// or CreateSchedule), named after its `Name` (else the file).
    pub(super) fn scheduled_task(&self, base: &FieldPath, value: &Value, result: &mut ImportResult) {
        let mut request = value.clone();
        strip(&mut request, RULE_READ_ONLY);
        strip(&mut request, SCHEDULE_READ_ONLY);
        let spec: ScheduledTaskSpec = match self.typed_at(base, &request) {
            Ok(s) => s,
            Err(e) => return result.diagnostics.push(e),
        };
        if !self.kept(
            base,
            &request,
            &spec,
            "PutRule/PutTargets or CreateSchedule",
            result,
        ) {
            return;
        }
        let stem = self.path.file_stem().and_then(|s| s.to_str());
        let rule = spec
            .rule
            .name
            .clone()
            .or(stem.map(str::to_owned))
            .unwrap_or_default();
        let Some(name) = scheduled_task_name(&rule) else {
            let field = base.key("Name");
            return result.diagnostics.push(Diagnostic::error(
                self.path,
                position_of(self.doc, &field),
                Some(field),
                "no usable name: give a Name made of letters, digits, '-' or '_'",
            ));
        };
        let st = ScheduledTask {
            metadata: self.metadata(name),
            spec,
            status: None,
        };
        result.objects.push(Imported::ScheduledTask(Box::new(st)));
    }

    /// put-targets input: the targets of the rule `Rule`, kept until [`merge`] finds the rule.
    pub(super) fn rule_targets(&self, value: &Value, result: &mut ImportResult) {
        let rule = value
            .get("Rule")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let base = FieldPath::root().key("Targets");
        let targets: Vec<EbTarget> = match self.typed_at(&base, &value["Targets"]) {
            Ok(t) => t,
            Err(e) => return result.diagnostics.push(e),
        };
        result.objects.push(Imported::RuleTargets(Box::new(RuleTargets {
            rule,
            targets,
            file: self.path.to_owned(),
        })));
    }

    /// An ecschedule configuration: each of `rules[]` as a ScheduledTask (see [`ecschedule_rule`]).
    pub(super) fn ecschedule(&self, value: &Value, result: &mut ImportResult) {
        let defaults = value.as_object().cloned().unwrap_or_default();
        let rules = value["rules"].as_array().cloned().unwrap_or_default();
        for (i, rule) in rules.iter().enumerate() {
            let base = FieldPath::root().key("rules").index(i);
            match ecschedule_rule(rule, &defaults) {
                Ok((rule_value, unknown)) => {
                    for key in unknown {
                        let field = base.key(&key);
                        result.diagnostics.push(Diagnostic::warning(
                            self.path,
                            position_of(self.doc, &field),
                            Some(field),
                            "not a field of an ecschedule rule; dropped",
                        ));
                    }
                    self.scheduled_task(&base, &rule_value, result);
                }
                Err(message) => {
                    result.diagnostics.push(Diagnostic::error(
                        self.path,
                        position_of(self.doc, &base),
                        Some(base),
                        message,
                    ));
                }
            }
        }
    }
}

/// Keys of an ecschedule rule (its own and its target's, inlined).
const ECSCHEDULE_RULE_KEYS: &[&str] = &[
    "name",
    "description",
    "scheduleExpression",
    "disabled",
    "targetId",
    "taskDefinition",
    "taskCount",
    "taskOverride",
    "containerOverrides",
    "role",
    "group",
    "capacityProviderStrategy",
    "launch_type",
    "platform_version",
    "network_configuration",
    "dead_letter_config",
    "propagateTags",
    "region",
    "cluster",
    "trackingId",
];

/// One ecschedule rule (with the configuration's `region`, `cluster` and `role` as defaults) as
/// a PutRule request with its one target, and the keys that are not an ecschedule rule's.
///
/// # Errors
/// A rule without `name`, `scheduleExpression` or `taskDefinition`.
pub fn ecschedule_rule(rule: &Value, defaults: &Map<String, Value>) -> Result<(Value, Vec<String>), String> {
    let Some(r) = rule.as_object() else {
        return Err("a rule is an object (name, scheduleExpression, taskDefinition, ...)".to_owned());
    };
    let get = |k: &str| r.get(k).filter(|v| !v.is_null());
    let text = |k: &str| get(k).and_then(Value::as_str).map(str::to_owned);
    let name = text("name").ok_or("name: required")?;
    let schedule = text("scheduleExpression").ok_or("scheduleExpression: required")?;
    let task_definition = text("taskDefinition").ok_or("taskDefinition: required")?;
    let unknown = r
        .keys()
        .filter(|k| !ECSCHEDULE_RULE_KEYS.contains(&k.as_str()))
        .cloned()
        .collect();
    let mut params = json!({"TaskDefinitionArn": task_definition});
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            params[key] = v;
        }
    };
    put("TaskCount", get("taskCount").cloned());
    put("Group", get("group").cloned());
    put("LaunchType", get("launch_type").cloned());
    put("PlatformVersion", get("platform_version").cloned());
    put("PropagateTags", get("propagateTags").cloned());
    put(
        "CapacityProviderStrategy",
        get("capacityProviderStrategy").cloned(),
    );
    if let Some(vpc) = get("network_configuration").and_then(|n| n.get("aws_vpc_configuration")) {
        let mut c = json!({"Subnets": vpc.get("subnets").cloned().unwrap_or(json!([]))});
        if let Some(sg) = vpc.get("security_groups") {
            c["SecurityGroups"] = sg.clone();
        }
        if let Some(ip) = vpc.get("assign_public_ip") {
            c["AssignPublicIp"] = ip.clone();
        }
        put("NetworkConfiguration", Some(json!({"awsvpcConfiguration": c})));
    }
    // The overrides: taskOverride's cpu and memory, and containerOverrides (environment as a map).
    let mut overrides = Map::new();
    if let Some(t) = get("taskOverride").and_then(Value::as_object) {
        for k in ["cpu", "memory"] {
            if let Some(v) = t.get(k) {
                overrides.insert(k.to_owned(), v.clone());
            }
        }
    }
    if let Some(cos) = get("containerOverrides").and_then(Value::as_array) {
        let cos: Vec<Value> = cos
            .iter()
            .map(|co| {
                let mut co = co.clone();
                if let Some(env) = co.get("environment").and_then(Value::as_object) {
                    let pairs: Vec<Value> = env
                        .iter()
                        .map(|(k, v)| {
                            let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                            json!({"name": k, "value": value})
                        })
                        .collect();
                    co["environment"] = Value::Array(pairs);
                }
                co
            })
            .collect();
        overrides.insert("containerOverrides".to_owned(), Value::Array(cos));
    }
    let mut target = json!({"Id": text("targetId").unwrap_or_else(|| name.clone()), "EcsParameters": params});
    if !overrides.is_empty() {
        target["Input"] = Value::String(Value::Object(overrides).to_string());
    }
    if let Some(role) =
        text("role").or_else(|| defaults.get("role").and_then(Value::as_str).map(str::to_owned))
    {
        target["RoleArn"] = Value::String(role);
    }
    if let Some(sqs) = get("dead_letter_config").and_then(|d| d.get("sqs")) {
        target["DeadLetterConfig"] = json!({"Arn": sqs});
    }
    let cluster =
        text("cluster").or_else(|| defaults.get("cluster").and_then(Value::as_str).map(str::to_owned));
    if let Some(cluster) = cluster {
        target["Arn"] = Value::String(cluster);
    }
    let mut out = json!({
        "Name": name,
        "ScheduleExpression": schedule,
        "State": if get("disabled").and_then(Value::as_bool) == Some(true) { "DISABLED" } else { "ENABLED" },
        "Targets": [target],
    });
    if let Some(d) = text("description") {
        out["Description"] = Value::String(d);
    }
    Ok((out, unknown))
}

/// Puts each rule's targets read from another file (put-targets input) into its ScheduledTask
/// (put-rule input, matched by name), and reports a rule left without targets and targets left
/// without a rule. `results`: each file with what it imported.
pub fn merge(results: &mut [(std::path::PathBuf, ImportResult)]) {
    let mut pending: Vec<RuleTargets> = Vec::new();
    for (_, r) in results.iter_mut() {
        r.objects.retain(|o| match o {
            Imported::RuleTargets(t) => {
                pending.push((**t).clone());
                false
            }
            _ => true,
        });
    }
    for (file, r) in results.iter_mut() {
        let mut problems = Vec::new();
        for o in &mut r.objects {
            let Imported::ScheduledTask(st) = o else { continue };
            let rule = st.spec.rule.name.clone().unwrap_or_default();
            for t in pending.iter_mut().filter(|t| t.rule == rule && !rule.is_empty()) {
                st.spec.targets.append(&mut t.targets);
            }
            if st.spec.targets.is_empty() && st.spec.target.is_none() && st.spec.rule.event_pattern.is_none()
            {
                problems.push(format!(
                    "rule {rule:?} has no targets: give its put-targets input (with \"Rule\": {rule:?}) \
                     with it, or its Targets in the same document"
                ));
            }
        }
        if !problems.is_empty() {
            r.objects.retain(|o| match o {
                Imported::ScheduledTask(st) => {
                    !st.spec.targets.is_empty()
                        || st.spec.target.is_some()
                        || st.spec.rule.event_pattern.is_some()
                }
                _ => true,
            });
        }
        for p in problems {
            r.diagnostics
                .push(Diagnostic::error(file.clone(), Some((1, 1)), None, p));
        }
    }
    for t in pending.into_iter().filter(|t| !t.targets.is_empty()) {
        if let Some((_, r)) = results.iter_mut().find(|(f, _)| *f == t.file) {
            r.diagnostics.push(Diagnostic::error(
                &t.file,
                Some((1, 1)),
                None,
                format!(
                    "targets of rule {:?}, whose put-rule input (or describe-rule output) was not given: \
                     import both together",
                    t.rule
                ),
            ));
        }
    }
}
