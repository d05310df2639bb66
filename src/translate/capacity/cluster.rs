//! The ECS cluster's capacity providers and default strategy, and the strategy a Service runs
//! with (pure; ecs-reference §2.3, §4.4).
//!
//! The namespace is the ECS cluster. What `PutClusterCapacityProviders` gives a cluster is two
//! annotations on the Namespace, which a GitOps repository can hold:
//!
//! - [`PROVIDERS_ANNOTATION`]: the providers the cluster may use, comma-separated ECS names
//!   (`FARGATE,FARGATE_SPOT,spot-pool`) or a JSON list. Without it, every CapacityProvider may be
//!   used (a cluster of Kubernetes has no association step to forget).
//! - [`DEFAULT_STRATEGY_ANNOTATION`]: the default strategy, ECS's JSON form
//!   (`[{"capacityProvider":"FARGATE","base":1,"weight":1}]`); `[]` or no annotation: none.
//!
//! A Service that names neither `launchType` nor `capacityProviderStrategy` runs with the
//! default, which is recorded in its status when first used (as ECS copies the cluster's default
//! into a service when it is created): a later change of the default does not move existing
//! Services ([`super::provider::effective_strategy`]). To move one, give it its own strategy.

use super::{
    ProviderKind, StrategyError,
    provider::{Provider, StrategyProvider, StrategySource, effective_strategy},
    refused, validate, validate_providers,
};
use crate::api::{
    ServiceSpec,
    ecs::{CapacityProviderStrategyItem, LaunchType, SchedulingStrategy},
};

/// Namespace annotation: the capacity providers the cluster may use.
pub const PROVIDERS_ANNOTATION: &str = "ecsbridge.io/capacity-providers";
/// Namespace annotation: the cluster's default capacity provider strategy (ECS JSON).
pub const DEFAULT_STRATEGY_ANNOTATION: &str = "ecsbridge.io/default-capacity-provider-strategy";

/// What `PutClusterCapacityProviders` gave the cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterCapacity {
    /// The providers it may use; `None`: every one.
    pub providers: Option<Vec<String>>,
    /// Its default strategy; empty: none.
    pub default_strategy: Vec<CapacityProviderStrategyItem>,
}

impl ClusterCapacity {
    /// The cluster's capacity from its Namespace's `annotations`.
    ///
    /// # Errors
    /// An annotation that does not parse, naming it and the form it takes.
    pub fn from_annotations(
        annotations: Option<&std::collections::BTreeMap<String, String>>,
    ) -> Result<Self, StrategyError> {
        let get = |k: &str| annotations.and_then(|a| a.get(k)).map(|v| v.trim());
        let providers = match get(PROVIDERS_ANNOTATION) {
            None => None,
            Some(v) if v.starts_with('[') => Some(serde_json::from_str::<Vec<String>>(v).map_err(|e| {
                refused(
                    annotation(PROVIDERS_ANNOTATION),
                    format!("{e}: give a JSON list of provider names, or names separated by commas"),
                )
            })?),
            Some(v) => Some(
                v.split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        };
        let default_strategy = match get(DEFAULT_STRATEGY_ANNOTATION) {
            None | Some("") => Vec::new(),
            Some(v) => serde_json::from_str(v).map_err(|e| {
                refused(
                    annotation(DEFAULT_STRATEGY_ANNOTATION),
                    format!(
                        "{e}: give ECS's JSON form, e.g. \
                         [{{\"capacityProvider\":\"FARGATE\",\"base\":1,\"weight\":1}}]"
                    ),
                )
            })?,
        };
        Ok(Self {
            providers,
            default_strategy,
        })
    }
}

/// The field name errors give an annotation of the Namespace.
fn annotation(key: &str) -> String {
    format!("the Namespace's annotation {key}")
}

/// The strategy a Service runs with, each item with its provider.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The items and their providers, in order.
    pub providers: Vec<StrategyProvider>,
    /// Where the strategy is written (for errors and notes).
    pub field: String,
    /// Where it comes from.
    pub source: StrategySource,
}

