//! The syntax tree of a cluster query language expression (ecs-reference §3.5).
//!
//! Every atom keeps its [`Span`] in the source text, so that compile errors ("`registeredAt` has
//! no Kubernetes meaning") can point at the character where the problem is, as parse errors do.

use std::fmt;

/// A byte range of the expression's text (`start..end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just past the last character.
    pub end: usize,
}

impl Span {
    /// The 1-based character position of [`Self::start`] in `text` (what error messages show).
    #[must_use]
    pub fn position_in(&self, text: &str) -> usize {
        text.get(..self.start).map_or(self.start, |s| s.chars().count()) + 1
    }
}

/// A boolean expression over one container instance (one node).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Expr {
    /// `subject operator [argument]`.
    Atom(Atom),
    /// `not(e)`, `!e`.
    Not(Box<Expr>),
    /// `e1 and e2 and ...` (`&&`); at least two operands.
    And(Vec<Expr>),
    /// `e1 or e2 or ...` (`||`); at least two operands.
    Or(Vec<Expr>),
}

/// One test of one subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Atom {
    /// What is tested.
    pub subject: Subject,
    /// How.
    pub op: Op,
    /// Against what (per the operator: nothing, one value, or a list).
    pub arg: Arg,
    /// Where the atom is in the text.
    pub span: Span,
}

/// What an atom tests.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    /// `attribute:<name>`: a built-in (`ecs.availability-zone`, ...) or custom attribute.
    Attribute(String),
    /// `ec2InstanceId`.
    Ec2InstanceId,
    /// `task:group`: a task group with a task on the instance.
    TaskGroup,
    /// `registeredAt`.
    RegisteredAt,
    /// `runningTasksCount`.
    RunningTasksCount,
    /// `agentVersion`.
    AgentVersion,
    /// `agentConnected`.
    AgentConnected,
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Attribute(name) => write!(f, "attribute:{name}"),
            Self::Ec2InstanceId => f.write_str("ec2InstanceId"),
            Self::TaskGroup => f.write_str("task:group"),
            Self::RegisteredAt => f.write_str("registeredAt"),
            Self::RunningTasksCount => f.write_str("runningTasksCount"),
            Self::AgentVersion => f.write_str("agentVersion"),
            Self::AgentConnected => f.write_str("agentConnected"),
        }
    }
}

/// An operator (symbol and word forms parse to the same one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `==`, `equals`.
    Eq,
    /// `!=`, `not_equals`.
    Ne,
    /// `>`, `greater_than`.
    Gt,
    /// `>=`, `greater_than_equal`.
    Ge,
    /// `<`, `less_than`.
    Lt,
    /// `<=`, `less_than_equal`.
    Le,
    /// `exists`.
    Exists,
    /// `!exists`, `not_exists`.
    NotExists,
    /// `in`.
    In,
    /// `!in`, `not_in`.
    NotIn,
    /// `=~`, `matches` (a Java regular expression, matching the whole value).
    Matches,
    /// `!~`, `not_matches`.
    NotMatches,
}

impl Op {
    /// The operator that holds exactly when `self` does not (on a present subject, and for the
    /// existence tests in general).
    #[must_use]
    pub fn negated(self) -> Self {
        match self {
            Self::Eq => Self::Ne,
            Self::Ne => Self::Eq,
            Self::Gt => Self::Le,
            Self::Le => Self::Gt,
            Self::Lt => Self::Ge,
            Self::Ge => Self::Lt,
            Self::Exists => Self::NotExists,
            Self::NotExists => Self::Exists,
            Self::In => Self::NotIn,
            Self::NotIn => Self::In,
            Self::Matches => Self::NotMatches,
            Self::NotMatches => Self::Matches,
        }
    }

    /// The symbol form.
    #[must_use]
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Exists => "exists",
            Self::NotExists => "!exists",
            Self::In => "in",
            Self::NotIn => "!in",
            Self::Matches => "=~",
            Self::NotMatches => "!~",
        }
    }
}

/// An operator's argument.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Arg {
    /// `exists`, `!exists`.
    None,
    /// One value (quotes removed).
    Value(String),
    /// `[v1, v2, ...]` (quotes removed).
    List(Vec<String>),
}

/// The atom as the parser reads it back: values are quoted when they have to be
/// ([`write_value`]).
impl fmt::Display for Atom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.subject, self.op.symbol())?;
        match &self.arg {
            Arg::None => Ok(()),
            Arg::Value(v) => {
                f.write_str(" ")?;
                write_value(f, v)
            }
            Arg::List(vs) => {
                f.write_str(" [")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_value(f, v)?;
                }
                f.write_str("]")
            }
        }
    }
}

/// The expression as the parser reads it back (modulo spans and flattening): `not e` (`not(e)`
/// when `e` is an `and` or `or`), operands of `and` and `or` joined with the words, and
/// parentheses only where precedence needs them or an operand is of the same kind as its parent,
/// so the text never nests deeper than the one it was parsed from.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Atom(atom) => atom.fmt(f),
            Self::Not(inner) if matches!(**inner, Self::And(_) | Self::Or(_)) => write!(f, "not({inner})"),
            Self::Not(inner) => write!(f, "not {inner}"),
            Self::And(operands) => {
                write_operands(f, operands, " and ", |e| matches!(e, Self::And(_) | Self::Or(_)))
            }
            Self::Or(operands) => write_operands(f, operands, " or ", |e| matches!(e, Self::Or(_))),
        }
    }
}

/// Writes `operands` separated by `separator`, in parentheses those for which `parenthesise` holds.
fn write_operands(
    f: &mut fmt::Formatter<'_>,
    operands: &[Expr],
    separator: &str,
    parenthesise: fn(&Expr) -> bool,
) -> fmt::Result {
    for (i, operand) in operands.iter().enumerate() {
        if i > 0 {
            f.write_str(separator)?;
        }
        if parenthesise(operand) {
            write!(f, "({operand})")?;
        } else {
            write!(f, "{operand}")?;
        }
    }
    Ok(())
}

/// Writes `value` as the parser reads it back: bare when it can be, otherwise quoted with `'`,
/// or with `"` when it contains a `'`. (A value that needs quotes and contains both quote
/// characters cannot be written; it never comes out of [`super::cql::parse`].)
///
/// # Errors
///
/// Only those of `out`.
pub fn write_value(out: &mut impl fmt::Write, value: &str) -> fmt::Result {
    if !needs_quotes(value) {
        out.write_str(value)
    } else if value.contains('\'') {
        write!(out, "\"{value}\"")
    } else {
        write!(out, "'{value}'")
    }
}

/// Whether `value` cannot be written bare.
pub(super) fn needs_quotes(value: &str) -> bool {
    value.is_empty() || value.starts_with(['\'', '"']) || value.chars().any(ends_bare_value)
}

/// Whether `c` ends a bare value.
pub(super) fn ends_bare_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ']' | ')')
}
