//! The cluster query language parser (placeholder; see the module docs once written).
