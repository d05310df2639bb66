//! CustomResourceDefinitions: creating one starts serving its kinds (and reports the CRD
//! `Established`); deleting it stops serving them and deletes their objects.

use serde_json::{Value, json};

use super::{ApiError, ApiServer, meta};
use crate::{registry::types_of_crd, schema::Gvk, store::Key};

impl ApiServer {
    /// Starts serving a created (or updated) CRD and marks it Established and NamesAccepted.
    pub(super) fn crd_created(&self, crd: &Value) -> Result<Value, ApiError> {
        let types = types_of_crd(crd).map_err(ApiError::bad_request)?;
        let versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let storage = versions
            .iter()
            .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
            .count();
        if versions.len() > 1 {
            // Conversion between versions is not something the double does.
            return Err(ApiError::not_implemented(
                "CRDs with more than one version (conversion)",
            ));
        }
        if storage != 1 {
            return Err(ApiError::invalid(
                "CustomResourceDefinition",
                "",
                vec![super::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: "must have exactly one version marked as storage version".into(),
                    field: "spec.versions".into(),
                }],
            ));
        }
        {
            let mut schemas = self.schemas.write().expect("schemas lock");
            for (t, v) in types.iter().zip(&versions) {
                let schema = v.pointer("/schema/openAPIV3Schema").cloned().unwrap_or_else(
                    || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                );
                schemas.add_custom(&t.gvk, schema);
            }
        }
        self.registry.write().expect("registry lock").add_custom(types);
        // Report the CRD established, as the apiextensions controllers do.
        let name = meta::meta_str(crd, "name").unwrap_or_default().to_owned();
        let key = Key {
            group: "apiextensions.k8s.io".into(),
            plural: "customresourcedefinitions".into(),
            namespace: String::new(),
            name,
        };
        let mut state = self.store.lock();
        let Some(live) = state.get(&key) else {
            return Ok(crd.clone());
        };
        let mut obj = (*live).clone();
        let now = meta::now();
        let names = obj.pointer("/spec/names").cloned().unwrap_or(json!({}));
        obj["status"] = json!({
            "acceptedNames": names,
            "storedVersions": versions.iter().filter_map(|v| v.get("name")).collect::<Vec<_>>(),
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
            ],
        });
        Ok((*state.put(key, obj)).clone())
    }

    /// Stops serving a deleted CRD's kinds and deletes their objects.
    pub(super) fn crd_deleted(&self, crd: &Value) {
        let Ok(types) = types_of_crd(crd) else { return };
        let mut state = self.store.lock();
        for t in &types {
            for (k, _) in state.list(&t.gvk.group, &t.plural, None) {
                state.remove(&k);
            }
        }
        drop(state);
        let mut schemas = self.schemas.write().expect("schemas lock");
        for t in &types {
            schemas.remove_custom(&t.gvk);
        }
        drop(schemas);
        if let Some(t) = types.first() {
            self.registry
                .write()
                .expect("registry lock")
                .remove_custom(&t.gvk.group, &t.plural);
        }
    }

    /// Whether a kind is served (for tests waiting on a CRD).
    #[must_use]
    pub fn serves(&self, gvk: &Gvk) -> bool {
        self.resource_type(gvk).is_some()
    }
}
