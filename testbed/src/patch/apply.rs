//! Server-side apply and field ownership tracking
//! (<https://kubernetes.io/docs/reference/using-api/server-side-apply/>), after
//! `sigs.k8s.io/structured-merge-diff/merge/update.go` and the API server's field manager
//! (`k8s.io/apimachinery/pkg/util/managedfields/internal`).

use serde_json::{Map, Value};

use super::fields::{FieldSet, PathElement, display_path};
use super::last_applied::{allowed_conflicts, refresh_last_applied};
use super::managed::{Entry, Managed, Operation, managed_fields, set_managed_fields, without_managed_fields};
use super::shape::Shape;
use super::track::track_update;
use super::typed::{compare, ensure_named, to_field_set};
use super::typed_merge::{drop_applied_nulls, merge, remove};
use super::{ApplyError, Conflict};
use crate::schema::Node;

/// Metadata fields no manager ever owns and apply never changes
/// (upstream's `stripMetaManager` list, plus `deletionTimestamp`).
const UNTRACKED_METADATA: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "managedFields",
    "selfLink",
    "clusterName",
];

/// `apiVersion`, `kind`, `metadata` itself and [`UNTRACKED_METADATA`].
pub(crate) fn untracked() -> FieldSet {
    let f = |s: &str| PathElement::Field(s.to_owned());
    let mut set = FieldSet::default();
    set.insert(&[f("apiVersion")]);
    set.insert(&[f("kind")]);
    set.insert(&[f("metadata")]);
    for name in UNTRACKED_METADATA {
        set.insert(&[f("metadata"), f(name)]);
    }
    set
}

fn str_at<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// Server-side apply of `applied` (the configuration `manager` now wants to own) to `live`
/// (`None` creates). Returns the new object with `metadata.managedFields` updated.
///
/// * The applied configuration's fields become `manager`'s `Apply` entry (for this
///   subresource); maps merge recursively, list-maps by key, sets as a union, anything atomic
///   is replaced.
/// * Fields owned by another manager (`Apply` or `Update`) that the result changes are
///   conflicts; with `force` they move to `manager`. Equal values are shared.
/// * Fields `manager` applied last time, omits now and nobody else owns are removed
///   (including list-map and set items); an empty configuration releases everything.
/// * `apiVersion`, `kind` and `metadata.name/namespace/uid/resourceVersion/generation/
///   creationTimestamp/deletionTimestamp/managedFields/selfLink` are never owned or changed.
/// * `subresource`: `None` applies to the main resource and ignores `status` (kinds with a
///   status subresource); `Some("status")` applies `status` only.
///
/// # Errors
/// [`ApplyError::Conflicts`] (409) unless `force`; [`ApplyError::BadRequest`] for a wrong
/// `apiVersion` or `kind`, or a configuration carrying `metadata.managedFields`;
/// [`ApplyError::Internal`] when the objects do not fit the schema (e.g. duplicate list-map
/// keys); [`ApplyError::Unsupported`] for subresources other than `status`.
#[allow(clippy::too_many_arguments)]
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    api_version: &str,
    subresource: Option<&str>,
    force: bool,
    schema: Option<Node<'_>>,
    now: &str,
) -> Result<Value, ApplyError> {
    let request = Request {
        applied,
        manager,
        api_version,
        subresource,
        schema,
        now,
    };
    let mut result = match request.apply_once(live, force) {
        // `kubectl` may take over, without conflict, the fields its client-side apply
        // annotation still describes (upgrading from client-side to server-side apply).
        Err(ApplyError::Conflicts(found)) if manager == "kubectl" => {
            match allowed_conflicts(live, api_version, Shape::root(schema)) {
                Some(allowed) => {
                    let rest: Vec<Conflict> = found
                        .into_iter()
                        .filter(|c| !allowed.contains(&c.field))
                        .collect();
                    if rest.is_empty() {
                        request.apply_once(live, true)
                    } else {
                        Err(ApplyError::Conflicts(rest))
                    }
                }
                None => Err(ApplyError::Conflicts(found)),
            }
        }
        other => other,
    }?;
    if manager == "kubectl" {
        refresh_last_applied(&mut result, live, applied);
    }
    Ok(result)
}

/// One apply request.
struct Request<'r, 's> {
    applied: &'r Value,
    manager: &'r str,
    api_version: &'r str,
    subresource: Option<&'r str>,
    schema: Option<Node<'s>>,
    now: &'r str,
}

