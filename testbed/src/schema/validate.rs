//! Field validation of objects sent to the double, with the API server's messages.
//!
//! What the API server does with a create, update or patch body, and what this module
//! reproduces:
//!
//! * Unknown fields are dropped (for custom resources by pruning, for built-in kinds by decoding
//!   into the Go types, see [`super::prune`]). What happens then depends on the `fieldValidation`
//!   query parameter (<https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation>):
//!   `Ignore` drops them silently, `Warn` (the default when the parameter is absent) adds one
//!   `Warning: 299 - "unknown field \"spec.foo\""` response header per field, and `Strict` fails
//!   the request with 400 BadRequest: `<Kind> in version "<v>" cannot be handled as a <Kind>:
//!   strict decoding error: unknown field "spec.foo", unknown field "spec.bar"`, before any other
//!   validation. [`Validation::strict`] and [`Validation::warnings`] carry these.
//! * The rest is checked against the schema ([`Validation::errors`], answered with 422 Invalid:
//!   `<Kind>.<group> "<name>" is invalid: [<field>: <message>, …]`, see
//!   [`Validation::invalid_message`]). The checks and messages are those of the custom resource
//!   validation (`k8s.io/kube-openapi/pkg/validation`, translated to field errors by
//!   `apiextensions-apiserver/pkg/apiserver/validation.kubeOpenAPIResultToFieldErrors`):
//!   - `type` (a JSON integer is a `number`; a JSON number with an integral value is an
//!     `integer`; `x-kubernetes-int-or-string` means `integer,string`; the upstream
//!     `IntOrString`/`Quantity` definitions are `oneOf` their types):
//!     `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`;
//!     a `format` the value's kind does not match is reported like kube-openapi does
//!     (`must be of type int32: "float64"`); for built-in kinds an integer outside the `int32`
//!     range of a `format: int32` field is an error too;
//!   - `enum`: `Unsupported value: "x": supported values: "a", "b"` (for built-in kinds the
//!     `apiVersion`/`kind` enums that kubernetes-validate adds to each kind are not checked: the
//!     URL decides those);
//!   - `required` (`spec.selector: Required value`; a `null` counts as missing; the root's
//!     `apiVersion` and `kind` are left to the HTTP layer, which knows the URL);
//!   - custom resources only: `minimum`/`maximum` (with `exclusiveMinimum`/`exclusiveMaximum`),
//!     `multipleOf`, `minLength`/`maxLength` (in characters), `pattern`, `minItems`/`maxItems`,
//!     `uniqueItems`, `minProperties`/`maxProperties`, and `x-kubernetes-list-type` `set`/`map`
//!     uniqueness (`spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}`);
//!   - built-in kinds: duplicate names in `containers`, `initContainers`, `ephemeralContainers`
//!     and `volumes` (`spec.containers[1].name: Duplicate value: "a"`), which the Go validation
//!     rejects; the other built-in list-maps (`env`, `ports`, …) accept duplicates as the real
//!     server does;
//!   - `metadata` is `ObjectMeta` (for custom resources too): `metadata.name: Required value:
//!     name or generateName is required` when both are missing or empty.
//!
//! Not reproduced: `allOf`/`anyOf`/`oneOf`/`not` beyond type-only alternatives, string
//! `format`s, CEL rules (`x-kubernetes-validations`), name and label syntax, and the Go
//! validation of built-in kinds beyond the above. For built-in kinds the real server reports a
//! wrong type as a 400 decoding error (`json: cannot unmarshal string into Go struct field …`)
//! rather than a field error; the double reports it as a [`Cause`] with the custom resource
//! message.

use std::fmt;

use serde_json::{Map, Value, json};

use super::{
    Gvk, Node,
    prune::{self, Flavor, child_path, index_path, object_meta},
};

/// `FieldValueInvalid`: "Invalid value".
pub const FIELD_VALUE_INVALID: &str = "FieldValueInvalid";
/// `FieldValueRequired`: "Required value".
pub const FIELD_VALUE_REQUIRED: &str = "FieldValueRequired";
/// `FieldValueNotSupported`: "Unsupported value" (enums).
pub const FIELD_VALUE_NOT_SUPPORTED: &str = "FieldValueNotSupported";
/// `FieldValueTypeInvalid`: "Invalid value" (wrong JSON type).
pub const FIELD_VALUE_TYPE_INVALID: &str = "FieldValueTypeInvalid";
/// `FieldValueDuplicate`: "Duplicate value".
pub const FIELD_VALUE_DUPLICATE: &str = "FieldValueDuplicate";
/// `FieldValueTooLong`: "Too long" (`maxLength`).
pub const FIELD_VALUE_TOO_LONG: &str = "FieldValueTooLong";
/// `FieldValueTooMany`: "Too many" (`maxItems`, `maxProperties`).
pub const FIELD_VALUE_TOO_MANY: &str = "FieldValueTooMany";

