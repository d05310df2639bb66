//! Label and field selectors, as `?labelSelector=` and `?fieldSelector=` take them.
//! See https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
//! and https://kubernetes.io/docs/concepts/overview/working-with-objects/field-selectors/.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelRequirement {
    /// `key=value`, `key==value`
    Equals(String, String),
    /// `key!=value` (also true when the label is absent)
    NotEquals(String, String),
    /// `key in (a,b)`
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the label is absent)
    NotIn(String, Vec<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
}

/// A parsed label selector (requirements ANDed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<LabelRequirement>);

impl LabelSelector {
    /// Parses the string form.
    ///
    /// # Errors
    /// A message naming the part that does not parse.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            reqs.push(parse_requirement(part)?);
        }
        Ok(Self(reqs))
    }

    /// Whether an object's `metadata.labels` satisfy every requirement.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelRequirement::Equals(k, v) => get(k) == Some(v.as_str()),
            LabelRequirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            LabelRequirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelRequirement::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelRequirement::Exists(k) => get(k).is_some(),
            LabelRequirement::DoesNotExist(k) => get(k).is_none(),
        })
    }
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<LabelRequirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(LabelRequirement::DoesNotExist(key.trim().to_owned()));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(LabelRequirement::NotEquals(
            k.trim().to_owned(),
            v.trim().to_owned(),
        ));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(LabelRequirement::Equals(k.trim().to_owned(), v.trim().to_owned()));
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words[..] {
        let rest = rest.trim();
        let (op, values) = if let Some(v) = rest.strip_prefix("notin") {
            ("notin", v)
        } else if let Some(v) = rest.strip_prefix("in") {
            ("in", v)
        } else {
            return Err(format!("unable to parse requirement: {part:?}"));
        };
        let values = values.trim();
        let inner = values
            .strip_prefix('(')
            .and_then(|v| v.strip_suffix(')'))
            .ok_or_else(|| format!("unable to parse requirement: {part:?}: expected (values)"))?;
        let list: Vec<String> = inner
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        return Ok(if op == "in" {
            LabelRequirement::In(key.to_owned(), list)
        } else {
            LabelRequirement::NotIn(key.to_owned(), list)
        });
    }
    if part
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    {
        return Ok(LabelRequirement::Exists(part.to_owned()));
    }
    Err(format!("unable to parse requirement: {part:?}"))
}

/// A parsed field selector: (`field path`, equal?, value) terms, ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<(String, bool, String)>);

/// Fields every kind supports in field selectors.
const COMMON_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

impl FieldSelector {
    /// Parses the string form; `supported` are the kind's extra selectable fields.
    ///
    /// # Errors
    /// When a term does not parse or names a field the kind does not support (the API server
    /// answers 400 "field label not supported").
    pub fn parse(s: &str, supported: &[&str]) -> Result<Self, String> {
        let mut terms = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (f, true, v)
            } else {
                return Err(format!("invalid selector: {part:?}; expected field=value"));
            };
            let field = field.trim();
            if !COMMON_FIELDS.contains(&field) && !supported.contains(&field) {
                return Err(format!("field label not supported: {field}"));
            }
            terms.push((field.to_owned(), eq, value.trim().to_owned()));
        }
        Ok(Self(terms))
    }

    /// Whether `obj` satisfies every term.
    #[must_use]
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, value)| {
            // (core/v1 Events select `source` by its component.)
            let pointer = match field.as_str() {
                "source" => "/source/component".to_owned(),
                _ => format!("/{}", field.replace('.', "/")),
            };
            let actual = match obj.pointer(&pointer) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *eq
        })
    }
}

/// Extra field-selector fields of built-in kinds (pods: `spec.nodeName`, `status.phase`, ...).
#[must_use]
pub fn selectable_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
        ],
        // (k8s.io/kubernetes/pkg/apis/core/v1/conversion.go, the Event field label conversion:
        // what `kubectl events` and `kubectl describe` send.)
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "type",
            "source",
        ],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Secret") => &["type"],
        ("", "Namespace") => &["status.phase"],
        ("batch", "Job") => &["status.successful"],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn label_selectors_follow_the_documented_grammar() {
        let obj = json!({"metadata": {"labels": {"app": "web", "tier": "front"}}});
        let m = |s: &str| LabelSelector::parse(s).expect("parses").matches(&obj);
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("env!=prod"), "!= is true when the label is absent");
        assert!(m("tier in (front, back)"));
        assert!(!m("tier notin (front)"));
        assert!(m("env notin (prod)"));
        assert!(m("!env"));
        assert!(!m("!app"));
        assert!(m(""));
        assert!(LabelSelector::parse("app in front").is_err());
    }

    #[test]
    fn field_selectors_support_name_and_namespace_and_refuse_others() {
        let obj = json!({"metadata": {"name": "a", "namespace": "ns"}, "status": {"phase": "Running"}});
        let f = FieldSelector::parse("metadata.name=a,metadata.namespace!=x", &[]).expect("parses");
        assert!(f.matches(&obj));
        assert!(
            !FieldSelector::parse("metadata.name=b", &[])
                .expect("parses")
                .matches(&obj)
        );
        assert!(FieldSelector::parse("status.phase=Running", &[]).is_err());
        let pods = selectable_fields("", "Pod");
        assert!(
            FieldSelector::parse("status.phase=Running", pods)
                .expect("pods")
                .matches(&obj)
        );
    }
}
