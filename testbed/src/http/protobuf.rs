//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), decoded into the JSON the
//! rest of the double works on, for the few built-in kinds clients are seen to send that way:
//! client-go's typed clients (Helm's release storage writes its Secrets with them) and kubectl's
//! typed commands.
//!
//! The encoding, as "Protobuf encoding" in
//! https://kubernetes.io/docs/reference/using-api/api-concepts/#protobuf-encoding describes it:
//! the four bytes `k8s\0`, then a `runtime.Unknown` message whose `typeMeta` names the kind and
//! whose `raw` holds the object's own message. Field numbers come from the `generated.proto`
//! files of k8s.io/api (`core/v1`) and k8s.io/apimachinery (`pkg/apis/meta/v1`, `pkg/runtime`).
//!
//! Only the messages in the tables below are known. A field the tables do not name, or a kind
//! outside them, is answered 501 with its name, never dropped. As the API server's JSON does,
//! empty strings, zero numbers and zero times (which Go's generated marshallers always write)
//! are left out; byte fields become base64 strings.

use serde_json::{Map, Value};

use crate::api::ApiError;

/// The magic prefix of a protobuf-encoded object.
pub const MAGIC: &[u8] = b"k8s\0";

/// What a field holds.
#[derive(Clone, Copy)]
enum Kind {
    /// `string`.
    Str,
    /// `bool`.
    Bool,
    /// `int64` / `int32` (varint), a value field: zero is left out.
    Int,
    /// `optional int64` that Go holds as a pointer: written only when set, zero kept.
    OptInt,
    /// `bytes` that hold JSON (`FieldsV1.Raw`): the JSON itself.
    RawJson,
    /// `meta.v1.Time` (`seconds`, `nanos`): RFC 3339 with seconds, as metav1.Time marshals.
    Time,
    /// A nested message.
    Message(&'static Message),
    /// `map<string, string>`.
    StringMap,
    /// `map<string, bytes>`: values as base64.
    BytesMap,
}

/// One field of a message.
struct Field {
    number: u64,
    json: &'static str,
    kind: Kind,
    repeated: bool,
}

/// A message: its proto name (for messages) and fields.
struct Message {
    name: &'static str,
    fields: &'static [Field],
}

const fn f(number: u64, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json,
        kind,
        repeated: false,
    }
}

const fn r(number: u64, json: &'static str, kind: Kind) -> Field {
    Field {
        number,
        json,
        kind,
        repeated: true,
    }
}

// k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto
static OWNER_REFERENCE: Message = Message {
    name: "meta.v1.OwnerReference",
    fields: &[
        f(5, "apiVersion", Kind::Str),
        f(1, "kind", Kind::Str),
        f(3, "name", Kind::Str),
        f(4, "uid", Kind::Str),
        f(6, "controller", Kind::Bool),
        f(7, "blockOwnerDeletion", Kind::Bool),
    ],
};

static MANAGED_FIELDS_ENTRY: Message = Message {
    name: "meta.v1.ManagedFieldsEntry",
    fields: &[
        f(1, "manager", Kind::Str),
        f(2, "operation", Kind::Str),
        f(3, "apiVersion", Kind::Str),
        f(4, "time", Kind::Time),
        f(6, "fieldsType", Kind::Str),
        f(7, "fieldsV1", Kind::Message(&FIELDS_V1)),
        f(8, "subresource", Kind::Str),
    ],
};

static FIELDS_V1: Message = Message {
    name: "meta.v1.FieldsV1",
    fields: &[f(1, "", Kind::RawJson)],
};

static OBJECT_META: Message = Message {
    name: "meta.v1.ObjectMeta",
    fields: &[
        f(1, "name", Kind::Str),
        f(2, "generateName", Kind::Str),
        f(3, "namespace", Kind::Str),
        f(4, "selfLink", Kind::Str),
        f(5, "uid", Kind::Str),
        f(6, "resourceVersion", Kind::Str),
        f(7, "generation", Kind::Int),
        f(8, "creationTimestamp", Kind::Time),
        f(9, "deletionTimestamp", Kind::Time),
        f(10, "deletionGracePeriodSeconds", Kind::OptInt),
        f(11, "labels", Kind::StringMap),
        f(12, "annotations", Kind::StringMap),
        r(13, "ownerReferences", Kind::Message(&OWNER_REFERENCE)),
        r(14, "finalizers", Kind::Str),
        r(17, "managedFields", Kind::Message(&MANAGED_FIELDS_ENTRY)),
    ],
};