/// The `fieldValidation` query parameter of POST, PUT and PATCH.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop unknown fields silently.
    Ignore,
    /// Drop unknown fields and warn about each (the API server's default when the parameter is
    /// absent: <https://kubernetes.io/docs/reference/using-api/api-concepts/#field-validation>).
    #[default]
    Warn,
    /// Fail the request (400) when there are unknown fields.
    Strict,
}

impl FieldValidation {
    /// Parses the query parameter: `None` or `""` is [`FieldValidation::Warn`].
    ///
    /// # Errors
    /// Any other value than `Ignore`, `Warn` and `Strict`, as the API server's
    /// `ValidateFieldValidation` reports it (the server answers 422 Invalid for
    /// `CreateOptions.meta.k8s.io` (or `UpdateOptions`/`PatchOptions`) `""` with this cause).
    pub fn from_query(value: Option<&str>) -> Result<Self, Cause> {
        match value.unwrap_or("") {
            "" | "Warn" => Ok(Self::Warn),
            "Ignore" => Ok(Self::Ignore),
            "Strict" => Ok(Self::Strict),
            other => Err(Cause::new(
                "fieldValidation",
                FIELD_VALUE_NOT_SUPPORTED,
                Some(&Value::String(other.to_owned())),
                r#"supported values: "", "Ignore", "Strict", "Warn""#,
            )),
        }
    }

    /// The query parameter value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ignore => "Ignore",
            Self::Warn => "Warn",
            Self::Strict => "Strict",
        }
    }
}

/// One field error, as in a `Status`'s `details.causes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Field path, e.g. `spec.replicas`.
    pub field: String,
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`,
    /// `FieldValueTypeInvalid`, `FieldValueDuplicate`, `FieldValueTooLong` or `FieldValueTooMany`.
    pub reason: &'static str,
    /// The message without the field, e.g. `Invalid value: "string": spec.replicas in body must
    /// be of type integer: "string"` (`field.Error.ErrorBody()`).
    pub message: String,
}

impl Cause {
    /// A cause with `field.Error.ErrorBody()`'s message for `reason`, `bad_value` and `detail`.
    #[must_use]
    pub fn new(field: &str, reason: &'static str, bad_value: Option<&Value>, detail: &str) -> Self {
        let label = match reason {
            FIELD_VALUE_REQUIRED => "Required value",
            FIELD_VALUE_NOT_SUPPORTED => "Unsupported value",
            FIELD_VALUE_DUPLICATE => "Duplicate value",
            FIELD_VALUE_TOO_LONG => "Too long",
            FIELD_VALUE_TOO_MANY => "Too many",
            _ => "Invalid value",
        };
        let mut message = label.to_owned();
        // Required and TooLong never print the value (`ErrorBody`).
        if !matches!(reason, FIELD_VALUE_REQUIRED | FIELD_VALUE_TOO_LONG) {
            let value = bad_value.map_or_else(|| "\"\"".to_owned(), go_value);
            message = format!("{message}: {value}");
        }
        if !detail.is_empty() {
            message = format!("{message}: {detail}");
        }
        Self {
            field: field.to_owned(),
            reason,
            message,
        }
    }

    /// The cause as a `Status` `details.causes` entry.
    #[must_use]
    pub fn to_status_cause(&self) -> Value {
        json!({"reason": self.reason, "message": self.message, "field": self.field})
    }
}

impl fmt::Display for Cause {
    /// `field: message`, e.g. `spec.replicas: Invalid value: "string": spec.replicas in body
    /// must be of type integer: "string"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validation {
    /// Schema violations: the request fails with 422 Invalid (see [`Validation::invalid_message`]).
    pub errors: Vec<Cause>,
    /// [`FieldValidation::Strict`] only: `unknown field "spec.foo"` for each unknown field. The
    /// request fails with 400 BadRequest before any other validation (see
    /// [`Validation::strict_decoding_message`]).
    pub strict: Vec<String>,
    /// [`FieldValidation::Warn`] only: `unknown field "spec.foo"` for each unknown field, one
    /// `Warning: 299 - "<text>"` response header each (kubectl prints `Warning: <text>`).
    pub warnings: Vec<String>,
}

