//! The module structure holds: read every `use` declaration and every `crate::…`/`super::…`
//! path of `src/` and fail, naming the file and line, when
//!
//! 1. `src/translate/` or `src/api/` (pure: no client, no I/O, no clock) imports from
//!    `controller`, `runtime`, `run` or `render`, or uses a client or the clock (`kube::Client`,
//!    `kube::Api`, `tokio`, `std::time::SystemTime`, `Instant::now`, `Timestamp::now`);
//! 2. one controller's modules (`src/controller/<kind>/`) import another controller's: shared
//!    facts live on the API types or in the shared modules of `src/controller/`; or
//!    `src/runtime/` (leader election, HTTP, metrics, below the controllers) imports from
//!    `controller`, `run` or `render`;
//! 3. two modules import each other (a parent declaring and calling its children with `mod` is
//!    its table of contents, not an import; a `use` of a child, a re-export included, or of a
//!    parent's item from a child, is). The generated `src/api/ecs/` is left to its generator;
//! 4. a module is included with `#[path]` (which hides a file from its folder's `mod.rs`);
//! 5. a file holds more than [`MAX_CODE_LINES`] lines before its tests (the generated
//!    `src/api/ecs/` and the test files, `*_tests.rs` and `testing.rs`, aside): a file holds one
//!    thing.
//!
//! A module is a file (inline `mod tests { … }` blocks belong to their file). Paths are resolved
//! to the longest module prefix that exists as a file, so `crate::controller::status::same_status`
//! is an import of `controller::status`.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    path::{Path, PathBuf},
};

/// One module: its path (`["controller", "service", "apply"]`, empty for the crate root) and
/// its file.
#[derive(Debug, Clone)]
struct Module {
    path: Vec<String>,
    file: PathBuf,
}

/// One reference from a module to a path, at a line of its file.
#[derive(Debug, Clone)]
struct Reference {
    /// The absolute path referred to, from the crate root (`["controller", "status", "x"]`), or
    /// an external path (`["kube", "Client"]`) with `external` set.
    path: Vec<String>,
    external: bool,
    line: usize,
}

impl Reference {
    /// `path`, written at `line` of `module`: absolute when it starts at `crate`, `self` or
    /// `super` ([`absolute`]), else external.
    fn written_in(module: &[String], path: Vec<String>, line: usize) -> Self {
        match absolute(module, &path) {
            Some(abs) => Self {
                path: abs,
                external: false,
                line,
            },
            None => Self {
                path,
                external: true,
                line,
            },
        }
    }
}

/// Whether the module at `path` is generated (`src/api/ecs/`, left to its generator).
fn generated(path: &[String]) -> bool {
    path.len() >= 2 && path[0] == "api" && path[1] == "ecs"
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every module of the library below `src/` (not `main.rs`, the binary).
fn modules(root: &Path) -> Vec<Module> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .expect("src/ is readable")
            .map(|e| e.expect("an entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let relative = path.strip_prefix(root).expect("below src/");
            let mut parts: Vec<String> = relative
                .iter()
                .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            match parts.last().map(String::as_str) {
                Some("main") if parts.len() == 1 => continue,
                Some("lib") if parts.len() == 1 => parts.clear(),
                Some("mod") => {
                    parts.pop();
                }
                _ => {}
            }
            out.push(Module {
                path: parts,
                file: path,
            });
        }
    }
    out
}

