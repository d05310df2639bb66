//! POST: creating objects.

use serde_json::Value;

use super::{ApiError, ApiServer, WriteOptions, Written, meta};
use crate::{patch, registry::ResourceType, schema::Gvk};

impl ApiServer {
    /// Creates `body` as a `rt` in `namespace`.
    ///
    /// # Errors
    /// 409 when it exists, 404 when the namespace does not, 400/422 when the object is invalid.
    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        // The storage layer refuses a create carrying a resourceVersion
        // (`storage.ErrResourceVersionSetOnCreate`), which the API server answers as an
        // internal error.
        if meta::meta_str(&body, "resourceVersion").is_some_and(|rv| !rv.is_empty()) {
            let mut e = ApiError::internal(
                "Internal error occurred: resourceVersion should not be set on objects to be created",
            );
            e.causes = vec![super::Cause {
                reason: String::new(),
                message: "resourceVersion should not be set on objects to be created".into(),
                field: String::new(),
            }];
            return Err(e);
        }
        self.create_with(rt, namespace, body, opts, None)
    }

    /// Creates an object; `managed_fields` (from a server-side apply that creates) replace the
    /// `Update` entry a create records.
    pub(super) fn create_with(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        mut body: Value,
        opts: &WriteOptions,
        managed_fields: Option<Value>,
    ) -> Result<Written, ApiError> {
        Self::check_scope(rt, namespace)?;
        self.check_kind(rt, &body)?;
        let now = meta::now();
        {
            let m = meta::meta_mut(&mut body);
            if let Some(ns) = namespace {
                match m.get("namespace").and_then(Value::as_str) {
                    Some(given) if given != ns => {
                        return Err(ApiError::bad_request(
                            "the namespace of the provided object does not match the namespace sent on the request",
                        ));
                    }
                    _ => {
                        m.insert("namespace".into(), Value::String(ns.to_owned()));
                    }
                }
            } else {
                m.remove("namespace");
            }
            if m.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
                match m.get("generateName").and_then(Value::as_str) {
                    Some(prefix) => {
                        let name = meta::generated_name(prefix);
                        m.insert("name".into(), Value::String(name));
                    }
                    None => {
                        return Err(ApiError::invalid(
                            &rt.qualified_kind(),
                            "",
                            vec![super::Cause {
                                reason: "FieldValueRequired".into(),
                                message: "Required value: name or generateName is required".into(),
                                field: "metadata.name".into(),
                            }],
                        ));
                    }
                }
            }
            for f in [
                "uid",
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
                "managedFields",
            ] {
                m.remove(f);
            }
            m.insert("uid".into(), Value::String(meta::uid()));
            m.insert("creationTimestamp".into(), Value::String(now.clone()));
            if rt.has_generation {
                m.insert("generation".into(), Value::from(1));
            } else {
                m.remove("generation");
            }
        }
        let name = meta::meta_str(&body, "name").unwrap_or_default().to_owned();
        if !meta::valid_name(&name) {
            return Err(ApiError::invalid(
                &rt.qualified_kind(),
                &name,
                vec![super::Cause {
                    reason: "FieldValueInvalid".into(),
                    message: format!(
                        "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
                         characters, '-' or '.', and must start and end with an alphanumeric character"
                    ),
                    field: "metadata.name".into(),
                }],
            ));
        }
        // The status of a kind with a status subresource is not set by create.
        if rt.status_subresource
            && let Some(o) = body.as_object_mut()
        {
            o.remove("status");
        }
        if rt.gvk == Gvk::new("", "v1", "Namespace") {
            prepare_namespace(&mut body, &name);
        }
        let (mut body, warnings) = self.validate_and_prune(rt, body, opts)?;
        match managed_fields {
            Some(managed) => {
                meta::meta_mut(&mut body).insert("managedFields".into(), managed);
            }
            None => {
                body = self.with_schemas(|s| {
                    patch::track_update(
                        None,
                        &body,
                        &opts.field_manager,
                        &rt.gvk.api_version(),
                        None,
                        &now,
                        s.kind(&rt.gvk),
                    )
                });
            }
        }
        let key = Self::key(rt, namespace, &name);
        let mut state = self.store.lock();
        if rt.namespaced {
            let ns = namespace.unwrap_or_default();
            let ns_key = crate::store::Key {
                group: String::new(),
                plural: "namespaces".into(),
                namespace: String::new(),
                name: ns.into(),
            };
            match state.get(&ns_key) {
                None => return Err(ApiError::not_found("namespaces", ns).about("", "namespaces", ns)),
                Some(n) if meta::is_deleting(&n) => {
                    return Err(ApiError::forbidden(format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        rt.qualified()
                    )));
                }
                Some(_) => {}
            }
            if rt.gvk == Gvk::new("", "v1", "Pod") {
                check_service_account(&state, &body, ns, &name)?;
            }
        }
        if state.get(&key).is_some() {
            return Err(ApiError::already_exists(&rt.qualified(), &name).about(
                &rt.gvk.group,
                &rt.plural,
                &name,
            ));
        }
        if opts.dry_run {
            return Ok(Written {
                object: body,
                warnings,
                created: true,
            });
        }
        let has_owners = body
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        let stored = state.put(key, body);
        drop(state);
        if has_owners {
            // The garbage collector looks at new dependents at once (a missing owner).
            self.gc_wakeup.notify_one();
        }
        if rt.gvk == Gvk::new("apiextensions.k8s.io", "v1", "CustomResourceDefinition") {
            let established = self.crd_created(&stored)?;
            return Ok(Written {
                object: established,
                warnings,
                created: true,
            });
        }
        Ok(Written {
            object: (*stored).clone(),
            warnings,
            created: true,
        })
    }

    /// `apiVersion` and `kind` in the body must match the URL's kind (when given).
    pub(super) fn check_kind(&self, rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
        let api_version = body.get("apiVersion").and_then(Value::as_str);
        let kind = body.get("kind").and_then(Value::as_str);
        if let Some(kind) = kind
            && kind != rt.gvk.kind
        {
            return Err(ApiError::bad_request(format!(
                "the kind of the provided object ({kind}) does not match the resource ({})",
                rt.gvk.kind
            )));
        }
        if let Some(av) = api_version
            && av != rt.gvk.api_version()
        {
            return Err(ApiError::bad_request(format!(
                "the apiVersion of the provided object ({av}) does not match the resource ({}); the double serves one \
                 version per kind and does not convert",
                rt.gvk.api_version()
            )));
        }
        Ok(())
    }
}

