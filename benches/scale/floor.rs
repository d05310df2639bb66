//! The write floor: the objects the operator made, read back, then sent to a fresh API server
//! double by a plain kube client loop (server-side apply, `concurrency` at once), timed.

use std::time::{Duration, Instant};

use ecs_bridge_testbed::TestApiServer;
use futures::StreamExt;
use kube::{
    Api, Client,
    api::{ApiResource, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams},
};
use serde_json::Value;

/// The kinds the operator makes (namespaced or not).
pub fn child_kinds() -> Vec<(ApiResource, bool)> {
    let kind = |group: &str, version: &str, kind: &str, plural: &str, namespaced: bool| {
        (
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural),
            namespaced,
        )
    };
    vec![
        kind("apps", "v1", "Deployment", "deployments", true),
        kind("apps", "v1", "DaemonSet", "daemonsets", true),
        kind("apps", "v1", "ControllerRevision", "controllerrevisions", true),
        kind("", "v1", "Service", "services", true),
        kind("", "v1", "ServiceAccount", "serviceaccounts", true),
        kind("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true),
        kind("", "v1", "ConfigMap", "configmaps", true),
        kind("", "v1", "PersistentVolume", "persistentvolumes", false),
        kind(
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        ),
        kind("batch", "v1", "CronJob", "cronjobs", true),
        kind(
            "elbv2.k8s.aws",
            "v1beta1",
            "TargetGroupBinding",
            "targetgroupbindings",
            true,
        ),
        kind(
            "external-secrets.io",
            "v1",
            "ExternalSecret",
            "externalsecrets",
            true,
        ),
    ]
}

/// Every object labelled as ecs-bridge's, of the kinds it makes, ready to be applied elsewhere
/// (no server-set fields, no owner references: their owners are not there).
pub async fn children(client: &Client) -> Vec<(ApiResource, Option<String>, Value)> {
    let ours = ListParams::default().labels("app.kubernetes.io/managed-by=ecs-bridge");
    let mut out = Vec::new();
    for (ar, namespaced) in child_kinds() {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let list = match api.list(&ours).await {
            Ok(list) => list,
            // (A kind the cluster does not serve.)
            Err(kube::Error::Api(status)) if status.code == 404 => continue,
            Err(e) => panic!("list {}: {e}", ar.plural),
        };
        for obj in list.items {
            let namespace = namespaced.then(|| obj.metadata.namespace.clone()).flatten();
            let mut value = serde_json::to_value(&obj).expect("json");
            if let Some(meta) = value["metadata"].as_object_mut() {
                for server_set in [
                    "uid",
                    "resourceVersion",
                    "creationTimestamp",
                    "managedFields",
                    "generation",
                    "ownerReferences",
                ] {
                    meta.remove(server_set);
                }
            }
            if let Some(obj) = value.as_object_mut() {
                obj.remove("status");
            }
            out.push((ar.clone(), namespace, value));
        }
    }
    out
}

/// A plain kube client of `server` (the bench's, not the operator's: no User-Agent of its own).
pub async fn client(server: &TestApiServer) -> Client {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(server.kubeconfig()).expect("kubeconfig"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("client config");
    Client::try_from(config).expect("client")
}

/// The time a fresh API server double (with `crds` installed and the namespaces made, not
/// timed) takes to accept `objects`, applied `concurrency` at once by one client.
pub async fn floor(
    crds: &[Value],
    namespaces: &[&str],
    objects: &[(ApiResource, Option<String>, Value)],
    concurrency: usize,
) -> Duration {
    let server = TestApiServer::start().await;
    let client = client(&server).await;
    let params = PatchParams::apply("floor").force();
    let crd_ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
        "customresourcedefinitions",
    );
    for crd in crds {
        let name = crd["metadata"]["name"].as_str().expect("a CRD name");
        Api::<DynamicObject>::all_with(client.clone(), &crd_ar)
            .patch(name, &params, &Patch::Apply(crd))
            .await
            .expect("CRD applied");
    }
    for ns in namespaces {
        let namespace =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .patch(ns, &params, &Patch::Apply(&namespace))
            .await
            .expect("namespace applied");
    }
    // (The CRDs are Established at once on the double.)
    let started = Instant::now();
    let results: Vec<Result<(), String>> = futures::stream::iter(objects)
        .map(|(ar, namespace, obj)| {
            let client = client.clone();
            let params = params.clone();
            async move {
                let api: Api<DynamicObject> = match namespace {
                    Some(ns) => Api::namespaced_with(client, ns, ar),
                    None => Api::all_with(client, ar),
                };
                let name = obj["metadata"]["name"].as_str().unwrap_or_default();
                api.patch(name, &params, &Patch::Apply(obj))
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("{} {name}: {e}", ar.kind))
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let took = started.elapsed();
    let failed: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "the floor's applies failed: {:?}",
        &failed[..failed.len().min(5)]
    );
    took
}
