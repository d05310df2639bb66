//! Placement strategies (`placementStrategy`, at most 5, applied in order) → topology spread
//! constraints and a scheduler profile (ecs-reference §3.2; design.md "Placement").
//!
//! | ECS | Kubernetes |
//! |---|---|
//! | `spread(instanceId)` / `spread(host)` | `topologySpreadConstraints` over `kubernetes.io/hostname` |
//! | `spread(attribute:ecs.availability-zone)`, `spread(attribute:<name>)` | the same over the attribute's label ([`super::attributes`]) |
//! | `random` | nothing: the default scheduler's choice among equally good nodes |
//! | `binpack(cpu)`, `binpack(memory)` | `schedulerName` of a profile of the ecs-bridge scheduler ([`PROFILES`]) |
//!
//! Spread constraints have `maxSkew: 1` and `whenUnsatisfiable: ScheduleAnyway` (ECS strategies
//! are best effort), count the pods of the task's group (`ecsbridge.io/group`), and use
//! `matchLabelKeys: [pod-template-hash]` so a rollout spreads the new revision by itself.
//!
//! ECS applies strategies in order, each breaking the ties of the previous one. The scheduler
//! sums weighted plugin scores instead, so each profile gives the first strategy the larger
//! weight: `spread` then `binpack(memory)` is the profile `ecs-spread-binpack-memory`
//! (PodTopologySpread weight 10, NodeResourcesFit MostAllocated on memory weight 1), and
//! `binpack(memory)` then `spread` is `ecs-binpack-memory-spread` (the weights the other way
//! round). One table ([`PROFILES`]) names the profiles, and [`scheduler_configuration`] writes
//! the KubeSchedulerConfiguration from it (`ecs-bridge scheduler-config`), so the two cannot
//! drift. Without that scheduler (`binpack_scheduler: false`), pods keep the default scheduler
//! and the report says binpack is approximated.

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::TopologySpreadConstraint, apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use serde_json::{Value, json};

use super::attributes;
use crate::{
    api::ecs::{PlacementStrategy, PlacementStrategyType},
    translate::labels,
};

/// Most strategies ECS accepts.
pub const MAX_STRATEGIES: usize = 5;

/// One profile of the ecs-bridge scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// `schedulerName` of the pods that use it.
    pub name: &'static str,
    /// The resource packed: `cpu` or `memory`.
    pub resource: &'static str,
    /// Weight of NodeResourcesFit (MostAllocated on `resource`).
    pub fit_weight: i32,
    /// Weight of PodTopologySpread.
    pub spread_weight: i32,
}

/// The profiles: binpack alone, binpack before spread, spread before binpack, for cpu and
/// memory. The first strategy's plugin weighs 10, the second 1.
pub const PROFILES: &[Profile] = &[
    Profile {
        name: "ecs-binpack-cpu",
        resource: "cpu",
        fit_weight: 10,
        spread_weight: 1,
    },
    Profile {
        name: "ecs-binpack-memory",
        resource: "memory",
        fit_weight: 10,
        spread_weight: 1,
    },
    Profile {
        name: "ecs-binpack-cpu-spread",
        resource: "cpu",
        fit_weight: 10,
        spread_weight: 1,
    },
    Profile {
        name: "ecs-binpack-memory-spread",
        resource: "memory",
        fit_weight: 10,
        spread_weight: 1,
    },
    Profile {
        name: "ecs-spread-binpack-cpu",
        resource: "cpu",
        fit_weight: 1,
        spread_weight: 10,
    },
    Profile {
        name: "ecs-spread-binpack-memory",
        resource: "memory",
        fit_weight: 1,
        spread_weight: 10,
    },
];

/// What the strategies of a task compile to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Strategies {
    /// Spread constraints, in the strategies' order.
    pub spread: Vec<TopologySpreadConstraint>,
    /// The scheduler profile, when a `binpack` is honoured.
    pub scheduler_name: Option<String>,
    /// Approximations, each with the field (`placementStrategy[i]`) it is about.
    pub notes: Vec<(String, String)>,
}

/// Why strategies cannot compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StrategyError {
    /// The field (`placementStrategy[i].field`, ...).
    pub field: String,
    /// What is wrong, and how to fix it.
    pub message: String,
}

/// The topology key of `spread(field)`.
fn spread_key(field: &str, prefix: &str) -> Result<String, String> {
    match field.to_ascii_lowercase().as_str() {
        "instanceid" | "host" => Ok("kubernetes.io/hostname".to_owned()),
        _ => match field.strip_prefix("attribute:") {
            Some(name) => attributes::map(name, prefix).map(|m| m.key.into_owned()),
            None => Err(format!(
                "{field:?} is not a spread field; use instanceId, host or attribute:<name> (e.g. \
                 attribute:ecs.availability-zone)"
            )),
        },
    }
}