impl Request<'_, '_> {
    fn apply_once(&self, live: Option<&Value>, force: bool) -> Result<Value, ApplyError> {
        let Request {
            applied,
            manager,
            api_version,
            subresource,
            schema,
            now,
        } = *self;
        let status_only = match subresource {
            None | Some("") => false,
            Some("status") => true,
            Some(other) => {
                return Err(ApplyError::Unsupported(format!(
                    "server-side apply to the {other:?} subresource is not implemented by the test API server"
                )));
            }
        };
        check_applied(live, applied, api_version)?;
        let shape = Shape::root(schema);
        let internal = |e: String| ApplyError::Internal(e);
        let mut managed = Managed::decode(live.and_then(managed_fields))
            .map_err(|e| internal(format!("failed to decode managed fields: {e}")))?;
        let live_body = live
            .map(without_managed_fields)
            .unwrap_or_else(|| Value::Object(Map::new()));
        if live.is_some() && managed.entries.is_empty() {
            // An object nobody tracked yet: its fields belong to "before-first-apply".
            let seeded = track_update(
                None,
                &live_body,
                "before-first-apply",
                api_version,
                subresource,
                now,
                schema,
            );
            managed = Managed::decode(managed_fields(&seeded)).unwrap_or_default();
        }

        // The part of the configuration this request may set.
        let mut config = applied.clone();
        if let Value::Object(m) = &mut config {
            if status_only {
                m.retain(|k, _| k == "status");
            } else {
                m.remove("status");
            }
        }
        let applied_set = to_field_set(&config, shape)
            .map_err(|e| internal(format!("failed to create typed patch object: {e}")))?;
        let mut merged = if status_only {
            let mut out = live_body.clone();
            let status = merge(
                live_body.get("status"),
                config.get("status"),
                shape.field("status"),
            )
            .map_err(internal)?;
            if let (Value::Object(o), Some(s)) = (&mut out, status) {
                o.insert("status".to_owned(), s);
            }
            out
        } else {
            let mut out = merge(Some(&live_body), Some(&config), shape)
                .map_err(internal)?
                .unwrap_or_default();
            keep_untracked_metadata(&mut out, live.map(|_| &live_body));
            out
        };

        // Prune what this manager applied last time and nobody claims any more.
        let last = managed.take(
            manager,
            Operation::Apply,
            api_version,
            subresource.filter(|s| !s.is_empty()),
        );
        if let Some(last) = last.as_ref().filter(|e| !e.set.is_empty()) {
            let mut owned = applied_set.clone();
            for e in &managed.entries {
                owned.union(&e.set);
            }
            let gone = ensure_named(&last.set, shape)
                .difference(&ensure_named(&owned, shape))
                .difference(&untracked());
            merged = remove(&merged, &gone, shape);
        }

        let cmp = compare(&live_body, &merged, shape).map_err(internal)?;
        let mut changed = cmp.modified.clone();
        changed.union(&cmp.added);
        let mut conflicts = Vec::new();
        for e in &managed.entries {
            for path in e.set.intersection(&changed).paths() {
                conflicts.push(Conflict {
                    manager: e.manager.clone(),
                    operation: e.operation.as_str().to_owned(),
                    api_version: e.api_version.clone(),
                    subresource: e.subresource.clone(),
                    field: display_path(&path),
                });
            }
        }
        if !force && !conflicts.is_empty() {
            conflicts.sort_by(|a, b| {
                (&a.manager, &a.operation, &a.api_version, &a.subresource).cmp(&(
                    &b.manager,
                    &b.operation,
                    &b.api_version,
                    &b.subresource,
                ))
            });
            return Err(ApplyError::Conflicts(conflicts));
        }
        for e in &mut managed.entries {
            e.set = e.set.difference(&changed).difference(&cmp.removed);
        }

        // The entry's time moves only when the object changed (upstream keeps it on a no-op).
        let unchanged = merged == live_body;
        let time = if unchanged {
            last.and_then(|e| e.time)
        } else {
            Some(now.to_owned())
        };
        managed.entries.push(Entry {
            manager: manager.to_owned(),
            operation: Operation::Apply,
            api_version: api_version.to_owned(),
            time,
            subresource: subresource.filter(|s| !s.is_empty()).map(str::to_owned),
            set: applied_set.difference(&untracked()),
        });
        let mut result = if unchanged { live_body } else { merged };
        drop_applied_nulls(&mut result, &config);
        set_managed_fields(&mut result, managed);
        Ok(result)
    }
}

fn check_applied(live: Option<&Value>, applied: &Value, api_version: &str) -> Result<(), ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::BadRequest(format!(
            "the applied configuration must be an object, not {applied}"
        )));
    }
    let version = str_at(applied, "apiVersion");
    if version != api_version {
        return Err(ApplyError::BadRequest(format!(
            "Incorrect version specified in apply patch. Specified patch version: {version}, expected: {api_version}"
        )));
    }
    let kind = str_at(applied, "kind");
    if kind.is_empty() || live.is_some_and(|l| str_at(l, "kind") != kind) {
        return Err(ApplyError::BadRequest(format!(
            "invalid object type: {version}, Kind={kind}"
        )));
    }
    if managed_fields(applied).is_some_and(|m| !m.is_null()) {
        return Err(ApplyError::BadRequest(
            "metadata.managedFields must be nil".to_owned(),
        ));
    }
    Ok(())
}

/// Restores the untracked metadata fields of `live` in `out` (on create, keeps only the name
/// and namespace the configuration gives: the caller assigns the rest).
fn keep_untracked_metadata(out: &mut Value, live: Option<&Value>) {
    let Some(Value::Object(meta)) = out.get_mut("metadata") else {
        return;
    };
    for name in UNTRACKED_METADATA {
        match live {
            Some(l) => match l.get("metadata").and_then(|m| m.get(name)) {
                Some(v) => meta.insert(name.to_owned(), v.clone()),
                None => meta.remove(name),
            },
            None if name == "name" || name == "namespace" => None,
            None => meta.remove(name),
        };
    }
}
