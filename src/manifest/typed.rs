//! Typing a document with errors that name the field, the file, the line and the column.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;

use super::{
    diagnostic::Diagnostic, document::Document, locate::locate, lossless::Difference, lossless::differences,
    path::FieldPath,
};

/// Deserialises `doc` (JSON for `.json` files, YAML otherwise) into `T`.
///
/// # Errors
/// A diagnostic naming the file, position and field of the first problem.
pub fn parse_typed<T: DeserializeOwned>(doc: &Document) -> Result<T, Diagnostic> {
    if doc.file.extension().is_some_and(|e| e == "json") {
        let mut de = serde_json::Deserializer::from_str(&doc.text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = FieldPath::from_serde(e.path());
            let inner = e.into_inner();
            let pos = (inner.line() > 0).then(|| doc.file_position(inner.line(), inner.column()));
            Diagnostic::error(
                &doc.file,
                pos,
                non_empty(field),
                strip_position(&inner.to_string()),
            )
        })
    } else {
        let de = serde_yaml_ng::Deserializer::from_str(&doc.text);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let field = FieldPath::from_serde(e.path());
            let inner = e.into_inner();
            let pos = inner.location().map(|l| doc.file_position(l.line(), l.column()));
            Diagnostic::error(
                &doc.file,
                pos,
                non_empty(field),
                strip_position(&inner.to_string()),
            )
        })
    }
}

/// Parses `doc` into an untyped JSON value.
///
/// # Errors
/// A diagnostic with the position of the syntax error.
pub fn parse_value(doc: &Document) -> Result<Value, Diagnostic> {
    parse_typed::<Value>(doc)
}

/// Checks that `typed`, serialised, still holds everything `written` held (`written` being the
/// part of `doc` at `base`). Returns a diagnostic of severity `level` for each field that was
/// dropped or changed, located in the document.
pub fn check_kept<T: Serialize>(
    doc: &Document,
    base: &FieldPath,
    written: &Value,
    typed: &T,
    dropped_message: &dyn Fn(&FieldPath) -> Option<Diagnostic>,
) -> Vec<Diagnostic> {
    let kept = match serde_json::to_value(typed) {
        Ok(v) => v,
        Err(e) => {
            return vec![Diagnostic::error(
                &doc.file,
                None,
                None,
                format!("cannot serialise: {e}"),
            )];
        }
    };
    let mut out = Vec::new();
    for d in differences(written, &kept) {
        match d {
            Difference::Dropped(p) => {
                let full = p.under(base);
                if let Some(mut diag) = dropped_message(&full) {
                    diag.position = position_of(doc, &full);
                    out.push(diag);
                }
            }
            Difference::Changed(p) | Difference::Added(p) => {
                let full = p.under(base);
                out.push(Diagnostic::error(
                    &doc.file,
                    position_of(doc, &full),
                    Some(full),
                    "value changed while reading it (please report this as a bug)",
                ));
            }
        }
    }
    out
}

/// Where `field` is written in `doc`, as a file position.
#[must_use]
pub fn position_of(doc: &Document, field: &FieldPath) -> Option<(usize, usize)> {
    locate(&doc.text, field).map(|(l, c)| doc.file_position(l, c))
}

fn non_empty(p: FieldPath) -> Option<FieldPath> {
    (!p.0.is_empty()).then_some(p)
}

/// serde_json and serde_yaml append " at line X column Y"; we print the position up front, and
/// say "an integer" where serde says "i32".
fn strip_position(msg: &str) -> String {
    let msg = match msg.rfind(" at line ") {
        Some(i) if msg[i..].contains("column") => &msg[..i],
        _ => msg,
    };
    msg.replace("expected i32", "expected an integer")
        .replace("expected i64", "expected an integer")
        .replace("expected f64", "expected a number")
        .replace("expected u32", "expected a non-negative integer")
}

/// Types `value`, the part of `doc` at `base`, into `T`; an error names the field and where it
/// is written.
///
/// # Errors
/// A diagnostic for the first field that does not fit `T`.
pub fn type_value<T: DeserializeOwned>(
    doc: &Document,
    base: &FieldPath,
    value: &Value,
) -> Result<T, Diagnostic> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = FieldPath::from_serde(e.path()).under(base);
        let message = strip_position(&e.into_inner().to_string());
        Diagnostic::error(&doc.file, position_of(doc, &field), non_empty(field), message)
    })
}
