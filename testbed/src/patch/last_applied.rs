//! Server-side apply by `kubectl` on objects managed by client-side apply, after
//! `lastappliedmanager.go` and `lastappliedupdater.go` in
//! `k8s.io/apimachinery/pkg/util/managedfields/internal`
//! (<https://kubernetes.io/docs/reference/using-api/server-side-apply/#upgrading-from-client-side-apply-to-server-side-apply>).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::fields::{canonical, display_path};
use super::shape::Shape;
use super::typed::{compare, to_field_set};

/// The annotation `kubectl apply` (client side) keeps the applied configuration in.
pub(crate) const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn annotation(obj: &Value) -> Option<&str> {
    obj.get("metadata")?
        .get("annotations")?
        .get(LAST_APPLIED)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// The fields (as conflict paths) `kubectl` may take over without a conflict: those of the
/// live object's client-side apply annotation whose values are still the live ones. `None`
/// when there is no usable annotation.
pub(crate) fn allowed_conflicts(
    live: Option<&Value>,
    api_version: &str,
    shape: Shape<'_>,
) -> Option<HashSet<String>> {
    let live = live?;
    let last: Value = serde_json::from_str(annotation(live)?).ok()?;
    if last.get("apiVersion").and_then(Value::as_str) != Some(api_version) {
        return None;
    }
    let mut live_body = live.clone();
    if let Some(Value::Object(meta)) = live_body.get_mut("metadata") {
        meta.remove("managedFields");
    }
    let cmp = compare(&last, &live_body, shape).ok()?;
    let set = to_field_set(&last, shape).ok()?;
    let allowed = set
        .difference(&cmp.modified)
        .difference(&cmp.added)
        .difference(&cmp.removed);
    Some(allowed.paths().iter().map(|p| display_path(p)).collect())
}

/// After a server-side apply by `kubectl`, an existing client-side apply annotation is set to
/// the applied configuration, so a later client-side apply starts from it.
pub(crate) fn refresh_last_applied(result: &mut Value, live: Option<&Value>, applied: &Value) {
    if live.and_then(annotation).is_none() {
        return;
    }
    let mut config = applied.clone();
    if let Some(Value::Object(annotations)) =
        config.get_mut("metadata").and_then(|m| m.get_mut("annotations"))
    {
        annotations.remove(LAST_APPLIED);
    }
    // Go's json.Encoder: sorted keys, HTML-safe escapes, a trailing newline.
    let text = format!("{}\n", canonical(&config));
    if let Some(meta) = result.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(a) = annotations {
            a.insert(LAST_APPLIED.to_owned(), Value::String(text));
        }
    }
}
