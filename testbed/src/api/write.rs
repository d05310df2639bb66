//! PUT and PATCH: updating objects, their status and scale subresources.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{ApiError, ApiServer, Cause, WriteOptions, Written, meta};
use crate::{
    patch::{self, ApplyError, PatchType},
    registry::ResourceType,
    schema::{prune::prune, validate::validate},
    store::Key,
};

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Main,
    Status,
    Scale,
}

fn part(rt: &ResourceType, subresource: Option<&str>) -> Result<Part, ApiError> {
    match subresource {
        None => Ok(Part::Main),
        Some("status") if rt.status_subresource => Ok(Part::Status),
        Some("scale") if rt.scale.is_some() => Ok(Part::Scale),
        Some(other) => Err(ApiError::not_implemented(format!(
            "the {other:?} subresource of {}",
            rt.qualified()
        ))),
    }
}

impl ApiServer {
    /// Replaces an object (PUT), or its status or scale.
    ///
    /// # Errors
    /// 404, 409 on a stale resourceVersion, 422 when invalid.
    pub fn update(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        body: Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        Self::check_scope(rt, namespace)?;
        let part = part(rt, subresource)?;
        let key = Self::key(rt, namespace, name);
        let mut state = self.store.lock();
        let Some(live) = state.get(&key) else {
            return Err(ApiError::not_found(&rt.qualified(), name).about(&rt.gvk.group, &rt.plural, name));
        };
        check_name(&body, name, namespace)?;
        // A uid in the body is a precondition (`defaultUpdatedObjectInfo.Preconditions`): an
        // update meant for an earlier object of the same name conflicts.
        if let Some(uid) = meta::meta_str(&body, "uid").filter(|u| !u.is_empty())
            && Some(uid) != meta::meta_str(&live, "uid")
        {
            let mut e = ApiError::conflict(&rt.qualified(), name).about(&rt.gvk.group, &rt.plural, name);
            e.message = format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID \
                 in object meta: {}",
                rt.qualified(),
                meta::meta_str(&live, "uid").unwrap_or_default()
            );
            return Err(e);
        }
        let body = if part == Part::Scale {
            self.scale_to_object(rt, &live, &body)?
        } else {
            body
        };
        if part != Part::Scale {
            self.check_kind(rt, &body)?;
        }
        match meta::meta_str(&body, "resourceVersion").filter(|rv| !rv.is_empty()) {
            Some(rv) if Some(rv) != meta::meta_str(&live, "resourceVersion") => {
                return Err(ApiError::conflict(&rt.qualified(), name).about(&rt.gvk.group, &rt.plural, name));
            }
            Some(_) => {}
            // Custom resources do not allow unconditional updates (built-in kinds do):
            // `customResourceStrategy.AllowUnconditionalUpdate` is false, and the generic
            // registry then answers 422 (k8s.io/apiserver/pkg/registry/generic/registry/store.go).
            None if rt.custom => {
                let qualified = rt.qualified();
                let mut e = ApiError::invalid(
                    &qualified,
                    name,
                    vec![cause(
                        "metadata.resourceVersion",
                        "Invalid value: 0x0: must be specified for an update",
                    )],
                );
                e.message = format!(
                    "{qualified} \"{name}\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for \
                     an update"
                );
                return Err(e.about(&rt.gvk.group, &rt.plural, name));
            }
            None => {}
        }
        let written = self.commit(&mut state, rt, &key, &live, body, part, opts, None)?;
        drop(state);
        self.respond(rt, part, written)
    }

    /// The answer of a write: a CRD's kinds change; a write to the scale subresource answers
    /// with the Scale.
    fn respond(&self, rt: &ResourceType, part: Part, written: Written) -> Result<Written, ApiError> {
        let written = self.after_write(rt, written)?;
        if part == Part::Scale {
            let object = self.scale_of(rt, &written.object);
            return Ok(Written { object, ..written });
        }
        Ok(written)
    }

    /// A changed CRD changes the kinds it serves.
    fn after_write(&self, rt: &ResourceType, written: Written) -> Result<Written, ApiError> {
        if rt.gvk == crate::schema::Gvk::new("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
            && !meta::is_deleting(&written.object)
        {
            let object = self.crd_created(&written.object)?;
            return Ok(Written { object, ..written });
        }
        Ok(written)
    }

    /// Patches an object (PATCH), or its status or scale; an apply patch to a missing object
    /// creates it.
    ///
    /// # Errors
    /// 404, 409 (conflicts), 415 (patch type), 422 (invalid result).
    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        subresource: Option<&str>,
        patch_type: PatchType,
        body: &Value,
        opts: &WriteOptions,
    ) -> Result<Written, ApiError> {
        Self::check_scope(rt, namespace)?;
        let part = part(rt, subresource)?;
        let key = Self::key(rt, namespace, name);
        let mut state = self.store.lock();
        let now = meta::now();
        let Some(live) = state.get(&key) else {
            if patch_type == PatchType::Apply && part == Part::Main {
                drop(state);
                return self.apply_create(rt, namespace, name, body, opts, &now);
            }
            return Err(ApiError::not_found(&rt.qualified(), name).about(&rt.gvk.group, &rt.plural, name));
        };
        let target: Value = if part == Part::Scale {
            self.scale_of(rt, &live)
        } else {
            (*live).clone()
        };
        let patched = match patch_type {
            // A malformed patch is 400, one that does not apply (a failed `test`, a missing
            // path) 422, as the API server's patcher answers.
            PatchType::Json => patch::json_patch(&target, body)
                .map_err(|e| ApiError::from_status(e.http_status(), &e.to_string()))?,
            PatchType::Merge => patch::merge_patch(&target, body),
            PatchType::Strategic => {
                if rt.custom {
                    // Custom resources take no strategic merge patch; the API server lists the
                    // patch types they do take.
                    let mut e = ApiError::unsupported_media_type("application/strategic-merge-patch+json");
                    e.message =
                        "the body of the request was in an unknown format - accepted media types include: \
                                 application/json-patch+json, application/merge-patch+json, \
                                 application/apply-patch+yaml"
                            .to_owned();
                    return Err(e);
                }
                self.with_schemas(|s| patch::strategic_merge_patch(&target, body, s.kind(&rt.gvk)))
                    .map_err(|e| ApiError::from_status(e.http_status(), &e.to_string()))?
            }
            PatchType::Apply => {
                if part == Part::Scale {
                    return Err(ApiError::not_implemented(
                        "server-side apply to the scale subresource",
                    ));
                }
                self.check_kind(rt, body)?;
                let sub = (part == Part::Status).then_some("status");
                let applied = self.with_schemas(|s| {
                    patch::apply(
                        Some(&live),
                        body,
                        &opts.field_manager,
                        &rt.gvk.api_version(),
                        sub,
                        opts.force,
                        s.kind(&rt.gvk),
                        &now,
                    )
                });
                match applied {
                    Ok(v) => v,
                    Err(ApplyError::Conflicts(conflicts)) => {
                        // The message as upstream words it; one cause per conflicting field.
                        let message = ApplyError::Conflicts(conflicts.clone()).to_string();
                        let causes = conflicts
                            .into_iter()
                            .map(|c| Cause {
                                reason: "FieldManagerConflict".into(),
                                message: c.cause_message(),
                                field: c.field,
                            })
                            .collect();
                        let mut e = ApiError::apply_conflicts(causes);
                        e.message = message;
                        return Err(e);
                    }
                    Err(e) => return Err(ApiError::from_status(e.http_status(), &e.to_string())),
                }
            }
        };
        let patched = if part == Part::Scale {
            self.scale_to_object(rt, &live, &patched)?
        } else {
            patched
        };
        // A resourceVersion in the patch is a precondition, as in an update: the patched object
        // carries it, and the update that stores it conflicts when it is not the live one.
        if let Some(rv) = meta::meta_str(&patched, "resourceVersion").filter(|rv| !rv.is_empty())
            && Some(rv) != meta::meta_str(&live, "resourceVersion")
        {
            return Err(ApiError::conflict(&rt.qualified(), name).about(&rt.gvk.group, &rt.plural, name));
        }
        let managed = (patch_type == PatchType::Apply).then_some(());
        let written = self.commit(&mut state, rt, &key, &live, patched, part, opts, managed)?;
        drop(state);
        self.respond(rt, part, written)
    }

    fn apply_create(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
        body: &Value,
        opts: &WriteOptions,
        now: &str,
    ) -> Result<Written, ApiError> {
        self.check_kind(rt, body)?;
        let applied = self
            .with_schemas(|s| {
                patch::apply(
                    None,
                    body,
                    &opts.field_manager,
                    &rt.gvk.api_version(),
                    None,
                    opts.force,
                    s.kind(&rt.gvk),
                    now,
                )
            })
            .map_err(|e| ApiError::from_status(e.http_status(), &e.to_string()))?;
        let mut obj = applied;
        let managed = {
            let m = meta::meta_mut(&mut obj);
            m.insert("name".into(), Value::String(name.to_owned()));
            m.remove("resourceVersion");
            m.remove("managedFields")
        };
        // One write: the object is stored with the apply's managedFields entry.
        self.create_with(rt, namespace, obj, opts, managed)
    }

    /// The common end of every update: immutable metadata, status/spec isolation, generation,
    /// finalizers, validation, managed fields, storing.
    #[allow(clippy::too_many_arguments)]
    fn commit(
        &self,
        state: &mut crate::store::State,
        rt: &ResourceType,
        key: &Key,
        live: &Arc<Value>,
        mut new: Value,
        part: Part,
        opts: &WriteOptions,
        applied: Option<()>,
    ) -> Result<Written, ApiError> {
        let name = key.name.as_str();
        let now = meta::now();
        // `ValidateObjectMetaUpdate`: name, namespace and uid cannot change (a patch that tries
        // gets 422; an update's body was checked against the URL and its uid precondition).
        for field in ["name", "namespace", "uid"] {
            if let Some(given) = meta::meta_str(&new, field).filter(|v| !v.is_empty())
                && Some(given) != meta::meta_str(live, field)
            {
                return Err(ApiError::invalid(
                    &rt.qualified_kind(),
                    name,
                    vec![cause(
                        &format!("metadata.{field}"),
                        &format!("Invalid value: {given:?}: field is immutable"),
                    )],
                )
                .about(&rt.gvk.group, &rt.plural, name));
            }
        }
        // Writes to one part leave the others as they are.
        if rt.status_subresource {
            match part {
                Part::Main => match live.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(o) = new.as_object_mut() {
                            o.remove("status");
                        }
                    }
                },
                Part::Status => {
                    let status = new.get("status").cloned();
                    let managed = new.pointer("/metadata/managedFields").cloned();
                    new = (**live).clone();
                    match status {
                        Some(s) => new["status"] = s,
                        None => {
                            if let Some(o) = new.as_object_mut() {
                                o.remove("status");
                            }
                        }
                    }
                    if let Some(m) = managed {
                        meta::meta_mut(&mut new).insert("managedFields".into(), m);
                    }
                }
                Part::Scale => {}
            }
        }
        if matches!(part, Part::Main) && rt.gvk.group.is_empty() && rt.plural == "pods" {
            super::pod_update::validate(name, live, &new)?;
        }
        {
            let live_meta = live.get("metadata").cloned().unwrap_or(json!({}));
            let m = meta::meta_mut(&mut new);
            for f in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
            ] {
                match live_meta.get(f) {
                    Some(v) => m.insert(f.into(), v.clone()),
                    None => m.remove(f),
                };
            }
            m.remove("resourceVersion");
        }
        if rt.has_generation && meta::spec_changed(live, &new) {
            let g = meta::generation(live) + 1;
            meta::meta_mut(&mut new).insert("generation".into(), Value::from(g));
        }
        if meta::is_deleting(live) {
            // `ValidateNoNewFinalizers` (k8s.io/apimachinery/pkg/api/validation/objectmeta.go):
            // a Forbidden cause listing the new finalizers, sorted, as Go's `%#v` of a
            // []string prints them.
            let before = meta::finalizers(live);
            let mut added: Vec<String> = meta::finalizers(&new)
                .into_iter()
                .filter(|f| !before.contains(f))
                .collect();
            if !added.is_empty() {
                added.sort();
                added.dedup();
                let listed: Vec<String> = added.iter().map(|f| format!("{f:?}")).collect();
                return Err(ApiError::invalid(
                    &rt.qualified_kind(),
                    name,
                    vec![Cause {
                        reason: "FieldValueForbidden".into(),
                        message: format!(
                            "Forbidden: no new finalizers can be added if the object is being deleted, found new \
                             finalizers []string{{{}}}",
                            listed.join(", ")
                        ),
                        field: "metadata.finalizers".into(),
                    }],
                )
                .about(&rt.gvk.group, &rt.plural, name));
            }
        }
        let (mut new, warnings) = self.validate_and_prune(rt, new, opts)?;
        if applied.is_none() {
            let sub = match part {
                Part::Main => None,
                Part::Status => Some("status"),
                Part::Scale => Some("scale"),
            };
            new = self.with_schemas(|s| {
                patch::track_update(
                    Some(live),
                    &new,
                    &opts.field_manager,
                    &rt.gvk.api_version(),
                    sub,
                    &now,
                    s.kind(&rt.gvk),
                )
            });
        }
        if opts.dry_run {
            return Ok(Written {
                object: new,
                warnings,
                created: false,
            });
        }
        // An update that removes the last finalizer of an object being deleted deletes it (a
        // namespace also waits for its `spec.finalizers`).
        let namespace_pending = rt.gvk == crate::schema::Gvk::new("", "v1", "Namespace")
            && !meta::spec_finalizers(&new).is_empty();
        if meta::is_deleting(&new) && meta::finalizers(&new).is_empty() && !namespace_pending {
            let gone = state.remove(key).map(|v| (*v).clone()).unwrap_or(new);
            self.gc_wakeup.notify_one();
            return Ok(Written {
                object: gone,
                warnings,
                created: false,
            });
        }
        let unchanged = strip_volatile(live) == strip_volatile(&new);
        if unchanged {
            // The API server does not write (nor bump the resourceVersion) for a no-op update.
            return Ok(Written {
                object: (**live).clone(),
                warnings,
                created: false,
            });
        }
        let owners_changed =
            live.pointer("/metadata/ownerReferences") != new.pointer("/metadata/ownerReferences");
        let stored = state.put(key.clone(), new);
        if owners_changed {
            self.gc_wakeup.notify_one();
        }
        Ok(Written {
            object: (*stored).clone(),
            warnings,
            created: false,
        })
    }

    /// Sets apiVersion/kind, validates (unknown fields per `fieldValidation`), prunes custom
    /// resources.
    pub(super) fn validate_and_prune(
        &self,
        rt: &ResourceType,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<(Value, Vec<String>), ApiError> {
        obj["apiVersion"] = Value::String(rt.gvk.api_version());
        obj["kind"] = Value::String(rt.gvk.kind.clone());
        let name = meta::meta_str(&obj, "name").unwrap_or_default().to_owned();
        self.with_schemas(|s| {
            let Some(schema) = s.kind(&rt.gvk) else {
                return Err(ApiError::not_implemented(format!(
                    "{}: no schema for this kind",
                    rt.qualified()
                )));
            };
            let result = validate(&obj, schema, opts.field_validation);
            if let Some(message) = result.strict_decoding_message(&rt.gvk) {
                return Err(ApiError::bad_request(message));
            }
            if let Some(message) = result.invalid_message(&rt.gvk, &name) {
                let causes = result
                    .errors
                    .into_iter()
                    .map(|c| Cause {
                        reason: c.reason.to_owned(),
                        message: c.message,
                        field: c.field,
                    })
                    .collect();
                let mut e = ApiError::invalid(&rt.qualified_kind(), &name, causes);
                e.message = message;
                return Err(e);
            }
            // Unknown fields are dropped whatever `fieldValidation` says: custom resources are
            // pruned, built-in kinds lose them by decoding into the Go types
            // (https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation).
            prune(&mut obj, schema);
            Ok((obj, result.warnings))
        })
    }

    /// The `autoscaling/v1` Scale of an object.
    pub(super) fn scale_of(&self, rt: &ResourceType, obj: &Value) -> Value {
        let paths = rt.scale.clone().unwrap_or_else(unreachable_scale);
        let get = |p: &str| obj.pointer(&json_pointer(p)).cloned();
        let selector = paths.label_selector.as_deref().and_then(get).or_else(|| {
            // Built-in kinds: the selector string from spec.selector.matchLabels.
            obj.pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object)
                .map(|m| {
                    Value::String(
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                            .collect::<Vec<_>>()
                            .join(","),
                    )
                })
        });
        let mut status = json!({"replicas": get(&paths.status_replicas).unwrap_or(json!(0))});
        if let Some(s) = selector {
            status["selector"] = s;
        }
        json!({
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {
                "name": obj.pointer("/metadata/name"),
                "namespace": obj.pointer("/metadata/namespace"),
                "uid": obj.pointer("/metadata/uid"),
                "resourceVersion": obj.pointer("/metadata/resourceVersion"),
                "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
            },
            "spec": {"replicas": get(&paths.spec_replicas).unwrap_or(json!(0))},
            "status": status,
        })
    }

    /// Writes a Scale's `spec.replicas` into the object.
    fn scale_to_object(&self, rt: &ResourceType, live: &Value, scale: &Value) -> Result<Value, ApiError> {
        let paths = rt.scale.clone().unwrap_or_else(unreachable_scale);
        let name = meta::meta_str(live, "name").unwrap_or_default();
        // `ValidateScale`: `Scale.autoscaling "web" is invalid: spec.replicas: ...`.
        let replicas = scale
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .ok_or_else(|| {
                ApiError::invalid(
                    "Scale.autoscaling",
                    name,
                    vec![cause(
                        "spec.replicas",
                        "Required value: an integer number of replicas",
                    )],
                )
            })?;
        if replicas < 0 {
            return Err(ApiError::invalid(
                "Scale.autoscaling",
                name,
                vec![cause(
                    "spec.replicas",
                    &format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                )],
            ));
        }
        let mut obj = live.clone();
        set_pointer(
            &mut obj,
            &json_pointer(&paths.spec_replicas),
            Value::from(replicas),
        );
        if let Some(rv) = scale
            .pointer("/metadata/resourceVersion")
            .filter(|v| !v.is_null())
        {
            meta::meta_mut(&mut obj).insert("resourceVersion".into(), rv.clone());
        }
        Ok(obj)
    }
}