/// `text` with comments, string literals and char literals replaced by spaces (newlines kept,
/// so line numbers hold).
fn code_only(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r"…" or r#"…"#, or an identifier starting with r followed by #.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            for &ch in &b[i..j.min(b.len())] {
                out.push(blank(ch));
            }
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            let end = if next == Some('\\') {
                b[i + 2..].iter().position(|&ch| ch == '\'').map(|p| i + 2 + p)
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for _ in i..=end {
                        out.push(' ');
                    }
                    i = end + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The line (1-based) of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// Whether the text before byte `at` continues a path or an identifier (`x::crate::`, `reuse `).
fn continues(text: &str, at: usize) -> bool {
    let before = &text[..at];
    before.ends_with("::") || before.ends_with(|c: char| c.is_alphanumeric() || c == '_')
}

/// Expands a use tree (`a::{b, c::{d, e}}`, `a::b as c`, `a::*`) into its paths.
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    fn split_top(s: &str) -> Vec<&str> {
        let mut parts = Vec::new();
        let (mut depth, mut start) = (0, 0);
        for (i, c) in s.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
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
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let tree = tree.trim();
    if tree.is_empty() {
        return Vec::new();
    }
    if let Some(open) = tree.find('{') {
        let prefix = tree[..open].trim().trim_end_matches("::");
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let base: Vec<String> = prefix
            .split("::")
            .filter(|p| !p.is_empty())
            .map(|p| p.trim().to_owned())
            .collect();
        let mut out = Vec::new();
        for part in split_top(inner) {
            for rest in expand_use_tree(part) {
                if rest == ["self"] {
                    out.push(base.clone());
                } else {
                    out.push(base.iter().cloned().chain(rest).collect());
                }
            }
        }
        return out;
    }
    let path = tree.split(" as ").next().unwrap_or(tree).trim();
    vec![path.split("::").map(|p| p.trim().to_owned()).collect()]
}

/// Makes `path` (as written in `module`) absolute from the crate root; `None` for an external
/// crate's path.
fn absolute(module: &[String], path: &[String]) -> Option<Vec<String>> {
    let mut out: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("self") => module.to_vec(),
        Some("super") => module.to_vec(),
        _ => return None,
    };
    let mut rest = &path[1..];
    if path[0] == "super" {
        out.pop();
        while rest.first().map(String::as_str) == Some("super") {
            out.pop();
            rest = &rest[1..];
        }
    }
    out.extend(rest.iter().filter(|p| *p != "*").cloned());
    Some(out)
}