/// What the API server sets on a new Namespace: phase `Active`, `kubernetes` in
/// `spec.finalizers` (the namespace strategy's `PrepareForCreate`) and the
/// `kubernetes.io/metadata.name` label
/// (https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#automatic-labelling).
fn prepare_namespace(body: &mut Value, name: &str) {
    body["status"] = serde_json::json!({"phase": "Active"});
    let finalizers = body.pointer_mut("/spec/finalizers").and_then(Value::as_array_mut);
    match finalizers {
        Some(f) if f.iter().any(|x| x == "kubernetes") => {}
        Some(f) => f.push(Value::String("kubernetes".into())),
        None => body["spec"]["finalizers"] = serde_json::json!(["kubernetes"]),
    }
    let m = meta::meta_mut(body);
    if !m.get("labels").is_some_and(Value::is_object) {
        m.insert("labels".into(), serde_json::json!({}));
    }
    m["labels"]["kubernetes.io/metadata.name"] = Value::String(name.to_owned());
}

/// The ServiceAccount admission plugin: a pod naming a ServiceAccount that does not exist in its
/// namespace is refused (403), and its controller retries
/// (<https://kubernetes.io/docs/reference/access-authn-authz/admission-controllers/#serviceaccount>).
///
/// `default` is let through: every real namespace has it (the ServiceAccount controller makes
/// it), and the double has no such controller.
fn check_service_account(
    state: &crate::store::State,
    pod: &Value,
    namespace: &str,
    name: &str,
) -> Result<(), ApiError> {
    let sa = pod
        .pointer("/spec/serviceAccountName")
        .or_else(|| pod.pointer("/spec/serviceAccount"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && *s != "default");
    let Some(sa) = sa else { return Ok(()) };
    let key = crate::store::Key {
        group: String::new(),
        plural: "serviceaccounts".into(),
        namespace: namespace.into(),
        name: sa.into(),
    };
    if state.get(&key).is_some() {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "pods \"{name}\" is forbidden: error looking up service account {namespace}/{sa}: serviceaccount \"{sa}\" not found"
    )))
}