/// Compiles `strategies` for tasks of group `group` (its label value). `binpack_scheduler` says
/// whether the ecs-bridge scheduler is installed.
///
/// # Errors
/// [`StrategyError`] naming the field: more than [`MAX_STRATEGIES`], a missing or unknown
/// field, a binpack field other than `cpu` or `memory`.
pub fn compile_strategies(
    strategies: &[PlacementStrategy],
    group: &str,
    attribute_prefix: &str,
    binpack_scheduler: bool,
) -> Result<Strategies, StrategyError> {
    if strategies.len() > MAX_STRATEGIES {
        return Err(StrategyError {
            field: "placementStrategy".to_owned(),
            message: format!(
                "{} strategies; ECS accepts at most {MAX_STRATEGIES}",
                strategies.len()
            ),
        });
    }
    let mut out = Strategies::default();
    // The order of the strategies that weigh in the scheduler: "spread" or "binpack-<resource>".
    let mut order: Vec<String> = Vec::new();
    for (i, s) in strategies.iter().enumerate() {
        let field = s.field.as_deref().map(str::trim).filter(|f| !f.is_empty());
        let bad = |f: &str, message: String| StrategyError {
            field: format!("placementStrategy[{i}].{f}"),
            message,
        };
        match s.r#type {
            None => return Err(bad("type", "required: random, spread or binpack".to_owned())),
            Some(PlacementStrategyType::Random) => {}
            Some(PlacementStrategyType::Spread) => {
                let field = field.ok_or_else(|| {
                    bad(
                        "field",
                        "required: instanceId, host or attribute:<name>".to_owned(),
                    )
                })?;
                let key = spread_key(field, attribute_prefix).map_err(|m| bad("field", m))?;
                out.spread.push(spread(&key, group));
                order.push("spread".to_owned());
            }
            Some(PlacementStrategyType::Binpack) => {
                let resource = match field.map(str::to_ascii_lowercase).as_deref() {
                    Some(r @ ("cpu" | "memory")) => r.to_owned(),
                    _ => {
                        return Err(bad("field", format!("{field:?}: binpack packs cpu or memory")));
                    }
                };
                order.push(format!("binpack-{resource}"));
            }
        }
    }
    // Only the first binpack and the spread around it count for the profile.
    let first_binpack = order.iter().position(|o| o.starts_with("binpack-"));
    if let Some(b) = first_binpack {
        let resource = order[b].trim_start_matches("binpack-").to_owned();
        let spread_before = order[..b].iter().any(|o| o == "spread");
        let spread_after = order[b + 1..].iter().any(|o| o == "spread");
        let name = if spread_before {
            format!("ecs-spread-binpack-{resource}")
        } else if spread_after {
            format!("ecs-binpack-{resource}-spread")
        } else {
            format!("ecs-binpack-{resource}")
        };
        if binpack_scheduler {
            out.scheduler_name = Some(name);
        } else {
            out.notes.push((
                format!("placementStrategy[{b}]"),
                format!(
                    "binpack approximated: the ecs-bridge scheduler (profile {name}) is not \
                     installed, so the default scheduler places the tasks, which spreads them \
                     by resource balance instead of packing them"
                ),
            ));
        }
        if order.iter().filter(|o| o.starts_with("binpack-")).count() > 1 {
            out.notes.push((
                "placementStrategy".to_owned(),
                "only the first binpack weighs in: a scheduler profile packs one resource".to_owned(),
            ));
        }
    }
    Ok(out)
}

fn spread(key: &str, group: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key.to_owned(),
        when_unsatisfiable: "ScheduleAnyway".to_owned(),
        label_selector: Some(LabelSelector {
            match_labels: Some(BTreeMap::from([(labels::GROUP.to_owned(), group.to_owned())])),
            match_expressions: None,
        }),
        match_label_keys: Some(vec!["pod-template-hash".to_owned()]),
        ..TopologySpreadConstraint::default()
    }
}

