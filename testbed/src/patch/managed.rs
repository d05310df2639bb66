//! `metadata.managedFields`: decoding, identities and deterministic encoding, after
//! `k8s.io/apimachinery/pkg/util/managedfields/internal/managedfields.go`.
//!
//! An entry's identity is its manager, operation and subresource, plus the API version for
//! `Update` entries (an applier keeps one entry whatever version it applies with).

use serde_json::{Map, Value};

use super::fields::FieldSet;

/// `Apply` or `Update`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Operation {
    /// Server-side apply.
    Apply,
    /// Any other write.
    Update,
}

impl Operation {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Apply => "Apply",
            Self::Update => "Update",
        }
    }
}

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) manager: String,
    pub(crate) operation: Operation,
    pub(crate) api_version: String,
    pub(crate) time: Option<String>,
    pub(crate) subresource: Option<String>,
    pub(crate) set: FieldSet,
}

impl Entry {
    /// Whether `self` is the entry of this manager, operation, version and subresource.
    pub(crate) fn is(
        &self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: Option<&str>,
    ) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
            && (operation == Operation::Apply || self.api_version == api_version)
    }

    fn same_identity(&self, other: &Entry) -> bool {
        other.is(
            &self.manager,
            self.operation,
            &self.api_version,
            self.subresource.as_deref(),
        )
    }

    fn encode(&self) -> Value {
        let mut m = Map::new();
        if !self.manager.is_empty() {
            m.insert("manager".to_owned(), Value::from(self.manager.as_str()));
        }
        m.insert("operation".to_owned(), Value::from(self.operation.as_str()));
        m.insert("apiVersion".to_owned(), Value::from(self.api_version.as_str()));
        if let Some(t) = &self.time {
            m.insert("time".to_owned(), Value::from(t.as_str()));
        }
        m.insert("fieldsType".to_owned(), Value::from("FieldsV1"));
        m.insert("fieldsV1".to_owned(), self.set.to_fields_v1());
        if let Some(s) = &self.subresource {
            m.insert("subresource".to_owned(), Value::from(s.as_str()));
        }
        Value::Object(m)
    }

    fn decode(i: usize, v: &Value) -> Result<Entry, String> {
        let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let operation = match text("operation").as_str() {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return Err("operation must be `Apply` or `Update`".to_owned()),
        };
        let api_version = text("apiVersion");
        if api_version.is_empty() {
            return Err("apiVersion must not be empty".to_owned());
        }
        match text("fieldsType").as_str() {
            "FieldsV1" => {}
            "" => return Err(format!("missing fieldsType in managed fields entry {i}")),
            other => {
                return Err(format!(
                    "invalid fieldsType {other:?} in managed fields entry {i}"
                ));
            }
        }
        let set = match v.get("fieldsV1") {
            None | Some(Value::Null) => FieldSet::default(),
            Some(f) => FieldSet::from_fields_v1(f)
                .map_err(|e| format!("error decoding set of managed fields entry {i}: {e}"))?,
        };
        let subresource = Some(text("subresource")).filter(|s| !s.is_empty());
        let time = v.get("time").and_then(Value::as_str).map(str::to_owned);
        Ok(Entry {
            manager: text("manager"),
            operation,
            api_version,
            time,
            subresource,
            set,
        })
    }
}

/// All entries of an object.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Managed {
    pub(crate) entries: Vec<Entry>,
}

impl Managed {
    /// Decodes `metadata.managedFields` (absent or null is empty). A later entry with the same
    /// identity replaces an earlier one, as upstream's map does.
    pub(crate) fn decode(v: Option<&Value>) -> Result<Managed, String> {
        let items = match v {
            None | Some(Value::Null) => return Ok(Managed::default()),
            Some(Value::Array(a)) => a,
            Some(other) => return Err(format!("managedFields must be a list, found {other}")),
        };
        let mut out = Managed::default();
        for (i, item) in items.iter().enumerate() {
            let entry = Entry::decode(i, item)?;
            out.entries.retain(|e| !e.same_identity(&entry));
            out.entries.push(entry);
        }
        Ok(out)
    }