impl Validation {
    /// Whether the request may proceed (warnings aside).
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty() && self.strict.is_empty()
    }

    /// The 400 BadRequest message for [`Validation::strict`]:
    /// `ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error:
    /// unknown field "foo"`.
    #[must_use]
    pub fn strict_decoding_message(&self, gvk: &Gvk) -> Option<String> {
        (!self.strict.is_empty()).then(|| {
            format!(
                "{kind} in version \"{version}\" cannot be handled as a {kind}: strict decoding error: {}",
                self.strict.join(", "),
                kind = gvk.kind,
                version = gvk.version,
            )
        })
    }

    /// The 422 Invalid message for [`Validation::errors`] (`errors.NewInvalid`):
    /// `Deployment.apps "web" is invalid: spec.selector: Required value`, or with several
    /// causes `... is invalid: [cause, cause]`.
    #[must_use]
    pub fn invalid_message(&self, gvk: &Gvk, name: &str) -> Option<String> {
        if self.errors.is_empty() {
            return None;
        }
        let qualified = if gvk.group.is_empty() {
            gvk.kind.clone()
        } else {
            format!("{}.{}", gvk.kind, gvk.group)
        };
        let mut messages: Vec<String> = Vec::new();
        for cause in &self.errors {
            let m = cause.to_string();
            if !messages.contains(&m) {
                messages.push(m);
            }
        }
        let aggregate = if messages.len() == 1 {
            messages.remove(0)
        } else {
            format!("[{}]", messages.join(", "))
        };
        Some(format!("{qualified} {} is invalid: {aggregate}", go_quote(name)))
    }
}

/// The value of a `Warning` response header carrying `text`, as the API server writes it
/// (`299 - "unknown field \"spec.foo\""`); kubectl prints `Warning: <text>`.
#[must_use]
pub fn warning_header_value(text: &str) -> String {
    format!("299 - {}", go_quote(text))
}

/// Validates `obj` (a create/update body, or a patch result) against the schema of its kind.
///
/// Built-in kinds (upstream definitions, recognised by `x-kubernetes-group-version-kind`) and
/// custom resources (a CRD's `openAPIV3Schema` added with `Schemas::add_custom`) follow their
/// respective rules; see the module documentation. `obj` itself is not changed: call
/// [`super::prune::prune`] on the object that gets stored.
#[must_use]
pub fn validate(obj: &Value, schema: Node<'_>, mode: FieldValidation) -> Validation {
    let flavor = Flavor::of(schema);
    let mut pruned = obj.clone();
    let unknown = prune::prune(&mut pruned, schema);
    let unknown: Vec<String> = unknown
        .iter()
        .map(|p| format!("unknown field {}", go_quote(p)))
        .collect();
    let mut out = Validation::default();
    match mode {
        FieldValidation::Ignore => {}
        FieldValidation::Warn => out.warnings = unknown,
        FieldValidation::Strict => out.strict = unknown,
    }
    let mut walker = Walker {
        flavor,
        errors: Vec::new(),
    };
    if let Some(map) = pruned.as_object() {
        walker.object_meta_name(map.get("metadata"));
    }
    walker.value(&pruned, schema, "", Position::Root);
    out.errors = walker.errors;
    out
}

/// Where a value sits, for the rules about `apiVersion`, `kind` and `metadata`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Position {
    /// The object itself.
    Root,
    /// An `x-kubernetes-embedded-resource` object.
    Embedded,
    /// `apiVersion`/`kind` of a built-in kind (their enums come from kubernetes-validate).
    TypeMeta,
    /// Anything else.
    Nested,
}

struct Walker {
    flavor: Flavor,
    errors: Vec<Cause>,
}

impl Walker {
    fn push(&mut self, field: &str, reason: &'static str, bad: Option<&Value>, detail: &str) {
        self.errors.push(Cause::new(field, reason, bad, detail));
    }

    /// `ValidateObjectMeta`'s name rule.
    fn object_meta_name(&mut self, meta: Option<&Value>) {
        let set = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if !set("name") && !set("generateName") {
            self.push(
                "metadata.name",
                FIELD_VALUE_REQUIRED,
                None,
                "name or generateName is required",
            );
        }
    }

    fn custom(&self) -> bool {
        self.flavor == Flavor::Custom
    }

