//! The capacity `render` places Services on: the CapacityProviders given (with the NodePool of
//! a Managed Instances one) and the built-in FARGATE and FARGATE_SPOT, the clusters' (Namespaces')
//! providers and default strategies, and managed scaling's headroom for the tasks rendered.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use serde_json::Value;

use super::{HEADROOM_NAMESPACE, Loaded, Rendered, Resource, at_field, report, spec_path, to_value};
use crate::{
    api::CapacityProvider,
    manifest::{Diagnostic, FieldPath, position_of},
    translate::{
        Options,
        capacity::{self, cluster::ClusterCapacity, provider::Provider, usage::TaskUsage},
    },
};

/// The placeholder Deployment of `cp` (managed scaling below 100) for the tasks among `objects`
/// that run on it (its per-provider Deployments' replicas, at their pods' average requests).
pub(super) fn headroom_of(
    cp: &CapacityProvider,
    objects: &[Value],
) -> Option<k8s_openapi::api::apps::v1::Deployment> {
    let target = capacity::headroom::target_capacity(cp)?;
    let provider = Provider::of(cp);
    let label = provider.label_value();
    let (mut tasks, mut cpu, mut memory) = (0_u64, 0_u64, 0_u64);
    for d in objects
        .iter()
        .filter(|o| {
            o["kind"] == "Deployment"
                && o["metadata"]["labels"][capacity::provider::PROVIDER_LABEL] == label.as_str()
        })
        .filter_map(|o| serde_json::from_value::<k8s_openapi::api::apps::v1::Deployment>(o.clone()).ok())
    {
        let Some(spec) = d.spec else { continue };
        let replicas = u64::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0);
        let each = spec.template.spec.as_ref().map(TaskUsage::of);
        tasks += replicas;
        cpu += replicas * each.as_ref().map_or(0, |t| t.cpu_millis);
        memory += replicas * each.as_ref().map_or(0, |t| t.memory_bytes);
    }
    let p = capacity::headroom::sized(target, tasks, cpu, memory)?;
    Some(capacity::headroom::deployment(
        &kube::ResourceExt::name_any(cp),
        &provider,
        HEADROOM_NAMESPACE,
        p.count,
        p.cpu_millis,
        p.memory_bytes,
    ))
}

/// The CapacityProviders among `loaded` (their names checked as CreateCapacityProvider does),
/// and the built-in FARGATE and FARGATE_SPOT as the chart installs them unless given.
pub(super) fn capacity_providers(
    loaded: &[Loaded],
    options: &Options,
    out: &mut Rendered,
) -> Vec<CapacityProvider> {
    let mut providers: Vec<CapacityProvider> = Vec::new();
    for item in loaded {
        if let Resource::CapacityProvider(cp) = &item.resource {
            let name = cp.ecs_name();
            let field = if cp.spec.capacity_provider.name.is_some() {
                "spec.name"
            } else {
                "metadata.name"
            };
            match capacity::validate_provider_name(&name) {
                Ok(()) => providers.push(with_node_pool(item, cp, options, out)),
                Err(e) => out.diagnostics.push(Diagnostic::error(
                    &item.document.file,
                    position_of(&item.document, &spec_path(&FieldPath::root(), field))
                        .or_else(|| Some(item.document.file_position(1, 1))),
                    None,
                    format!("{}: {field}: {e}", item.resource.describe()),
                )),
            }
        }
    }
    for builtin in capacity::provider::builtin() {
        if !providers.iter().any(|p| p.ecs_name() == builtin.ecs_name()) {
            providers.push(builtin);
        }
    }
    providers
}

/// `cp` (the document `item`) as the Services rendered with it see it: a Managed Instances
/// provider's Karpenter NodePool is rendered (as the operator applies it where Karpenter is
/// installed), and its tasks select the NodePool's nodes, as they do once the operator has made
/// it.
fn with_node_pool(
    item: &Loaded,
    cp: &CapacityProvider,
    options: &Options,
    out: &mut Rendered,
) -> CapacityProvider {
    let mut cp = cp.clone();
    match capacity::node_pool::node_pool(&cp, &options.karpenter_node_class) {
        Ok(None) => {}
        Ok(Some(built)) => {
            report(item, &built.report, out);
            let name = kube::ResourceExt::name_any(&built.node_pool);
            out.objects.push(to_value(&built.node_pool));
            cp.status.get_or_insert_default().node_pool = Some(name);
        }
        Err(e) => out
            .diagnostics
            .push(at_field(item, &e.to_string(), &e.to_string())),
    }
    cp
}

/// The capacity a Service is rendered on: the providers, and its cluster's (Namespace's)
/// providers and default strategy.
pub(super) struct Capacity<'a> {
    /// The providers.
    pub providers: &'a [CapacityProvider],
    /// The Service's cluster's providers and default strategy.
    pub cluster: &'a ClusterCapacity,
    /// The nodes placement compiles against (`--nodes`), when given.
    pub nodes: Option<&'a [Node]>,
}

/// The capacity of each Namespace among `loaded` (an ECS cluster: what PutClusterCapacityProviders
/// gave it, as its annotations), by name; an annotation that does not parse is an error at it.
pub(super) fn clusters(loaded: &[Loaded], out: &mut Rendered) -> BTreeMap<String, ClusterCapacity> {
    let mut clusters = BTreeMap::new();
    for item in loaded {
        if let Resource::Namespace(ns) = &item.resource {
            let name = ns.metadata.name.clone().unwrap_or_default();
            match ClusterCapacity::from_annotations(ns.metadata.annotations.as_ref()) {
                Ok(capacity) => {
                    clusters.insert(name, capacity);
                }
                Err(e) => {
                    let key = e.field.rsplit(' ').next().unwrap_or_default().to_owned();
                    let path = FieldPath::root().key("metadata").key("annotations").key(&key);
                    out.diagnostics.push(Diagnostic::error(
                        &item.document.file,
                        position_of(&item.document, &path)
                            .or_else(|| Some(item.document.file_position(1, 1))),
                        Some(path),
                        format!("{}: {e}", item.resource.describe()),
                    ));
                }
            }
        }
    }
    clusters
}