// k8s.io/api/core/v1/generated.proto
static SECRET: Message = Message {
    name: "core.v1.Secret",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(5, "immutable", Kind::Bool),
        f(2, "data", Kind::BytesMap),
        f(4, "stringData", Kind::StringMap),
        f(3, "type", Kind::Str),
    ],
};

static CONFIG_MAP: Message = Message {
    name: "core.v1.ConfigMap",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(4, "immutable", Kind::Bool),
        f(2, "data", Kind::StringMap),
        f(3, "binaryData", Kind::BytesMap),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "core.v1.NamespaceSpec",
    fields: &[r(1, "finalizers", Kind::Str)],
};

static NAMESPACE_STATUS: Message = Message {
    name: "core.v1.NamespaceStatus",
    fields: &[f(1, "phase", Kind::Str)],
};

static NAMESPACE: Message = Message {
    name: "core.v1.Namespace",
    fields: &[
        f(1, "metadata", Kind::Message(&OBJECT_META)),
        f(2, "spec", Kind::Message(&NAMESPACE_SPEC)),
        f(3, "status", Kind::Message(&NAMESPACE_STATUS)),
    ],
};

static PRECONDITIONS: Message = Message {
    name: "meta.v1.Preconditions",
    fields: &[f(1, "uid", Kind::Str), f(2, "resourceVersion", Kind::Str)],
};

/// The body of a DELETE. Registered in every group version, so accepted with any `apiVersion`.
static DELETE_OPTIONS: Message = Message {
    name: "meta.v1.DeleteOptions",
    fields: &[
        f(1, "gracePeriodSeconds", Kind::OptInt),
        f(2, "preconditions", Kind::Message(&PRECONDITIONS)),
        f(3, "orphanDependents", Kind::Bool),
        f(4, "propagationPolicy", Kind::Str),
        r(5, "dryRun", Kind::Str),
    ],
};

/// The kinds whose protobuf the double decodes, by `apiVersion` and `kind`.
static KINDS: &[(&str, &str, &Message)] = &[
    ("v1", "Secret", &SECRET),
    ("v1", "ConfigMap", &CONFIG_MAP),
    ("v1", "Namespace", &NAMESPACE),
];

// k8s.io/apimachinery/pkg/runtime/generated.proto
static TYPE_META: Message = Message {
    name: "runtime.TypeMeta",
    fields: &[f(1, "apiVersion", Kind::Str), f(2, "kind", Kind::Str)],
};