    fn value(&mut self, v: &Value, s: Node<'_>, path: &str, pos: Position) {
        if v.is_null() {
            // Built-in kinds decode null as the zero value; custom resources had their
            // non-nullable nulls pruned, and kube-openapi rejects the rest.
            if self.custom() && !prune::nullable(s) {
                let types = declared_types(s);
                if !types.is_empty() {
                    let detail = format!("{path} in body must be of type {}: \"null\"", types.join(","));
                    self.push(
                        path,
                        FIELD_VALUE_TYPE_INVALID,
                        Some(&Value::String("null".into())),
                        &detail,
                    );
                }
            }
            return;
        }
        if !self.check_type(v, s, path) {
            return;
        }
        if pos != Position::TypeMeta {
            self.check_enum(v, s, path);
        }
        match v {
            Value::String(text) if self.custom() => self.check_string(v, text, s, path),
            Value::Number(_) if self.custom() => self.check_number(v, s, path),
            Value::Array(items) => self.array(v, items, s, path),
            Value::Object(map) => self.object(map, s, path, pos),
            _ => {}
        }
    }

    /// kube-openapi's `typeValidator`. Returns whether the value has an acceptable type.
    fn check_type(&mut self, v: &Value, s: Node<'_>, path: &str) -> bool {
        let types = declared_types(s);
        if types.is_empty() {
            return true;
        }
        let (actual, actual_format) = json_type(v);
        let expects = |t: &str| types.iter().any(|x| x == t);
        let is_float_int =
            actual == "number" && v.as_f64().is_some_and(|f| f.fract() == 0.0) && expects("integer");
        let is_int_float = actual == "integer" && expects("number");
        let format = s.raw().get("format").and_then(Value::as_str).unwrap_or("");
        let is_lower_int = format == "int64" && actual_format == "int32";
        let scalar_kind = !matches!(v, Value::String(_) | Value::Array(_));
        if self.custom()
            && scalar_kind
            && !format.is_empty()
            && !(expects(actual) || format == actual_format || is_float_int || is_int_float || is_lower_int)
        {
            let detail = format!(
                "{path} in body must be of type {format}: {}",
                go_quote(actual_format)
            );
            self.push(
                path,
                FIELD_VALUE_TYPE_INVALID,
                Some(&Value::String(actual_format.into())),
                &detail,
            );
            return false;
        }
        if !(expects(actual) || is_float_int || is_int_float) {
            let detail = format!(
                "{path} in body must be of type {}: {}",
                types.join(","),
                go_quote(actual)
            );
            self.push(
                path,
                FIELD_VALUE_TYPE_INVALID,
                Some(&Value::String(actual.into())),
                &detail,
            );
            return false;
        }
        if !self.custom()
            && format == "int32"
            && let Some(n) = v.as_f64()
            && (n < f64::from(i32::MIN) || n > f64::from(i32::MAX))
        {
            let detail = format!("{path} in body must be of type int32: \"int64\"");
            self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
            return false;
        }
        true
    }

    fn check_enum(&mut self, v: &Value, s: Node<'_>, path: &str) {
        let Some(allowed) = s.raw().get("enum").and_then(Value::as_array) else {
            return;
        };
        if allowed.iter().any(|a| json_equal(a, v)) {
            return;
        }
        let values: Vec<String> = allowed
            .iter()
            .map(|a| go_quote(&a.as_str().map_or_else(|| a.to_string(), str::to_owned)))
            .collect();
        let detail = format!("supported values: {}", values.join(", "));
        self.push(path, FIELD_VALUE_NOT_SUPPORTED, Some(v), &detail);
    }

    fn check_string(&mut self, v: &Value, text: &str, s: Node<'_>, path: &str) {
        let raw = s.raw();
        let chars = text.chars().count() as u64;
        if let Some(max) = raw.get("maxLength").and_then(Value::as_u64)
            && chars > max
        {
            self.push(
                path,
                FIELD_VALUE_TOO_LONG,
                None,
                &format!("may not be more than {max} bytes"),
            );
        }
        if let Some(min) = raw.get("minLength").and_then(Value::as_u64)
            && chars < min
        {
            let detail = format!("{path} in body should be at least {min} chars long");
            self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
        }
        if let Some(pattern) = raw.get("pattern").and_then(Value::as_str) {
            match regex::Regex::new(pattern) {
                Ok(re) if !re.is_match(text) => {
                    let detail = format!("{path} in body should match '{pattern}'");
                    self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
                }
                Ok(_) => {}
                Err(e) => {
                    let detail = format!("{path} in body has an invalid pattern '{pattern}': {e}");
                    self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
                }
            }
        }
    }

