//! Reading manifests and ECS JSON from files, with positions for every message.
//!
//! Everything a user gives the CLI goes through here: documents are split the way `kubectl`
//! splits them, typed with [`serde_path_to_error`] so errors name the field, and located in the
//! source text so messages carry `file:line:column`.

mod diagnostic;
mod document;
mod locate;
mod lossless;
mod path;
mod typed;

pub use diagnostic::{Diagnostic, Severity};
pub use document::{Document, read_documents, split_documents};
pub use locate::locate;
pub use lossless::{Difference, differences};
pub use path::{FieldPath, PathSeg};
pub use typed::{check_kept, parse_typed, parse_value, position_of, type_value};
