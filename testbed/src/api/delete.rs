//! DELETE, finalizers and propagation policies
//! (https://kubernetes.io/docs/concepts/architecture/garbage-collection/).

use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ApiServer, meta};
use crate::{registry::ResourceType, schema::Gvk};

/// The finalizer the API server adds for foreground deletion.
pub const FOREGROUND: &str = "foregroundDeletion";
/// The finalizer the API server adds for orphaning deletion.
pub const ORPHAN: &str = "orphan";

/// `DeleteOptions` (body or query parameters).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteOptions {
    /// `Background` (default), `Foreground` or `Orphan`.
    pub propagation_policy: Option<String>,
    /// Preconditions on uid and resourceVersion.
    pub preconditions: Option<Preconditions>,
    /// Grace period; the double has no kubelet and treats every deletion as immediate.
    pub grace_period_seconds: Option<i64>,
    /// `["All"]` for a dry run.
    pub dry_run: Option<Vec<String>>,
    /// Deprecated form of `propagationPolicy: Orphan`.
    pub orphan_dependents: Option<bool>,
}

/// Delete preconditions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preconditions {
    /// The object's uid must be this.
    pub uid: Option<String>,
    /// The object's resourceVersion must be this.
    pub resource_version: Option<String>,
}

impl ApiServer {
    /// Deletes an object. With finalizers (or a Foreground/Orphan policy) the object stays,
    /// marked with `deletionTimestamp`, until its finalizers are gone; otherwise it goes now and
    /// the garbage collector deletes its dependents (Background).
    ///
    /// # Errors
    /// 404; 409 when a precondition fails.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value, ApiError> {
        Self::check_scope(rt, namespace)?;
        let key = Self::key(rt, namespace, name);
        let mut state = self.store.lock();
        let Some(live) = state.get(&key) else {
            return Err(ApiError::not_found(&rt.qualified(), name).about(&rt.gvk.group, &rt.plural, name));
        };
        if let Some(p) = &opts.preconditions {
            let uid_ok = p
                .uid
                .as_deref()
                .is_none_or(|u| Some(u) == meta::meta_str(&live, "uid"));
            let rv_ok = p
                .resource_version
                .as_deref()
                .is_none_or(|r| Some(r) == meta::meta_str(&live, "resourceVersion"));
            if !uid_ok || !rv_ok {
                return Err(ApiError::conflict(&rt.qualified(), name));
            }
        }
        let policy = match (opts.propagation_policy.as_deref(), opts.orphan_dependents) {
            (Some(p @ ("Background" | "Foreground" | "Orphan")), _) => p.to_owned(),
            (Some(other), _) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy {other:?} is not Background, Foreground or Orphan"
                )));
            }
            (None, Some(true)) => "Orphan".to_owned(),
            (None, _) => "Background".to_owned(),
        };
        let dry_run = opts
            .dry_run
            .as_ref()
            .is_some_and(|d| d.iter().any(|x| x == "All"));
        let mut finalizers = meta::finalizers(&live);
        let extra = match policy.as_str() {
            "Foreground" => Some(FOREGROUND),
            "Orphan" => Some(ORPHAN),
            _ => None,
        };
        if let Some(f) = extra
            && !finalizers.iter().any(|x| x == f)
        {
            finalizers.push(f.to_owned());
        }
        // A namespace stays (Terminating) until the namespace controller has emptied it and
        // removed `kubernetes` from its `spec.finalizers`
        // (https://kubernetes.io/docs/tasks/administer-cluster/namespaces/#deleting-a-namespace).
        let namespace = rt.gvk == Gvk::new("", "v1", "Namespace");
        let namespace_pending = namespace && !meta::spec_finalizers(&live).is_empty();
        if finalizers.is_empty() && !namespace_pending {
            if dry_run {
                return Ok((*live).clone());
            }
            let gone = state.remove(&key).map(|v| (*v).clone()).unwrap_or_default();
            drop(state);
            self.gc_wakeup.notify_one();
            self.after_delete(rt, &gone);
            return Ok(success_status(rt, name, &gone));
        }
        if meta::is_deleting(&live) && meta::finalizers(&live) == finalizers {
            return Ok((*live).clone());
        }
        let mut marked = (*live).clone();
        {
            let m = meta::meta_mut(&mut marked);
            if m.get("deletionTimestamp").is_none_or(Value::is_null) {
                m.insert("deletionTimestamp".into(), Value::String(meta::now()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                // Marking an object for deletion bumps its generation, as the API server does.
                if rt.has_generation {
                    let g = meta::generation(&live) + 1;
                    m.insert("generation".into(), json!(g));
                }
            }
            if finalizers.is_empty() {
                m.remove("finalizers");
            } else {
                m.insert("finalizers".into(), json!(finalizers));
            }
        }
        if namespace {
            marked["status"]["phase"] = json!("Terminating");
        }
        if dry_run {
            return Ok(marked);
        }
        let stored = state.put(key, marked);
        drop(state);
        self.gc_wakeup.notify_one();
        Ok((*stored).clone())
    }

    /// Side effects of an object being gone: a CRD's kinds stop being served; a namespace's
    /// contents are deleted.
    fn after_delete(&self, rt: &ResourceType, gone: &Value) {
        if rt.gvk == Gvk::new("apiextensions.k8s.io", "v1", "CustomResourceDefinition") {
            self.crd_deleted(gone);
        }
    }
}

/// The `Status` a DELETE answers when the object is gone at once.
fn success_status(rt: &ResourceType, name: &str, gone: &Value) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": rt.gvk.group, "kind": rt.plural, "uid": gone.pointer("/metadata/uid")},
    })
}
