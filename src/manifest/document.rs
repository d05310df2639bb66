//! Splitting files into documents the way `kubectl` does, remembering where each one starts.

use std::path::{Path, PathBuf};

use super::diagnostic::Diagnostic;

/// One YAML or JSON document of an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The file it came from.
    pub file: PathBuf,
    /// 1-based line of the file where the document's text starts.
    pub first_line: usize,
    /// The document's text.
    pub text: String,
}

impl Document {
    /// Converts a position within the document (1-based line) into a position within the file.
    #[must_use]
    pub fn file_position(&self, line: usize, column: usize) -> (usize, usize) {
        (line + self.first_line - 1, column)
    }
}

/// Splits `text` at `---` separator lines, as kubectl's YAML reader does (a line that starts with
/// `---` followed only by spaces or a comment). Documents holding only blanks and comments are
/// dropped.
#[must_use]
pub fn split_documents(file: &Path, text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut first_line = 1;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let is_separator = line.strip_prefix("---").is_some_and(|rest| {
            let rest = rest.trim();
            rest.is_empty() || rest.starts_with('#')
        });
        if is_separator {
            push_doc(&mut docs, file, first_line, std::mem::take(&mut current));
            first_line = i + 2;
        } else {
            current.push_str(line);
        }
    }
    push_doc(&mut docs, file, first_line, current);
    docs
}

fn push_doc(docs: &mut Vec<Document>, file: &Path, first_line: usize, text: String) {
    let has_content = text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    if has_content {
        docs.push(Document {
            file: file.to_owned(),
            first_line,
            text,
        });
    }
}

/// Reads every document of the given files and directories (directories: their `.yaml`, `.yml`
/// and `.json` files, recursively, in name order).
///
/// # Errors
/// A diagnostic for a path that cannot be read.
pub fn read_documents(paths: &[PathBuf]) -> Result<Vec<Document>, Diagnostic> {
    let mut files = Vec::new();
    for p in paths {
        collect_files(p, &mut files)?;
    }
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)
            .map_err(|e| Diagnostic::error(&f, None, None, format!("cannot read: {e}")))?;
        if f.extension().is_some_and(|e| e == "json") {
            docs.push(Document {
                file: f,
                first_line: 1,
                text,
            });
        } else {
            docs.extend(split_documents(&f, &text));
        }
    }
    Ok(docs)
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), Diagnostic> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Diagnostic::error(path, None, None, format!("cannot read: {e}")))?;
    if !meta.is_dir() {
        out.push(path.to_owned());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Diagnostic::error(path, None, None, format!("cannot list directory: {e}")))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for e in entries {
        if e.is_dir() {
            collect_files(&e, out)?;
        } else if e
            .extension()
            .is_some_and(|x| x == "yaml" || x == "yml" || x == "json")
        {
            out.push(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_kubectl_and_keeps_line_numbers() {
        let text =
            "# leading comment\n---\na: 1\n--- # second\nb: 2\nc: 3\n---\n# only a comment\n---\nd: '---'\n";
        let docs = split_documents(Path::new("x.yaml"), text);
        let got: Vec<(usize, &str)> = docs.iter().map(|d| (d.first_line, d.text.as_str())).collect();
        assert_eq!(got, vec![(3, "a: 1\n"), (5, "b: 2\nc: 3\n"), (10, "d: '---'\n")]);
        assert_eq!(docs[1].file_position(2, 1), (6, 1));
    }

    #[test]
    fn a_line_that_merely_starts_with_dashes_is_not_a_separator() {
        let docs = split_documents(Path::new("x.yaml"), "a: 1\n---b\n");
        assert_eq!(docs.len(), 1);
    }
}