    fn check_number(&mut self, v: &Value, s: Node<'_>, path: &str) {
        let raw = s.raw();
        let Some(n) = v.as_f64() else { return };
        let exclusive = |k: &str| raw.get(k).and_then(Value::as_bool) == Some(true);
        if let Some(max) = raw.get("maximum").and_then(Value::as_f64) {
            let excl = exclusive("exclusiveMaximum");
            if n > max || (excl && n >= max) {
                let op = if excl {
                    "less than"
                } else {
                    "less than or equal to"
                };
                let detail = format!("{path} in body should be {op} {}", go_float(max));
                self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
            }
        }
        if let Some(min) = raw.get("minimum").and_then(Value::as_f64) {
            let excl = exclusive("exclusiveMinimum");
            if n < min || (excl && n <= min) {
                let op = if excl {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                let detail = format!("{path} in body should be {op} {}", go_float(min));
                self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
            }
        }
        if let Some(factor) = raw.get("multipleOf").and_then(Value::as_f64)
            && factor > 0.0
            && (n / factor).fract() != 0.0
        {
            let detail = format!("{path} in body should be a multiple of {}", go_float(factor));
            self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
        }
    }

    fn array(&mut self, v: &Value, items: &[Value], s: Node<'_>, path: &str) {
        if self.custom() {
            let raw = s.raw();
            let len = items.len() as u64;
            if let Some(max) = raw.get("maxItems").and_then(Value::as_u64)
                && len > max
            {
                self.push(
                    path,
                    FIELD_VALUE_TOO_MANY,
                    Some(&json!(len)),
                    &format!("must have at most {max} items"),
                );
            }
            if let Some(min) = raw.get("minItems").and_then(Value::as_u64)
                && len < min
            {
                let detail = format!("{path} in body should have at least {min} items");
                self.push(path, FIELD_VALUE_INVALID, Some(&json!(len)), &detail);
            }
            if raw.get("uniqueItems").and_then(Value::as_bool) == Some(true)
                && items
                    .iter()
                    .enumerate()
                    .any(|(i, a)| items[..i].iter().any(|b| json_equal(a, b)))
            {
                let detail = format!("{path} in body shouldn't contain duplicates");
                self.push(path, FIELD_VALUE_INVALID, Some(v), &detail);
            }
            self.list_type(items, s, path);
        } else {
            self.builtin_duplicate_names(items, path);
        }
        if let Some(item_schema) = s.items() {
            for (i, item) in items.iter().enumerate() {
                self.value(item, item_schema, &index_path(path, i), Position::Nested);
            }
        }
    }

    /// `listtype.validateListSetsAndMapsArray`: the first repetition of each value or key.
    fn list_type(&mut self, items: &[Value], s: Node<'_>, path: &str) {
        let keyed: Vec<Value> = match s.list_type() {
            Some("set") => items.to_vec(),
            Some("map") => {
                if let Some((i, bad)) = items
                    .iter()
                    .enumerate()
                    .find(|(_, x)| !(x.is_object() || x.is_null()))
                {
                    let detail = "must be an object for an array of list-type map";
                    self.push(&index_path(path, i), FIELD_VALUE_INVALID, Some(bad), detail);
                    return;
                }
                let keys = s.list_map_keys();
                items
                    .iter()
                    .map(|x| {
                        let mut key = Map::new();
                        for k in &keys {
                            if let Some(kv) = x.get(*k) {
                                key.insert((*k).to_owned(), kv.clone());
                            }
                        }
                        Value::Object(key)
                    })
                    .collect()
            }
            _ => return,
        };
        let mut seen: Vec<(&Value, usize)> = Vec::new();
        for (i, key) in keyed.iter().enumerate() {
            match seen.iter_mut().find(|(k, _)| json_equal(k, key)) {
                Some((_, times)) => {
                    *times += 1;
                    if *times == 2 {
                        self.push(&index_path(path, i), FIELD_VALUE_DUPLICATE, Some(key), "");
                    }
                }
                None => seen.push((key, 1)),
            }
        }
    }

    /// The Go validation's duplicate-name rule for containers and volumes.
    fn builtin_duplicate_names(&mut self, items: &[Value], path: &str) {
        let last = path.rsplit('.').next().unwrap_or(path);
        if !matches!(
            last,
            "containers" | "initContainers" | "ephemeralContainers" | "volumes"
        ) {
            return;
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let Some(name) = item.get("name").and_then(Value::as_str) else {
                continue;
            };
            if seen.contains(&name) {
                let field = child_path(&index_path(path, i), "name");
                self.push(
                    &field,
                    FIELD_VALUE_DUPLICATE,
                    Some(&Value::String(name.into())),
                    "",
                );
            } else {
                seen.push(name);
            }
        }
    }

    fn object(&mut self, map: &Map<String, Value>, s: Node<'_>, path: &str, pos: Position) {
        let raw = s.raw();
        if self.custom() {
            let len = map.len() as u64;
            if let Some(max) = raw.get("maxProperties").and_then(Value::as_u64)
                && len > max
            {
                let detail = format!("must have at most {max} items");
                self.push(path, FIELD_VALUE_TOO_MANY, Some(&json!(len)), &detail);
            }
            if let Some(min) = raw.get("minProperties").and_then(Value::as_u64)
                && len < min
            {
                let detail = format!("{path} in body should have at least {min} properties");
                self.push(path, FIELD_VALUE_INVALID, Some(&json!(len)), &detail);
            }
        }
        let type_meta_holder = !self.custom() && raw.get("x-kubernetes-group-version-kind").is_some();
        let resource =
            matches!(pos, Position::Root | Position::Embedded) || (self.custom() && s.embedded_resource());
        for (k, v) in map {
            let field = child_path(path, k);
            if resource && self.custom() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
                match k.as_str() {
                    "metadata" => self.value(v, object_meta(), &field, Position::Nested),
                    _ if !v.is_string() => {
                        let actual = json_type(v).0;
                        let detail = format!("{field} in body must be of type string: {}", go_quote(actual));
                        self.push(
                            &field,
                            FIELD_VALUE_TYPE_INVALID,
                            Some(&Value::String(actual.into())),
                            &detail,
                        );
                    }
                    _ => {}
                }
                continue;
            }
            let child = s.property(k).or_else(|| s.additional_properties());
            if let Some(child) = child {
                let child_pos = if type_meta_holder && matches!(k.as_str(), "apiVersion" | "kind") {
                    Position::TypeMeta
                } else if child.embedded_resource() {
                    Position::Embedded
                } else {
                    Position::Nested
                };
                self.value(v, child, &field, child_pos);
            }
        }
        for required in s
            .raw()
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(name) = required.as_str() else { continue };
            if pos == Position::Root && matches!(name, "apiVersion" | "kind") {
                continue;
            }
            if map.get(name).is_none_or(Value::is_null) {
                self.push(&child_path(path, name), FIELD_VALUE_REQUIRED, None, "");
            }
        }
    }
}

