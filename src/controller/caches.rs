//! What the controllers' caches share: the `Api` of a watched scope, and the stores of every
//! scope once they have listed.

use std::{future::Future, sync::RwLock};

use kube::{Api, Client, Resource};

/// `Api` of `K` in `namespace`, or across all namespaces for `None`.
pub fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The stores in `stores` (one set per scope a controller runs in) once each has listed: `ready`
/// of a set fails when its writer was dropped (the controller stopping), and the set is left out.
/// `None` when the controller runs in no scope (no caches, as in a reconcile outside the
/// controller).
pub async fn ready<S, E, F, Fut>(stores: &RwLock<Vec<S>>, ready: F) -> Option<Vec<S>>
where
    S: Clone,
    F: Fn(S) -> Fut,
    Fut: Future<Output = Result<S, E>>,
{
    let stores: Vec<S> = stores
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if stores.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(stores.len());
    for s in stores {
        if let Ok(s) = ready(s).await {
            out.push(s);
        }
    }
    Some(out)
}
