//! `NumberOrString`: ECS fields that are strings in the API but that people also write as numbers.

use std::{borrow::Cow, fmt};

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// A value written either as a number (`cpu: 1024`) or as a string (`cpu: "1 vCPU"`).
///
/// The form it was written in is kept, so a manifest reads back exactly as it was applied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash)]
#[serde(untagged)]
pub enum NumberOrString {
    /// A JSON/YAML integer.
    Number(i64),
    /// A JSON/YAML string.
    String(String),
}

impl NumberOrString {
    /// The value as ECS would see it on the wire: always a string.
    #[must_use]
    pub fn as_ecs_string(&self) -> Cow<'_, str> {
        match self {
            Self::Number(n) => Cow::Owned(n.to_string()),
            Self::String(s) => Cow::Borrowed(s),
        }
    }
}

impl fmt::Display for NumberOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_ecs_string())
    }
}

impl From<&str> for NumberOrString {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}

impl From<i64> for NumberOrString {
    fn from(n: i64) -> Self {
        Self::Number(n)
    }
}

impl JsonSchema for NumberOrString {
    fn schema_name() -> Cow<'static, str> {
        "NumberOrString".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "x-kubernetes-int-or-string": true })
    }
}