/// The inline modules of `code` (`mod tests { … }`): their names and byte ranges.
fn inline_modules(code: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(found) = code[at..].find("mod ") {
        let start = at + found;
        at = start + 4;
        if continues(code, start) {
            continue;
        }
        let rest = &code[at..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = at + name.len() + (rest[name.len()..].len() - after.len());
        let mut depth = 0;
        let mut end = code.len();
        for (i, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.push((name, open..end));
    }
    out
}

/// The module path at byte `at` of `module`'s file: the file's module and the inline modules
/// around `at`.
fn path_at(module: &Module, inline: &[(String, std::ops::Range<usize>)], at: usize) -> Vec<String> {
    let mut path = module.path.clone();
    path.extend(
        inline
            .iter()
            .filter(|(_, range)| range.contains(&at))
            .map(|(name, _)| name.clone()),
    );
    path
}

/// Every reference `module`'s file makes.
fn references(module: &Module, code: &str, children: &BTreeSet<String>) -> Vec<Reference> {
    let inline = inline_modules(code);
    let mut out = Vec::new();
    // `use` declarations (a child's name at the start of a parent's `use` is a path to it).
    let mut at = 0;
    while let Some(found) = code[at..].find("use ") {
        let start = at + found;
        at = start + 4;
        if continues(code, start) {
            continue;
        }
        let before = code[..start].trim_end();
        let keyword = before.is_empty()
            || before.ends_with(';')
            || before.ends_with('{')
            || before.ends_with('}')
            || before.ends_with(']')
            || before.ends_with("pub")
            || before.ends_with(')');
        if !keyword {
            continue;
        }
        let Some(end) = code[at..].find(';') else { break };
        let tree = &code[at..at + end];
        let line = line_of(code, start);
        for path in expand_use_tree(tree) {
            let first = path.first().map(String::as_str).unwrap_or_default();
            let path = if children.contains(first) {
                let mut p = vec!["self".to_owned()];
                p.extend(path);
                p
            } else {
                path
            };
            out.push(Reference::written_in(
                &path_at(module, &inline, start),
                path,
                line,
            ));
        }
    }
    // Paths in code: `crate::a::b`, `super::a`, and the external ones the pure modules must not
    // touch.
    for anchor in [
        "crate::",
        "super::",
        "kube::",
        "tokio::",
        "std::time::",
        "SystemTime::",
        "Instant::",
        "Timestamp::",
    ] {
        let mut at = 0;
        while let Some(found) = code[at..].find(anchor) {
            let start = at + found;
            at = start + anchor.len();
            if continues(code, start) {
                continue;
            }
            let tail: String = code[start..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            if tail.ends_with("::") {
                // A use tree's group (`super::{a, b}`): the use declaration's, read above.
                continue;
            }
            let path: Vec<String> = tail
                .split("::")
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            let line = line_of(code, start);
            out.push(Reference::written_in(
                &path_at(module, &inline, start),
                path,
                line,
            ));
        }
    }
    out
}

/// The module `path` refers to: its longest prefix that is a module.
fn module_of(path: &[String], known: &BTreeSet<Vec<String>>) -> Vec<String> {
    (0..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains(p))
        .unwrap_or_default()
}

fn name(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

/// What a module imports: each module, with the file and line of the first import of it.
type Imports = BTreeMap<Vec<String>, (PathBuf, usize)>;

/// What the rules find in the modules below `root`, one message per line.
fn violations(root: &Path) -> Vec<String> {
    let modules = modules(root);
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let controllers: BTreeSet<String> = modules
        .iter()
        .filter(|m| m.path.len() == 3 && m.path[0] == "controller")
        .map(|m| m.path[1].clone())
        .chain(
            modules
                .iter()
                .filter(|m| m.path.len() == 2 && m.path[0] == "controller" && m.file.ends_with("mod.rs"))
                .map(|m| m.path[1].clone()),
        )
        .collect();
    let mut problems = Vec::new();
    // module → (imported module → first line)
    let mut graph: BTreeMap<Vec<String>, Imports> = BTreeMap::new();
    for module in &modules {
        let text = std::fs::read_to_string(&module.file).expect("a source file");
        let code = code_only(&text);
        let shown = module
            .file
            .strip_prefix(root.parent().unwrap_or(root))
            .unwrap_or(&module.file);
        let shown = shown.display().to_string();
        for (i, line) in code.lines().enumerate() {
            if line.trim_start().starts_with("#[path") {
                problems.push(format!(
                    "{shown}:{}: #[path] includes a file its folder's mod.rs does not declare; declare it there",
                    i + 1
                ));
            }
        }
        let children: BTreeSet<String> = known
            .iter()
            .filter(|p| p.len() == module.path.len() + 1 && p.starts_with(&module.path))
            .filter_map(|p| p.last().cloned())
            .collect();
        let pure = matches!(module.path.first().map(String::as_str), Some("translate" | "api"));
        let controller = (module.path.first().map(String::as_str) == Some("controller"))
            .then(|| module.path.get(1).cloned())
            .flatten()
            .filter(|c| controllers.contains(c));
        for r in references(module, &code, &children) {
            let at = format!("{shown}:{}", r.line);
            if r.external {
                let p = r.path.join("::");
                let forbidden = p.starts_with("kube::Client")
                    || p.starts_with("kube::Api")
                    || p == "tokio"
                    || p.starts_with("tokio::")
                    || p.starts_with("std::time::SystemTime")
                    || p.starts_with("SystemTime::now")
                    || p.starts_with("std::time::Instant")
                    || p.starts_with("Instant::now")
                    || p.contains("Timestamp::now");
                if pure && forbidden {
                    problems.push(format!(
                        "{at}: {} is pure (no client, no clock) but uses {p}; take it as an argument",
                        name(&module.path)
                    ));
                }
                continue;
            }
            let target = module_of(&r.path, &known);
            let top = target.first().map(String::as_str);
            if pure && matches!(top, Some("controller" | "runtime" | "run" | "render")) {
                problems.push(format!(
                    "{at}: {} is pure but imports {}; move what it needs into translate/ or api/",
                    name(&module.path),
                    name(&r.path)
                ));
            }
            if module.path.first().map(String::as_str) == Some("runtime")
                && matches!(top, Some("controller" | "run" | "render"))
            {
                problems.push(format!(
                    "{at}: {} is below the controllers but imports {}; pass it in instead",
                    name(&module.path),
                    name(&r.path)
                ));
            }
            if let Some(own) = &controller
                && target.first().map(String::as_str) == Some("controller")
                && let Some(other) = target.get(1)
                && controllers.contains(other)
                && other != own
            {
                problems.push(format!(
                    "{at}: controller {own} imports controller {other}'s {}; put the shared fact on the \
                     API type or in a shared module of src/controller/",
                    name(&r.path)
                ));
            }
            if target != module.path {
                graph
                    .entry(module.path.clone())
                    .or_default()
                    .entry(target)
                    .or_insert((PathBuf::from(&shown), r.line));
            }
        }
    }
    // Generated code (src/api/ecs/, written by hack/gen_ecs_types.py) imports its own facade
    // (`use super::*`); the generator, not this test, keeps it in order.
    for (a, imports) in &graph {
        for (b, (file, line)) in imports {
            if generated(a) && generated(b) {
                continue;
            }
            if a < b
                && let Some((other_file, other_line)) = graph.get(b).and_then(|i| i.get(a))
            {
                problems.push(format!(
                    "{}:{line}: {} and {} import each other (also {}:{other_line}); move what both \
                     need into one of them or a third module",
                    file.display(),
                    name(a),
                    name(b),
                    other_file.display(),
                ));
            }
        }
    }
    let mut seen = BTreeSet::new();
    problems.retain(|p| seen.insert(p.clone()));
    problems
}

/// The most lines of a file before its `#[cfg(test)] mod …` (its code, docs included).
const MAX_CODE_LINES: usize = 600;

#[test]
fn no_file_holds_more_than_one_thing() {
    let mut long = Vec::new();
    for module in modules(&src()) {
        let generated = generated(&module.path);
        let tests = module
            .path
            .last()
            .is_some_and(|m| m.ends_with("_tests") || m == "testing");
        if generated || tests {
            continue;
        }
        let text = std::fs::read_to_string(&module.file).expect("a source file");
        let lines: Vec<&str> = text.lines().collect();
        let code = lines
            .windows(2)
            .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].starts_with("mod "))
            .unwrap_or(lines.len());
        if code > MAX_CODE_LINES {
            long.push(format!("{}: {code} lines of code", module.file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "split these by what they hold (at most {MAX_CODE_LINES} lines before the tests):\n{}",
        long.join("\n")
    );
}

#[test]
fn the_module_structure_holds() {
    let problems = violations(&src());
    let mut message = String::new();
    for p in &problems {
        let _ = writeln!(message, "{p}");
    }
    assert!(problems.is_empty(), "{} problems:\n{message}", problems.len());
}

/// The rules catch what they are about, in a small tree written for the purpose.
#[test]
fn the_rules_catch_each_kind_of_violation() {
    let dir = std::env::temp_dir().join(format!("module-imports-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let write = |path: &str, text: &str| {
        let file = dir.join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
        std::fs::write(file, text).expect("write");
    };
    write("lib.rs", "pub mod translate;\npub mod controller;\n");
    write(
        "translate/mod.rs",
        "//! use crate::controller::Context; (a comment: no import)\n\
         pub mod pod;\n\
         const S: &str = \"crate::run::x\";\n\
         use crate::controller::Context;\n\
         fn f() { let _ = std::time::SystemTime::now(); }\n\
         pub use pod::helpers;\n",
    );
    write(
        "translate/pod.rs",
        "use super::helpers;\n#[path = \"x.rs\"]\nmod x;\n",
    );
    write(
        "controller/mod.rs",
        "pub mod a;\npub mod b;\npub struct Context;\n",
    );
    write("controller/a/mod.rs", "pub mod load;\nuse load::X;\n");
    write("controller/a/load.rs", "use super::Y;\npub struct X;\n");
    write(
        "controller/b/mod.rs",
        "use crate::controller::{Context, a::load::X};\n",
    );
    let found = violations(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let has = |needle: &str| found.iter().any(|p| p.contains(needle));
    assert!(
        has("translate/mod.rs:4: translate is pure but imports controller::Context"),
        "{found:#?}"
    );
    assert!(
        has(
            "translate/mod.rs:5: translate is pure (no client, no clock) but uses std::time::SystemTime::now"
        ),
        "{found:#?}"
    );
    assert!(!has("translate/mod.rs:1:"), "comments are not code: {found:#?}");
    assert!(!has("translate/mod.rs:3:"), "strings are not code: {found:#?}");
    assert!(has("translate/pod.rs:2: #[path]"), "{found:#?}");
    assert!(
        has("controller/b/mod.rs:1: controller b imports controller a's controller::a::load::X"),
        "{found:#?}"
    );
    assert!(
        has("controller::a and controller::a::load import each other"),
        "{found:#?}"
    );
    assert!(
        has("translate/mod.rs:6: translate and translate::pod import each other"),
        "a re-export of a child that imports its parent: {found:#?}"
    );
    assert_eq!(found.len(), 6, "{found:#?}");
}