    /// Removes and returns the entry with this identity.
    pub(crate) fn take(
        &mut self,
        manager: &str,
        operation: Operation,
        api_version: &str,
        subresource: Option<&str>,
    ) -> Option<Entry> {
        let i = self
            .entries
            .iter()
            .position(|e| e.is(manager, operation, api_version, subresource))?;
        Some(self.entries.remove(i))
    }

    /// The entries in upstream's order (operation, time, manager, API version, subresource),
    /// without empty sets; `None` when there are none (the field is then omitted).
    pub(crate) fn encode(mut self) -> Option<Value> {
        self.entries.retain(|e| !e.set.is_empty());
        if self.entries.is_empty() {
            return None;
        }
        let seconds = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .map(|t| t.as_second())
                .unwrap_or(0)
        };
        self.entries.sort_by(|p, q| {
            (
                p.operation.as_str(),
                seconds(&p.time),
                &p.manager,
                &p.api_version,
                &p.subresource,
            )
                .cmp(&(
                    q.operation.as_str(),
                    seconds(&q.time),
                    &q.manager,
                    &q.api_version,
                    &q.subresource,
                ))
        });
        Some(Value::Array(self.entries.iter().map(Entry::encode).collect()))
    }
}

/// `metadata.managedFields` of an object.
pub(crate) fn managed_fields(obj: &Value) -> Option<&Value> {
    obj.get("metadata").and_then(|m| m.get("managedFields"))
}

/// An object without `metadata.managedFields`.
pub(crate) fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(Value::Object(m)) = out.get_mut("metadata") {
        m.remove("managedFields");
    }
    out
}

/// Stores the entries in `metadata.managedFields` (removed when there are none).
pub(crate) fn set_managed_fields(obj: &mut Value, managed: Managed) {
    let Some(o) = obj.as_object_mut() else { return };
    match managed.encode() {
        Some(list) => {
            if let Value::Object(m) = o.entry("metadata").or_insert_with(|| Value::Object(Map::new())) {
                m.insert("managedFields".to_owned(), list);
            }
        }
        None => {
            if let Some(Value::Object(m)) = o.get_mut("metadata") {
                m.remove("managedFields");
            }
        }
    }
}

/// Whether a request's managedFields ask to reset tracking: an empty list, or one empty entry.
pub(crate) fn is_reset(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Array(a)) => {
            a.is_empty() || (a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn round_trips_and_sorts() {
        let mf = json!([
            {"manager": "b", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:02Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:x": {}}}},
            {"manager": "z", "operation": "Apply", "apiVersion": "v1", "time": "2024-01-01T00:00:09Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:y": {}}}},
            {"manager": "a", "operation": "Update", "apiVersion": "v1", "time": "2024-01-01T00:00:02Z",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:z": {}}}, "subresource": "status"},
        ]);
        let managed = Managed::decode(Some(&mf)).expect("decodes");
        let encoded = managed.encode().expect("entries");
        let order: Vec<&str> = encoded
            .as_array()
            .expect("list")
            .iter()
            .map(|e| e["manager"].as_str().expect("manager"))
            .collect();
        assert_eq!(order, vec!["z", "a", "b"]);
        assert_eq!(encoded[1]["subresource"], "status");
    }

    #[test]
    fn rejects_bad_entries_and_spots_resets() {
        let bad =
            json!([{"manager": "a", "operation": "Patch", "apiVersion": "v1", "fieldsType": "FieldsV1"}]);
        assert!(Managed::decode(Some(&bad)).expect_err("bad op").contains("Apply"));
        let no_type = json!([{"manager": "a", "operation": "Update", "apiVersion": "v1"}]);
        assert!(
            Managed::decode(Some(&no_type))
                .expect_err("no type")
                .contains("fieldsType")
        );
        assert!(is_reset(Some(&json!([]))) && is_reset(Some(&json!([{}]))));
        assert!(!is_reset(None) && !is_reset(Some(&mf_one())));
    }

    fn mf_one() -> Value {
        json!([{"manager": "a", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": {}}])
    }
}