/// The KubeSchedulerConfiguration (`kubescheduler.config.k8s.io/v1`) of the ecs-bridge scheduler:
/// one profile per entry of [`PROFILES`], leader election in `namespace`.
#[must_use]
pub fn scheduler_configuration(namespace: &str) -> Value {
    let profiles: Vec<Value> = PROFILES
        .iter()
        .map(|p| {
            json!({
                "schedulerName": p.name,
                "plugins": {
                    "score": {
                        // Balanced allocation works against packing.
                        "disabled": [{"name": "NodeResourcesBalancedAllocation"}],
                        "enabled": [
                            {"name": "NodeResourcesFit", "weight": p.fit_weight},
                            {"name": "PodTopologySpread", "weight": p.spread_weight},
                        ],
                    },
                },
                "pluginConfig": [{
                    "name": "NodeResourcesFit",
                    "args": {
                        "scoringStrategy": {
                            "type": "MostAllocated",
                            "resources": [{"name": p.resource, "weight": 1}],
                        },
                    },
                }],
            })
        })
        .collect();
    json!({
        "apiVersion": "kubescheduler.config.k8s.io/v1",
        "kind": "KubeSchedulerConfiguration",
        "leaderElection": {
            "leaderElect": true,
            "resourceName": "ecs-bridge-scheduler",
            "resourceNamespace": namespace,
        },
        "profiles": profiles,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn s(t: &str, field: Option<&str>) -> PlacementStrategy {
        serde_json::from_value(json!({"type": t, "field": field})).expect("strategy")
    }

    #[test]
    fn spread_fields_become_topology_keys() {
        let out = compile_strategies(
            &[
                s("spread", Some("attribute:ecs.availability-zone")),
                s("spread", Some("instanceId")),
                s("spread", Some("attribute:rack")),
                s("random", None),
            ],
            "service.web",
            attributes::DEFAULT_PREFIX,
            true,
        )
        .expect("compiles");
        let keys: Vec<&str> = out.spread.iter().map(|c| c.topology_key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "topology.kubernetes.io/zone",
                "kubernetes.io/hostname",
                "ecsbridge.io/attr-rack"
            ]
        );
        let c = &out.spread[0];
        assert_eq!((c.max_skew, c.when_unsatisfiable.as_str()), (1, "ScheduleAnyway"));
        assert_eq!(
            c.label_selector
                .as_ref()
                .and_then(|l| l.match_labels.as_ref())
                .map(|m| m[labels::GROUP].as_str()),
            Some("service.web")
        );
        assert_eq!(
            c.match_label_keys.as_deref(),
            Some(&["pod-template-hash".to_owned()][..])
        );
        assert_eq!(out.scheduler_name, None);
    }

    #[test]
    fn the_first_strategy_names_the_profile() {
        let name = |list: &[PlacementStrategy]| {
            compile_strategies(list, "g", attributes::DEFAULT_PREFIX, true)
                .expect("compiles")
                .scheduler_name
        };
        assert_eq!(
            name(&[s("binpack", Some("memory"))]).as_deref(),
            Some("ecs-binpack-memory")
        );
        assert_eq!(
            name(&[
                s("spread", Some("attribute:ecs.availability-zone")),
                s("binpack", Some("memory"))
            ])
            .as_deref(),
            Some("ecs-spread-binpack-memory")
        );
        assert_eq!(
            name(&[s("binpack", Some("CPU")), s("spread", Some("host"))]).as_deref(),
            Some("ecs-binpack-cpu-spread")
        );
        // Every name the compiler can produce is a profile of the configuration.
        let config = scheduler_configuration("ecs-bridge-system");
        let names: Vec<&str> = config["profiles"]
            .as_array()
            .expect("profiles")
            .iter()
            .filter_map(|p| p["schedulerName"].as_str())
            .collect();
        for first in ["binpack", "spread"] {
            for resource in ["cpu", "memory"] {
                for spread_after in [false, true] {
                    let mut list = vec![];
                    if first == "spread" {
                        list.push(s("spread", Some("host")));
                    }
                    list.push(s("binpack", Some(resource)));
                    if spread_after {
                        list.push(s("spread", Some("host")));
                    }
                    let n = name(&list).expect("a profile");
                    assert!(names.contains(&n.as_str()), "{n} is not in {names:?}");
                }
            }
        }
    }

    #[test]
    fn the_first_strategy_weighs_more() {
        for p in PROFILES {
            let binpack_first = !p.name.starts_with("ecs-spread");
            assert_eq!(p.fit_weight > p.spread_weight, binpack_first, "{}", p.name);
            assert!(p.name.ends_with(p.resource) || p.name.contains(&format!("-{}-", p.resource)));
        }
    }

    #[test]
    fn without_the_scheduler_binpack_is_approximated() {
        let out = compile_strategies(
            &[s("binpack", Some("memory"))],
            "g",
            attributes::DEFAULT_PREFIX,
            false,
        )
        .expect("compiles");
        assert_eq!(out.scheduler_name, None);
        assert_eq!(out.notes.len(), 1);
        assert!(
            out.notes[0].1.starts_with("binpack approximated"),
            "{:?}",
            out.notes
        );
    }

    #[test]
    fn bad_strategies_name_the_field() {
        let err = |list: &[PlacementStrategy]| {
            compile_strategies(list, "g", attributes::DEFAULT_PREFIX, true)
                .expect_err("refused")
                .to_string()
        };
        assert!(err(&[s("binpack", Some("disk"))]).starts_with("placementStrategy[0].field: "));
        assert!(
            err(&[s("random", None), s("spread", None)]).starts_with("placementStrategy[1].field: required")
        );
        assert!(err(&[s("spread", Some("zone"))]).contains("not a spread field"));
        assert!(err(&vec![s("random", None); 6]).contains("at most 5"));
    }

    /// Every key of the configuration is a field of its upstream type, as the kube-scheduler
    /// Configuration (v1) reference lists them
    /// (<https://kubernetes.io/docs/reference/config-api/kube-scheduler-config.v1/>), and the
    /// plugin and strategy names are the upstream ones.
    #[test]
    fn the_scheduler_configuration_uses_upstream_field_names() {
        let fields = |t: &str| -> &'static [&'static str] {
            match t {
                "KubeSchedulerConfiguration" => &[
                    "apiVersion",
                    "kind",
                    "parallelism",
                    "leaderElection",
                    "clientConnection",
                    "healthzBindAddress",
                    "metricsBindAddress",
                    "enableProfiling",
                    "enableContentionProfiling",
                    "percentageOfNodesToScore",
                    "podInitialBackoffSeconds",
                    "podMaxBackoffSeconds",
                    "profiles",
                    "extenders",
                    "delayCacheUntilActive",
                ],
                "LeaderElectionConfiguration" => &[
                    "leaderElect",
                    "leaseDuration",
                    "renewDeadline",
                    "retryPeriod",
                    "resourceLock",
                    "resourceName",
                    "resourceNamespace",
                ],
                "KubeSchedulerProfile" => &[
                    "schedulerName",
                    "percentageOfNodesToScore",
                    "plugins",
                    "pluginConfig",
                ],
                "Plugins" => &[
                    "preEnqueue",
                    "queueSort",
                    "preFilter",
                    "filter",
                    "postFilter",
                    "preScore",
                    "score",
                    "reserve",
                    "permit",
                    "preBind",
                    "bind",
                    "postBind",
                    "multiPoint",
                ],
                "PluginSet" => &["enabled", "disabled"],
                "Plugin" => &["name", "weight"],
                "PluginConfig" => &["name", "args"],
                "NodeResourcesFitArgs" => &["ignoredResources", "ignoredResourceGroups", "scoringStrategy"],
                "ScoringStrategy" => &["type", "resources", "requestedToCapacityRatio"],
                "ResourceSpec" => &["name", "weight"],
                other => panic!("unknown type {other}"),
            }
        };
        let keys_in = |v: &Value, t: &str| {
            for k in v.as_object().expect("an object").keys() {
                assert!(fields(t).contains(&k.as_str()), "{t} has no field {k}");
            }
        };
        let config = scheduler_configuration("ecs-bridge-system");
        keys_in(&config, "KubeSchedulerConfiguration");
        keys_in(&config["leaderElection"], "LeaderElectionConfiguration");
        let mut names = BTreeSet::new();
        for p in config["profiles"].as_array().expect("profiles") {
            keys_in(p, "KubeSchedulerProfile");
            assert!(
                names.insert(p["schedulerName"].as_str().expect("name").to_owned()),
                "profile names are unique"
            );
            keys_in(&p["plugins"], "Plugins");
            for (_, set) in p["plugins"].as_object().expect("plugins") {
                keys_in(set, "PluginSet");
                for plugin in set
                    .as_object()
                    .expect("set")
                    .values()
                    .flat_map(|l| l.as_array().expect("list"))
                {
                    keys_in(plugin, "Plugin");
                    let name = plugin["name"].as_str().expect("name");
                    assert!(
                        [
                            "NodeResourcesFit",
                            "PodTopologySpread",
                            "NodeResourcesBalancedAllocation"
                        ]
                        .contains(&name),
                        "{name}"
                    );
                }
            }
            for pc in p["pluginConfig"].as_array().expect("pluginConfig") {
                keys_in(pc, "PluginConfig");
                keys_in(&pc["args"], "NodeResourcesFitArgs");
                let strategy = &pc["args"]["scoringStrategy"];
                keys_in(strategy, "ScoringStrategy");
                assert_eq!(strategy["type"], "MostAllocated");
                for r in strategy["resources"].as_array().expect("resources") {
                    keys_in(r, "ResourceSpec");
                }
            }
        }
        assert_eq!(names.len(), PROFILES.len());
    }
}
