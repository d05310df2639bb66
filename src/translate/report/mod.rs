//! What a translation could not carry over exactly.

mod fields;
#[cfg(test)]
mod fields_tests;
mod probes;

use std::{collections::HashSet, fmt};

use serde::Serialize;
use serde_json::Value;

use fields::Visit;

/// How a field fared in translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoteKind {
    /// Translated, but the Kubernetes meaning differs in a way the user should know.
    Approximated,
    /// Has no Kubernetes meaning here and was ignored.
    Ignored,
    /// Not translated by this version of ecs-bridge yet.
    NotYetTranslated,
}

/// One field and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Note {
    /// What happened.
    pub kind: NoteKind,
    /// The field, relative to `spec` (e.g. `containerDefinitions[0].healthCheck`).
    pub field: String,
    /// Why, in a sentence.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            NoteKind::Approximated => "approximated",
            NoteKind::Ignored => "ignored",
            NoteKind::NotYetTranslated => "not translated yet",
        };
        write!(f, "spec.{}: {kind}: {}", self.field, self.message)
    }
}

/// The notes of one translation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Notes, in the order the fields appear.
    pub notes: Vec<Note>,
}

impl Report {
    /// Adds a note.
    pub fn note(&mut self, kind: NoteKind, field: impl Into<String>, message: impl Into<String>) {
        self.notes.push(Note {
            kind,
            field: field.into(),
            message: message.into(),
        });
    }

    /// Adds a `NotYetTranslated` note for every field set in `spec` whose pattern (indices as
    /// `[]`) is neither in `handled` nor under a prefix in `handled` ending with `.*`, and which
    /// has no note yet.
    pub fn untranslated(&mut self, spec: &Value, handled: &[&str]) {
        self.untranslated_in(spec, &Handled::new(handled));
    }

    /// [`Self::untranslated`] with the patterns indexed once ([`Handled`]), for any serialisable
    /// `spec` (a typed task definition is walked as its JSON would be, without building the JSON).
    pub fn untranslated_in<T: Serialize + ?Sized>(&mut self, spec: &T, handled: &Handled) {
        let found = fields::find(spec, |pattern| {
            if handled.has_handled_children(pattern) {
                Visit::Descend
            } else if handled.is_handled(pattern) {
                Visit::Skip
            } else {
                Visit::Report
            }
        });
        if found.is_empty() {
            return;
        }
        let fields: Vec<String> = found.iter().map(ToString::to_string).collect();
        let noted: HashSet<&str> = self.notes.iter().map(|n| n.field.as_str()).collect();
        let new: Vec<String> = fields
            .into_iter()
            .filter(|f| !noted.contains(f.as_str()))
            .collect();
        for field in new {
            self.note(
                NoteKind::NotYetTranslated,
                field,
                "kept in the spec; no Kubernetes equivalent applied yet",
            );
        }
    }

    /// Whether nothing was reported.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.notes.is_empty()
    }
}

/// Field patterns (`containerDefinitions[].image`, `dockerLabels.*`) indexed so that checking a
/// field costs a few hash lookups, not a scan of every pattern.
#[derive(Debug, Clone, Default)]
pub struct Handled {
    /// Patterns handled exactly.
    exact: Patterns,
    /// Prefixes handled with everything under them (`x` for `x.*`).
    wildcard: Patterns,
    /// Every proper prefix of a pattern, cut before a `.` or `[`: fields with handled children.
    parents: Patterns,
}

/// A set of patterns, hashed with foldhash (looked up for every field of every task definition).
type Patterns = HashSet<String, foldhash::fast::FixedState>;

/// The prefixes of `pattern` that end right before a `.` or `[`.
fn prefixes(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .char_indices()
        .filter(|(_, c)| *c == '.' || *c == '[')
        .map(move |(i, _)| &pattern[..i])
}

impl Handled {
    /// Indexes `patterns`.
    #[must_use]
    pub fn new(patterns: &[&str]) -> Self {
        let mut h = Self::default();
        for p in patterns {
            match p.strip_suffix(".*") {
                Some(prefix) => {
                    h.wildcard.insert(prefix.to_owned());
                }
                None => {
                    h.exact.insert((*p).to_owned());
                }
            }
            h.parents.extend(prefixes(p).map(str::to_owned));
        }
        h
    }

    /// Whether `pattern` is handled: listed, or under a `.*` prefix.
    fn is_handled(&self, pattern: &str) -> bool {
        self.exact.contains(pattern) || prefixes(pattern).any(|p| self.wildcard.contains(p))
    }

    /// Whether some handled pattern lies under `pattern`.
    fn has_handled_children(&self, pattern: &str) -> bool {
        self.parents.contains(pattern)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lists_fields_that_no_rule_handles() {
        let spec = json!({
            "family": "web",
            "cpu": "256",
            "containerDefinitions": [{"name": "a", "image": "x", "healthCheck": {"command": ["CMD", "true"]}}],
            "volumes": [],
            "tags": null
        });
        let mut r = Report::default();
        r.note(NoteKind::Ignored, "cpu", "told already");
        r.untranslated(
            &spec,
            &[
                "family",
                "containerDefinitions[].name",
                "containerDefinitions[].image",
            ],
        );
        let fields: Vec<&str> = r.notes.iter().map(|n| n.field.as_str()).collect();
        assert_eq!(
            fields,
            vec!["cpu", "containerDefinitions[0].healthCheck"],
            "empty lists say nothing"
        );
    }

    #[test]
    fn a_wildcard_covers_everything_below() {
        let spec = json!({"dockerLabels": {"a": "b"}, "linuxParameters": {"capabilities": {"add": ["X"]}}});
        let mut r = Report::default();
        r.untranslated(&spec, &["dockerLabels.*", "linuxParameters.capabilities.*"]);
        assert!(r.is_empty(), "{:?}", r.notes);
    }

    /// The index answers as a scan of every pattern would.
    mod index_law {
        use proptest::prelude::*;

        use super::super::Handled;

        fn naive_is_handled(pattern: &str, handled: &[String]) -> bool {
            handled.iter().any(|h| {
                h == pattern
                    || h.strip_suffix(".*").is_some_and(|prefix| {
                        pattern
                            .strip_prefix(prefix)
                            .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
                    })
            })
        }

        fn naive_has_children(pattern: &str, handled: &[String]) -> bool {
            handled.iter().any(|h| {
                h.strip_prefix(pattern)
                    .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            })
        }

        /// Patterns over a tiny alphabet, so that prefixes collide often.
        fn pattern() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![Just("a"), Just("b"), Just("ab"), Just("a[]"), Just("b[]")],
                1..4,
            )
            .prop_map(|parts| parts.join("."))
        }

        proptest! {
            #[test]
            fn index_agrees_with_a_scan(
                handled in proptest::collection::vec(
                    (pattern(), any::<bool>()).prop_map(|(p, w)| if w { format!("{p}.*") } else { p }),
                    0..8,
                ),
                probe in pattern(),
            ) {
                let refs: Vec<&str> = handled.iter().map(String::as_str).collect();
                let index = Handled::new(&refs);
                prop_assert_eq!(index.is_handled(&probe), naive_is_handled(&probe, &handled));
                prop_assert_eq!(index.has_handled_children(&probe), naive_has_children(&probe, &handled));
            }
        }
    }
}