/// Declared types without `null`; `x-kubernetes-int-or-string` is `integer,string`; a schema
/// without `type` whose `oneOf`/`anyOf` alternatives only declare types (the upstream
/// `IntOrString` and `Quantity`) accepts the union.
fn declared_types(s: Node<'_>) -> Vec<String> {
    if s.int_or_string() {
        return vec!["integer".into(), "string".into()];
    }
    let own: Vec<String> = s.types().into_iter().map(str::to_owned).collect();
    if !own.is_empty() {
        return own;
    }
    let mut union = Vec::new();
    for key in ["oneOf", "anyOf"] {
        let Some(alternatives) = s.raw().get(key).and_then(Value::as_array) else {
            continue;
        };
        for alt in alternatives {
            let only_type = alt
                .as_object()
                .is_some_and(|o| o.keys().all(|k| k == "type" || k == "description"));
            if !only_type {
                return Vec::new();
            }
            let types: Vec<&str> = match alt.get("type") {
                Some(Value::String(t)) => vec![t.as_str()],
                Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for t in types {
                if t != "null" && !union.iter().any(|u| u == t) {
                    union.push(t.to_owned());
                }
            }
        }
    }
    union
}

/// The JSON type name and the Go format kube-openapi infers for a decoded value.
fn json_type(v: &Value) -> (&'static str, &'static str) {
    match v {
        Value::Null => ("null", ""),
        Value::Bool(_) => ("boolean", ""),
        Value::Number(n) if n.is_f64() => ("number", "float64"),
        Value::Number(_) => ("integer", "int64"),
        Value::String(_) => ("string", ""),
        Value::Array(_) => ("array", ""),
        Value::Object(_) => ("object", ""),
    }
}

/// JSON equality where `1` and `1.0` are the same number.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, a)| y.get(k).is_some_and(|b| json_equal(a, b)))
        }
        _ => a == b,
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`): shortest digits, in
/// exponent form below 1e-4 and from 1e6 on, e.g. `1e+06`, `0.5`, `3`.
pub(crate) fn go_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's rendering of a decoded JSON value in a field error (`ErrorBody`): strings quoted, numbers
/// and booleans plain, `null` as `"null"`, maps and slices as `%#v`.
fn go_value(v: &Value) -> String {
    match v {
        Value::Null => "\"null\"".into(),
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::Array(_) | Value::Object(_) => go_sharp_v(v),
    }
}