fn unreachable_scale() -> crate::registry::ScalePaths {
    crate::registry::ScalePaths {
        spec_replicas: ".spec.replicas".into(),
        status_replicas: ".status.replicas".into(),
        label_selector: None,
    }
}

/// `.spec.replicas` → `/spec/replicas`.
pub(crate) fn json_pointer(path: &str) -> String {
    path.trim_start_matches('.')
        .split('.')
        .fold(String::new(), |acc, p| format!("{acc}/{p}"))
}

fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            if let Some(o) = cur.as_object_mut() {
                o.insert((*p).to_owned(), value);
            }
            return;
        }
        if !cur.get(*p).is_some_and(Value::is_object) {
            cur[*p] = json!({});
        }
        cur = &mut cur[*p];
    }
}

/// The object without what changes on every write (resourceVersion, managedFields times), to
/// tell a no-op write.
fn strip_volatile(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        if let Some(entries) = m.get_mut("managedFields").and_then(Value::as_array_mut) {
            for e in entries {
                if let Some(e) = e.as_object_mut() {
                    e.remove("time");
                }
            }
        }
    }
    v
}

/// The name (and namespace, when given) in an update's body must be those of the URL
/// (`checkName` of k8s.io/apiserver/pkg/endpoints/handlers).
fn check_name(body: &Value, name: &str, namespace: Option<&str>) -> Result<(), ApiError> {
    let given = meta::meta_str(body, "name").unwrap_or("");
    if given != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    if let (Some(given), Some(ns)) = (
        meta::meta_str(body, "namespace").filter(|n| !n.is_empty()),
        namespace,
    ) && given != ns
    {
        return Err(ApiError::bad_request(format!(
            "the namespace of the object ({given}) does not match the namespace on the URL ({ns})"
        )));
    }
    Ok(())
}

fn cause(field: &str, message: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid".into(),
        message: message.into(),
        field: field.into(),
    }
}
