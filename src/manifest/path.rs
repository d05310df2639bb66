//! Field paths such as `spec.containerDefinitions[0].cpu`.

use std::fmt;

/// One step of a field path: an object key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathSeg {
    /// An object key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// A path to a field, printed as `a.b[0].c`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(pub Vec<PathSeg>);

impl FieldPath {
    /// The empty path (the document root).
    #[must_use]
    pub fn root() -> Self {
        Self(Vec::new())
    }

    /// This path with `key` appended.
    #[must_use]
    pub fn key(&self, key: &str) -> Self {
        let mut p = self.clone();
        p.0.push(PathSeg::Key(key.to_owned()));
        p
    }

    /// This path with `index` appended.
    #[must_use]
    pub fn index(&self, index: usize) -> Self {
        let mut p = self.clone();
        p.0.push(PathSeg::Index(index));
        p
    }

    /// `prefix` followed by this path.
    #[must_use]
    pub fn under(&self, prefix: &FieldPath) -> Self {
        let mut p = prefix.clone();
        p.0.extend(self.0.iter().cloned());
        p
    }

    /// Converts a [`serde_path_to_error::Path`] (from a typed deserialisation) into a field path.
    #[must_use]
    pub fn from_serde(path: &serde_path_to_error::Path) -> Self {
        use serde_path_to_error::Segment;
        Self(
            path.iter()
                .filter_map(|s| match s {
                    Segment::Seq { index } => Some(PathSeg::Index(*index)),
                    Segment::Map { key } => Some(PathSeg::Key(key.clone())),
                    Segment::Enum { variant } => Some(PathSeg::Key(variant.clone())),
                    Segment::Unknown => None,
                })
                .collect(),
        )
    }

    /// The path as a pattern: indices replaced by `[]` (e.g. `containerDefinitions[].cpu`).
    #[must_use]
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for seg in &self.0 {
            match seg {
                PathSeg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                PathSeg::Index(_) => out.push_str("[]"),
            }
        }
        out
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for seg in &self.0 {
            match seg {
                PathSeg::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                PathSeg::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        if first {
            f.write_str("(document)")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_keys_and_indices() {
        let p = FieldPath::root()
            .key("spec")
            .key("containerDefinitions")
            .index(2)
            .key("cpu");
        assert_eq!(p.to_string(), "spec.containerDefinitions[2].cpu");
        assert_eq!(p.pattern(), "spec.containerDefinitions[].cpu");
        assert_eq!(FieldPath::root().to_string(), "(document)");
    }
}