fn go_number(n: &serde_json::Number) -> String {
    if n.is_f64() {
        n.as_f64().map_or_else(|| n.to_string(), go_float)
    } else {
        n.to_string()
    }
}

/// Go's `%#v` of an unstructured value.
fn go_sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".into(),
        Value::String(s) => go_quote(s),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => go_number(n),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(go_sharp_v).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_sharp_v(v)))
                .collect();
            format!("map[string]interface {{}}{{{}}}", inner.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::schema::Schemas;

    fn widget_schemas() -> Schemas {
        let mut schemas = Schemas::default();
        schemas.add_custom(
            &Gvk::new("example.com", "v1", "Widget"),
            json!({
                "type": "object",
                "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                    "replicas": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 10},
                    "size": {"type": "string", "enum": ["small", "large"]},
                    "name": {"type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                    "ratio": {"type": "number"},
                    "port": {"x-kubernetes-int-or-string": true},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                    "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                              "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                }}}
            }),
        );
        schemas
    }

    fn check(obj: Value, mode: FieldValidation) -> Validation {
        let schemas = widget_schemas();
        let node = schemas
            .kind(&Gvk::new("example.com", "v1", "Widget"))
            .expect("widget");
        validate(&obj, node, mode)
    }

    fn messages(v: &Validation) -> Vec<String> {
        v.errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_valid_custom_resource_passes() {
        let v = check(
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                   "spec": {"replicas": 3, "size": "small", "name": "abc", "ratio": 2, "port": "http",
                            "tags": ["a", "b"], "ports": [{"name": "a"}, {"name": "b"}], "free": {"x": {"y": 1}}}}),
            FieldValidation::Strict,
        );
        assert_eq!(v, Validation::default());
        assert!(v.is_ok());
    }

    #[test]
    fn custom_resource_messages_match_the_api_server() {
        let v = check(
            json!({"metadata": {},
                   "spec": {"replicas": "string", "name": "ABCDEFG", "ratio": true, "port": false,
                            "tags": ["a", "a", "b"], "ports": [{"name": "a"}, {"name": "a"}]}}),
            FieldValidation::Ignore,
        );
        assert_eq!(
            messages(&v),
            vec![
                "metadata.name: Required value: name or generateName is required",
                r#"spec.name: Too long: may not be more than 5 bytes"#,
                r#"spec.name: Invalid value: "ABCDEFG": spec.name in body should match '^[a-z]+$'"#,
                r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#,
                r#"spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a"}"#,
                r#"spec.ratio: Invalid value: "boolean": spec.ratio in body must be of type number: "boolean""#,
                r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
                r#"spec.tags: Too many: 3: must have at most 2 items"#,
                r#"spec.tags[1]: Duplicate value: "a""#,
                "spec.size: Required value",
            ]
        );
        assert_eq!(v.errors[6].reason, FIELD_VALUE_TYPE_INVALID);
        assert_eq!(
            v.errors[6].message,
            r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#
        );
        assert_eq!(v.errors[9].reason, FIELD_VALUE_REQUIRED);
    }

    #[test]
    fn numbers_enums_and_formats() {
        let v = check(
            json!({"metadata": {"generateName": "w-"},
                   "spec": {"size": "medium", "replicas": 11, "name": "a", "ratio": 1}}),
            FieldValidation::Warn,
        );
        assert_eq!(
            messages(&v),
            vec![
                r#"spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long"#,
                "spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10",
                r#"spec.size: Unsupported value: "medium": supported values: "small", "large""#,
            ]
        );
        let v = check(
            json!({"metadata": {"name": "w"}, "spec": {"size": "small", "replicas": 1.5}}),
            FieldValidation::Warn,
        );
        assert_eq!(
            messages(&v),
            vec![
                r#"spec.replicas: Invalid value: "float64": spec.replicas in body must be of type int32: "float64""#
            ]
        );
        let v = check(
            json!({"metadata": {"name": "w"}, "spec": {"size": "small", "replicas": 2.0}}),
            FieldValidation::Warn,
        );
        assert!(v.is_ok(), "{v:?}");
    }

    #[test]
    fn unknown_fields_follow_the_field_validation_directive() {
        let obj = json!({"metadata": {"name": "w", "bogus": 1}, "spec": {"size": "small", "foo": 1, "free": {"ok": 1}}, "extra": 2});
        let strict = check(obj.clone(), FieldValidation::Strict);
        assert_eq!(
            strict.strict,
            vec![
                r#"unknown field "metadata.bogus""#,
                r#"unknown field "extra""#,
                r#"unknown field "spec.foo""#
            ]
        );
        assert!(strict.errors.is_empty() && strict.warnings.is_empty());
        assert!(!strict.is_ok());
        assert_eq!(
            strict
                .strict_decoding_message(&Gvk::new("example.com", "v1", "Widget"))
                .as_deref(),
            Some(
                r#"Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "metadata.bogus", unknown field "extra", unknown field "spec.foo""#
            )
        );
        let warn = check(obj.clone(), FieldValidation::Warn);
        assert_eq!(warn.warnings, strict.strict);
        assert!(warn.is_ok());
        let ignore = check(obj, FieldValidation::Ignore);
        assert_eq!(ignore, Validation::default());
    }

    #[test]
    fn built_in_kinds() {
        let schemas = Schemas::upstream();
        let deployment = schemas
            .kind(&Gvk::new("apps", "v1", "Deployment"))
            .expect("Deployment");
        let ok = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"a": "b"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
                     "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                        {"name": "c", "image": "nginx", "env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}],
                         "resources": {"limits": {"cpu": "500m", "memory": 1024}}}]}}}
        });
        assert_eq!(
            validate(&ok, deployment, FieldValidation::Strict),
            Validation::default()
        );

        let bad = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": "two", "foo": 1, "strategy": {"rollingUpdate": {"maxSurge": true}},
                     "template": {"spec": {"containers": [{"name": "c"}, {"name": "c", "bar": 1}]}}}
        });
        let v = validate(&bad, deployment, FieldValidation::Warn);
        assert_eq!(
            v.warnings,
            vec![
                r#"unknown field "spec.foo""#,
                r#"unknown field "spec.template.spec.containers[1].bar""#
            ]
        );
        assert_eq!(
            messages(&v),
            vec![
                r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#,
                r#"spec.strategy.rollingUpdate.maxSurge: Invalid value: "boolean": spec.strategy.rollingUpdate.maxSurge in body must be of type string,integer: "boolean""#,
                r#"spec.template.spec.containers[1].name: Duplicate value: "c""#,
                "spec.selector: Required value",
            ]
        );
        assert_eq!(
            v.invalid_message(&Gvk::new("apps", "v1", "Deployment"), "web")
                .as_deref()
                .map(|m| m.starts_with(
                    r#"Deployment.apps "web" is invalid: [spec.replicas: Invalid value: "string""#
                )),
            Some(true)
        );

        let configmap = schemas.kind(&Gvk::new("", "v1", "ConfigMap")).expect("ConfigMap");
        let v = validate(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}, "data": {"a": 1}}),
            configmap,
            FieldValidation::Strict,
        );
        assert_eq!(
            messages(&v),
            vec![
                "metadata.name: Required value: name or generateName is required",
                r#"data.a: Invalid value: "integer": data.a in body must be of type string: "integer""#,
            ]
        );
        assert_eq!(
            v.invalid_message(&Gvk::new("", "v1", "ConfigMap"), "").as_deref(),
            Some(
                r#"ConfigMap "" is invalid: [metadata.name: Required value: name or generateName is required, data.a: Invalid value: "integer": data.a in body must be of type string: "integer"]"#
            )
        );
    }

    #[test]
    fn field_validation_query_parameter() {
        assert_eq!(FieldValidation::from_query(None), Ok(FieldValidation::Warn));
        assert_eq!(FieldValidation::from_query(Some("")), Ok(FieldValidation::Warn));
        assert_eq!(
            FieldValidation::from_query(Some("Strict")),
            Ok(FieldValidation::Strict)
        );
        assert_eq!(
            FieldValidation::from_query(Some("Ignore")),
            Ok(FieldValidation::Ignore)
        );
        let err = FieldValidation::from_query(Some("strict")).expect_err("case matters");
        assert_eq!(
            err.to_string(),
            r#"fieldValidation: Unsupported value: "strict": supported values: "", "Ignore", "Strict", "Warn""#
        );
    }

    #[test]
    fn go_formatting() {
        assert_eq!(go_float(10.0), "10");
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1_000_000.0), "1e+06");
        assert_eq!(go_float(123_456_789.0), "1.23456789e+08");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(go_quote("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(
            go_value(&json!({"b": [1, "x", null], "a": true})),
            r#"map[string]interface {}{"a":true, "b":[]interface {}{1, "x", interface {}(nil)}}"#
        );
    }
}