/// Decodes a protobuf-encoded object (starting with [`MAGIC`]) into its JSON form.
///
/// # Errors
/// 400 when the bytes are not a well-formed message; 501 for a kind or field the tables above
/// do not know, naming it.
pub fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let Some(envelope) = body.strip_prefix(MAGIC) else {
        return Err(ApiError::bad_request("protobuf body without the k8s\\0 prefix"));
    };
    // runtime.Unknown: typeMeta = 1, raw = 2, contentEncoding = 3, contentType = 4.
    let mut type_meta = Value::Object(Map::new());
    let mut raw: &[u8] = &[];
    for field in Reader::new(envelope) {
        let (number, value) = field?;
        match (number, value) {
            (1, Wire::Bytes(b)) => type_meta = message(b, &TYPE_META)?,
            (2, Wire::Bytes(b)) => raw = b,
            (3 | 4, Wire::Bytes([])) => {}
            (3 | 4, Wire::Bytes(b)) => {
                return Err(ApiError::not_implemented(format!(
                    "protobuf runtime.Unknown with contentEncoding/contentType {:?}",
                    String::from_utf8_lossy(b)
                )));
            }
            (n, _) => return Err(unknown_field("runtime.Unknown", n)),
        }
    }
    let api_version = type_meta["apiVersion"].as_str().unwrap_or_default().to_owned();
    let kind = type_meta["kind"].as_str().unwrap_or_default().to_owned();
    let known = KINDS
        .iter()
        .find(|(v, k, _)| *v == api_version && *k == kind)
        .map(|(_, _, m)| *m)
        .or_else(|| (kind == "DeleteOptions").then_some(&DELETE_OPTIONS));
    let Some(schema) = known else {
        return Err(ApiError::not_implemented(format!(
            "protobuf request bodies of {api_version} {kind} (the double decodes {} and DeleteOptions); send JSON",
            KINDS
                .iter()
                .map(|(v, k, _)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let mut object = message(raw, schema)?;
    let map = object.as_object_mut().expect("message() returns an object");
    map.insert("apiVersion".to_owned(), Value::String(api_version));
    map.insert("kind".to_owned(), Value::String(kind));
    Ok(object)
}

fn unknown_field(message: &str, number: u64) -> ApiError {
    ApiError::not_implemented(format!(
        "protobuf field {number} of {message} (the double decodes only the fields it knows); send JSON"
    ))
}

fn malformed(what: &str) -> ApiError {
    ApiError::bad_request(format!("the protobuf request body is malformed: {what}"))
}

/// Decodes `bytes` as `schema` into a JSON object.
fn message(bytes: &[u8], schema: &Message) -> Result<Value, ApiError> {
    let mut out = Map::new();
    for field in Reader::new(bytes) {
        let (number, wire) = field?;
        let Some(field) = schema.fields.iter().find(|f| f.number == number) else {
            return Err(unknown_field(schema.name, number));
        };
        let value = match (field.kind, wire) {
            (Kind::Str, Wire::Bytes(b)) => {
                Some(Value::String(utf8(b)?)).filter(|v| v != "" || field.repeated)
            }
            (Kind::Bool, Wire::Varint(v)) => Some(Value::Bool(v != 0)),
            // (Two's complement: negative int64s are ten-byte varints.)
            #[allow(clippy::cast_possible_wrap)]
            (Kind::Int, Wire::Varint(v)) => Some(Value::from(v as i64)).filter(|v| v != 0),
            #[allow(clippy::cast_possible_wrap)]
            (Kind::OptInt, Wire::Varint(v)) => Some(Value::from(v as i64)),
            (Kind::RawJson, Wire::Bytes(b)) => {
                // FieldsV1 is an object in JSON: its one field holds that JSON.
                let raw: Value = serde_json::from_slice(b).map_err(|_| malformed("FieldsV1 is not JSON"))?;
                out = raw.as_object().cloned().unwrap_or_default();
                continue;
            }
            (Kind::Time, Wire::Bytes(b)) => time(b)?,
            (Kind::Message(m), Wire::Bytes(b)) => Some(message(b, m)?),
            (Kind::StringMap | Kind::BytesMap, Wire::Bytes(b)) => {
                let (key, value) = map_entry(b, matches!(field.kind, Kind::BytesMap))?;
                let entry = out
                    .entry(field.json.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(key, value);
                }
                continue;
            }
            _ => {
                return Err(malformed(&format!(
                    "wrong wire type for {}.{}",
                    schema.name, field.json
                )));
            }
        };
        let Some(value) = value else { continue };
        if field.repeated {
            let entry = out
                .entry(field.json.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = entry {
                items.push(value);
            }
        } else {
            out.insert(field.json.to_owned(), value);
        }
    }
    Ok(Value::Object(out))
}

/// A map entry message: key = 1, value = 2.
fn map_entry(bytes: &[u8], base64_value: bool) -> Result<(String, Value), ApiError> {
    let (mut key, mut value) = (String::new(), Vec::new());
    for field in Reader::new(bytes) {
        match field? {
            (1, Wire::Bytes(b)) => key = utf8(b)?,
            (2, Wire::Bytes(b)) => value = b.to_vec(),
            (n, _) => return Err(unknown_field("map entry", n)),
        }
    }
    let value = if base64_value {
        base64(&value)
    } else {
        String::from_utf8(value).map_err(|_| malformed("a string map value is not UTF-8"))?
    };
    Ok((key, Value::String(value)))
}

/// `meta.v1.Time` (seconds = 1, nanos = 2) as RFC 3339 UTC with seconds; None for the zero time.
fn time(bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    let mut seconds = 0i64;
    for field in Reader::new(bytes) {
        match field? {
            #[allow(clippy::cast_possible_wrap)]
            (1, Wire::Varint(v)) => seconds = v as i64,
            (2, Wire::Varint(_)) => {}
            (n, _) => return Err(unknown_field("meta.v1.Time", n)),
        }
    }
    if seconds == 0 {
        return Ok(None);
    }
    let t = jiff::Timestamp::from_second(seconds).map_err(|_| malformed("time out of range"))?;
    Ok(Some(Value::String(t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())))
}

fn utf8(b: &[u8]) -> Result<String, ApiError> {
    String::from_utf8(b.to_vec()).map_err(|_| malformed("a string is not UTF-8"))
}

/// Standard base64 with padding, as JSON carries `[]byte`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A field's value on the wire.
enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// Iterates over the fields of a message: `(field number, value)`.
struct Reader<'a> {
    bytes: &'a [u8],
    failed: bool,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, failed: false }
    }

    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .bytes
                .split_first()
                .ok_or_else(|| malformed("truncated varint"))?;
            self.bytes = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ApiError> {
        if self.bytes.len() < n {
            return Err(malformed("truncated field"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn field(&mut self) -> Result<(u64, Wire<'a>), ApiError> {
        let key = self.varint()?;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let n = usize::try_from(self.varint()?).map_err(|_| malformed("length"))?;
                Wire::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            other => return Err(malformed(&format!("wire type {other}"))),
        };
        Ok((key >> 3, wire))
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<(u64, Wire<'a>), ApiError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.bytes.is_empty() {
            return None;
        }
        let field = self.field();
        self.failed = field.is_err();
        Some(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes(number: u64, b: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(number << 3 | 2, &mut out);
        varint(b.len() as u64, &mut out);
        out.extend_from_slice(b);
        out
    }

    fn entry(number: u64, k: &str, v: &[u8]) -> Vec<u8> {
        bytes(number, &[bytes(1, k.as_bytes()), bytes(2, v)].concat())
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [bytes(1, api_version.as_bytes()), bytes(2, kind.as_bytes())].concat();
        [
            MAGIC.to_vec(),
            bytes(1, &type_meta),
            bytes(2, raw),
            bytes(3, b""),
            bytes(4, b""),
        ]
        .concat()
    }

    /// A Secret as client-go's generated marshaller writes it: every non-pointer string,
    /// the zero creationTimestamp included.
    #[test]
    fn decodes_a_secret_as_helm_writes_it() {
        let meta = [
            bytes(1, b"sh.helm.release.v1.web.v1"),
            bytes(2, b""),
            bytes(3, b""),
            bytes(5, b""),
            {
                let mut g = Vec::new();
                varint(7 << 3, &mut g);
                varint(0, &mut g);
                g
            },
            bytes(8, b""),
            entry(11, "owner", b"helm"),
            entry(11, "status", b"deployed"),
        ]
        .concat();
        let secret = [
            bytes(1, &meta),
            entry(2, "release", b"H4sI\x00\xff"),
            bytes(3, b"helm.sh/release.v1"),
        ]
        .concat();
        let decoded = decode(&envelope("v1", "Secret", &secret)).expect("decodes");
        assert_eq!(
            decoded,
            serde_json::json!({
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {
                    "name": "sh.helm.release.v1.web.v1",
                    "labels": {"owner": "helm", "status": "deployed"},
                },
                "data": {"release": "SDRzSQD/"},
                "type": "helm.sh/release.v1",
            })
        );
    }

    #[test]
    fn unknown_kinds_and_fields_are_not_implemented() {
        let err = decode(&envelope("apps/v1", "Deployment", &[])).expect_err("unknown kind");
        assert_eq!(err.code, 501);
        let err = decode(&envelope("v1", "Secret", &bytes(9, b"x"))).expect_err("unknown field");
        assert_eq!(err.code, 501);
        assert!(err.message.contains("field 9 of core.v1.Secret"), "{err:?}");
    }

    /// A DELETE's options, as client-go's typed clients encode them (Helm's uninstall).
    #[test]
    fn decodes_delete_options_of_any_group_version() {
        let mut zero_grace = Vec::new();
        varint(1 << 3, &mut zero_grace);
        varint(0, &mut zero_grace);
        let preconditions = bytes(2, &bytes(1, b"uid-1"));
        let body = [zero_grace, preconditions, bytes(4, b"Background")].concat();
        for api_version in ["v1", "meta.k8s.io/v1"] {
            let decoded = decode(&envelope(api_version, "DeleteOptions", &body)).expect("decodes");
            assert_eq!(decoded["gracePeriodSeconds"], 0);
            assert_eq!(decoded["preconditions"]["uid"], "uid-1");
            assert_eq!(decoded["propagationPolicy"], "Background");
        }
    }

    #[test]
    fn base64_pads_as_go_does() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn times_are_rfc3339_seconds() {
        let mut t = Vec::new();
        varint(1 << 3, &mut t);
        varint(1_700_000_000, &mut t);
        assert_eq!(
            time(&t).expect("time"),
            Some(Value::String("2023-11-14T22:13:20Z".into()))
        );
        assert_eq!(time(&[]).expect("zero"), None);
    }
}