impl Resolved {
    /// The strategy's items.
    #[must_use]
    pub fn items(&self) -> Vec<CapacityProviderStrategyItem> {
        self.providers.iter().map(|p| p.item.clone()).collect()
    }
}

/// Resolves the strategy of the Service `spec` (see [`effective_strategy`]; `recorded` is the
/// one in its status) in a cluster with `cluster`'s providers and default, `lookup` giving a
/// provider by ECS name and whether it is ACTIVE. ECS's rules, each naming the field: not both
/// `launchType` and a strategy; the strategy's own rules ([`validate`]); providers that exist,
/// are ACTIVE, are the cluster's, and do not mix Fargate with Auto Scaling groups
/// ([`validate_providers`]); no DAEMON service on Fargate.
///
/// # Errors
/// The first rule broken.
pub fn resolve(
    spec: &ServiceSpec,
    recorded: Option<&[CapacityProviderStrategyItem]>,
    cluster: &ClusterCapacity,
    lookup: impl Fn(&str) -> Option<(Provider, bool)>,
) -> Result<Option<Resolved>, StrategyError> {
    let s = &spec.service;
    if s.launch_type.is_some() && s.capacity_provider_strategy.is_some() {
        return Err(refused(
            "launchType",
            "launchType and capacityProviderStrategy cannot both be given: keep the strategy and remove \
             launchType, or the other way round",
        ));
    }
    let Some((items, source)) = effective_strategy(
        s.capacity_provider_strategy.as_deref(),
        s.launch_type.as_ref(),
        recorded,
        Some(&cluster.default_strategy),
    ) else {
        return Ok(None);
    };
    let field = match source {
        StrategySource::Service | StrategySource::Recorded => "capacityProviderStrategy".to_owned(),
        StrategySource::LaunchType => "launchType".to_owned(),
        StrategySource::ClusterDefault => annotation(DEFAULT_STRATEGY_ANNOTATION),
    };
    validate(&field, &items)?;
    if source != StrategySource::LaunchType
        && let Some(allowed) = &cluster.providers
        && let Some((i, item)) = items
            .iter()
            .enumerate()
            .find(|(_, i)| !allowed.contains(&i.capacity_provider))
    {
        return Err(refused(
            format!("{field}[{i}].capacityProvider"),
            format!(
                "{:?} is not one of the cluster's capacity providers ({}): add it to the Namespace's \
                 annotation {PROVIDERS_ANNOTATION}, or name one of those",
                item.capacity_provider,
                allowed.join(", ")
            ),
        ));
    }
    validate_providers(&field, &items, |name| {
        lookup(name).map(|(p, active)| (p.kind.unwrap_or(ProviderKind::AutoScalingGroup), active))
    })
    .map_err(|mut e| {
        if source == StrategySource::LaunchType {
            e.message = format!(
                "{}; launchType FARGATE runs on the CapacityProvider FARGATE, which the chart installs",
                e.message
            );
            e.field = "launchType".to_owned();
        }
        e
    })?;
    let providers: Vec<StrategyProvider> = items
        .into_iter()
        .filter_map(|item| {
            let (provider, _) = lookup(&item.capacity_provider)?;
            Some(StrategyProvider { item, provider })
        })
        .collect();
    if s.scheduling_strategy == Some(SchedulingStrategy::Daemon)
        && (s.launch_type == Some(LaunchType::Fargate)
            || providers
                .iter()
                .any(|p| p.provider.kind == Some(ProviderKind::Fargate)))
    {
        return Err(refused(
            "schedulingStrategy",
            format!(
                "DAEMON is not supported on Fargate ({field} names a Fargate provider): use REPLICA, or an \
                 Auto Scaling group provider"
            ),
        ));
    }
    Ok(Some(Resolved {
        providers,
        field,
        source,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn provider(name: &str, kind: ProviderKind) -> Provider {
        Provider {
            name: name.to_owned(),
            kind: Some(kind),
            ..Provider::default()
        }
    }

    fn lookup(name: &str) -> Option<(Provider, bool)> {
        match name {
            "FARGATE" | "FARGATE_SPOT" => Some((provider(name, ProviderKind::Fargate), true)),
            "asg" => Some((provider(name, ProviderKind::AutoScalingGroup), true)),
            _ => None,
        }
    }

    fn spec(v: serde_json::Value) -> ServiceSpec {
        serde_json::from_value(v).expect("service spec")
    }

    fn err(v: serde_json::Value, cluster: &ClusterCapacity) -> String {
        resolve(&spec(v), None, cluster, lookup)
            .expect_err("refused")
            .to_string()
    }

    #[test]
    fn the_namespace_annotations_are_the_clusters_providers_and_default() {
        let a = BTreeMap::from([
            (
                PROVIDERS_ANNOTATION.to_owned(),
                "FARGATE, FARGATE_SPOT".to_owned(),
            ),
            (
                DEFAULT_STRATEGY_ANNOTATION.to_owned(),
                r#"[{"capacityProvider":"FARGATE","base":1,"weight":1}]"#.to_owned(),
            ),
        ]);
        let c = ClusterCapacity::from_annotations(Some(&a)).expect("parses");
        assert_eq!(
            c.providers,
            Some(vec!["FARGATE".to_owned(), "FARGATE_SPOT".to_owned()])
        );
        assert_eq!(c.default_strategy[0].base, Some(1));
        let list = BTreeMap::from([(PROVIDERS_ANNOTATION.to_owned(), r#"["a","b"]"#.to_owned())]);
        assert_eq!(
            ClusterCapacity::from_annotations(Some(&list))
                .expect("parses")
                .providers,
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
        let bad = BTreeMap::from([(DEFAULT_STRATEGY_ANNOTATION.to_owned(), "FARGATE".to_owned())]);
        let e = ClusterCapacity::from_annotations(Some(&bad))
            .expect_err("bad")
            .to_string();
        assert!(
            e.starts_with("the Namespace's annotation ecsbridge.io/default-capacity-provider-strategy: "),
            "{e}"
        );
    }

    #[test]
    fn a_service_without_strategy_takes_the_default_and_ecs_rules_name_the_field() {
        let cluster = ClusterCapacity {
            providers: Some(vec!["FARGATE".into(), "FARGATE_SPOT".into()]),
            default_strategy: serde_json::from_value(
                serde_json::json!([{"capacityProvider": "FARGATE_SPOT", "weight": 1}]),
            )
            .expect("items"),
        };
        let r = resolve(&spec(serde_json::json!({})), None, &cluster, lookup)
            .expect("valid")
            .expect("a strategy");
        assert_eq!(r.source, StrategySource::ClusterDefault);
        assert_eq!(r.providers[0].provider.name, "FARGATE_SPOT");
        assert!(
            resolve(
                &spec(serde_json::json!({"launchType": "EC2"})),
                None,
                &cluster,
                lookup
            )
            .expect("valid")
            .is_none()
        );
        let both = err(
            serde_json::json!({"launchType": "FARGATE", "capacityProviderStrategy": [{"capacityProvider": "FARGATE"}]}),
            &cluster,
        );
        assert!(
            both.starts_with("launchType: launchType and capacityProviderStrategy"),
            "{both}"
        );
        let foreign = err(
            serde_json::json!({"capacityProviderStrategy": [{"capacityProvider": "asg", "weight": 1}]}),
            &cluster,
        );
        assert!(
            foreign.starts_with(
                "capacityProviderStrategy[0].capacityProvider: \"asg\" is not one of the cluster's"
            ),
            "{foreign}"
        );
        let daemon = err(
            serde_json::json!({"schedulingStrategy": "DAEMON", "launchType": "FARGATE"}),
            &cluster,
        );
        assert!(
            daemon.starts_with("schedulingStrategy: DAEMON is not supported on Fargate"),
            "{daemon}"
        );
        let missing = resolve(
            &spec(serde_json::json!({"launchType": "FARGATE"})),
            None,
            &ClusterCapacity::default(),
            |_| None,
        )
        .expect_err("no FARGATE")
        .to_string();
        assert!(
            missing.starts_with("launchType: no CapacityProvider \"FARGATE\""),
            "{missing}"
        );
    }
}
