//! The cluster query language parser: `memberOf` expressions into an [`Expr`] (ecs-reference §3.5).
//!
//! # Grammar
//!
//! ```text
//! expr    = or ;
//! or      = and , { ( "or" | "||" ) , and } ;
//! and     = unary , { ( "and" | "&&" ) , unary } ;
//! unary   = ( "not" | "!" ) , unary | "(" , expr , ")" | atom ;
//! atom    = subject , ( unop | binop , value | listop , list ) ;
//! subject = "agentConnected" | "agentVersion" | "ec2InstanceId" | "registeredAt"
//!         | "runningTasksCount" | "task:group" | "attribute:" , name ;
//! unop    = "exists" | "!exists" | "not_exists" ;
//! binop   = "==" | "equals" | "!=" | "not_equals" | ">" | "greater_than" | ">=" | "greater_than_equal"
//!         | "<" | "less_than" | "<=" | "less_than_equal" | "=~" | "matches" | "!~" | "not_matches" ;
//! listop  = "in" | "!in" | "not_in" ;
//! list    = "[" , value , { "," , value } , "]" ;
//! value   = bare | "'" , { char - "'" } , "'" | '"' , { char - '"' } , '"' ;
//! name    = 1*128 of A-Z a-z 0-9 _ . / \ - ;
//! ```
//!
//! # Decisions
//!
//! - **Precedence** is `not` > `and` > `or` **\[INF\]**: AWS does not state it; this is the usual
//!   convention. Parentheses override it and produce no node of their own.
//! - **Flattening**: `a and b and c` is one [`Expr::And`] with three operands, and so is
//!   `a and (b and c)`; a single operand is never wrapped. The same holds for `or`.
//! - **Case**: the keywords `and`, `or`, `not`, the word operators (`equals`, `in`, `not_exists`,
//!   ...) and the subject names (`runningTasksCount`, `task:group`, the `attribute:` prefix) are
//!   case-insensitive; attribute names and values keep their case.
//! - **Symbols need no spaces**: a subject ends at whitespace, `(`, `)` or where an operator
//!   symbol (`=`, `!`, `<`, `>`) starts, so `runningTasksCount==0` parses. Word operators and
//!   keywords need a word boundary: `attribute:index` is an attribute, not `attribute:` + `in`.
//! - **`!`** before an expression is `not`; after a subject it starts an operator (`!=`, `!~`,
//!   `!exists`, `!in`).
//! - **Values**: a bare value is everything up to whitespace, `,`, `]` or `)`, so it may contain
//!   `*`, `:`, `(`, `&` and so on (`runningTasksCount==0&&x` has the value `0&&x`). Anything else
//!   (spaces, commas, a regular expression with a `)`, the empty value) must be quoted with `'` or
//!   `"`; there are no escapes, so a quoted value cannot contain its own quote character.
//!   [`write_value`](super::ast::write_value) quotes only when needed.
//! - **Nesting**: at most [`MAX_NESTING`] parentheses deep, so that the recursive parser stays
//!   well inside a thread's stack (ECS documents no limit; [`MAX_LEN`] alone would allow about
//!   990). Negations are read in a loop and limited only by the length.
//! - **Only syntax is checked here**: `runningTasksCount == x` or `=~` with an invalid regular
//!   expression parse; the compiler rejects them with the atom's [`Span`].
//! - **Errors** give a 1-based *character* position, what was expected and what was found.
//!   Unclosed quotes, parentheses and brackets are reported where the text ends, naming the
//!   character position of the opening one.

use super::ast::{Arg, Atom, Expr, Op, Span, Subject, ends_bare_value};

/// Longest expression ECS accepts, in characters.
pub const MAX_LEN: usize = 2000;

/// Deepest nesting of parentheses the parser accepts. ECS documents no limit (its examples nest
/// one level); this one keeps the recursive parser well inside a thread's stack.
pub const MAX_NESTING: usize = 100;

/// Longest attribute name ECS accepts, in characters.
pub const MAX_ATTRIBUTE_NAME_LEN: usize = 128;

/// Why an expression does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: expected {expected}, found {found}")]
pub struct ParseError {
    /// 1-based character (not byte) position of the problem; one past the last character when
    /// the expression ended too early.
    pub position: usize,
    /// What the parser expected there, for example "a value" or "`)` closing the `(` at character 4".
    pub expected: String,
    /// What it found: a quoted token such as "`foo`" or "`)`", "whitespace" or "end of expression".
    pub found: String,
}

/// Parses a cluster query language expression.
///
/// # Errors
///
/// When `text` is longer than [`MAX_LEN`] characters or is not a complete expression of the
/// grammar in the module documentation.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    let length = text.chars().count();
    if length > MAX_LEN {
        return Err(ParseError {
            position: MAX_LEN + 1,
            expected: format!("at most {MAX_LEN} characters"),
            found: format!("{length} characters"),
        });
    }
    let mut parser = Parser {
        text,
        pos: 0,
        nesting: 0,
    };
    let expr = parser.or_expr()?;
    parser.skip_ws();
    if parser.at_end() {
        Ok(expr)
    } else {
        Err(parser.error_here("`and`, `or` or end of expression"))
    }
}

/// What the parser expects where an expression starts.
const EXPECTED_EXPRESSION: &str = "an expression: a subject, `not`, `!` or `(`";

/// What the parser expects where a subject starts but finds an unknown word.
const EXPECTED_SUBJECT: &str = "a subject: attribute:<name>, ec2InstanceId, task:group, registeredAt, \
                                runningTasksCount, agentVersion or agentConnected";

/// What the parser expects after a subject.
const EXPECTED_OPERATOR: &str = "an operator: ==, !=, >, >=, <, <=, =~, !~, exists, !exists, in, !in \
                                 or a word form (equals, not_equals, ...)";

/// What the parser expects in an attribute name.
const EXPECTED_NAME_CHAR: &str = "an attribute name character: A-Z, a-z, 0-9, `_`, `.`, `/`, `\\` or `-`";

/// The subjects other than `attribute:<name>`, by lowercase name.
const SUBJECTS: [(&str, Subject); 6] = [
    ("agentconnected", Subject::AgentConnected),
    ("agentversion", Subject::AgentVersion),
    ("ec2instanceid", Subject::Ec2InstanceId),
    ("registeredat", Subject::RegisteredAt),
    ("runningtaskscount", Subject::RunningTasksCount),
    ("task:group", Subject::TaskGroup),
];

/// The `attribute:` prefix of an attribute subject.
const ATTRIBUTE_PREFIX: &str = "attribute:";

/// The symbol operators, longest first where one is a prefix of another.
const SYMBOL_OPS: [(&str, Op); 8] = [
    ("==", Op::Eq),
    ("=~", Op::Matches),
    ("!=", Op::Ne),
    ("!~", Op::NotMatches),
    (">=", Op::Ge),
    ("<=", Op::Le),
    (">", Op::Gt),
    ("<", Op::Lt),
];

/// The word operators (and the words after `!`), by lowercase name.
const WORD_OPS: [(&str, Op); 12] = [
    ("equals", Op::Eq),
    ("not_equals", Op::Ne),
    ("greater_than", Op::Gt),
    ("greater_than_equal", Op::Ge),
    ("less_than", Op::Lt),
    ("less_than_equal", Op::Le),
    ("exists", Op::Exists),
    ("not_exists", Op::NotExists),
    ("in", Op::In),
    ("not_in", Op::NotIn),
    ("matches", Op::Matches),
    ("not_matches", Op::NotMatches),
];

/// The operators that may follow `!` directly, by lowercase word.
const BANG_WORD_OPS: [(&str, Op); 2] = [("exists", Op::NotExists), ("in", Op::NotIn)];

/// Whether `c` ends a subject: whitespace, a parenthesis, or the start of an operator symbol.
fn ends_subject(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '=' | '!' | '<' | '>')
}

/// Whether `c` continues a word, so that a keyword or word operator followed by it is not one.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '/' | '\\' | '-' | ':')
}

/// Whether `c` may appear in an attribute name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '\\' | '-')
}

/// Whether `c` is part of an operator or connective symbol (for describing what was found).
fn is_symbol_char(c: char) -> bool {
    matches!(c, '=' | '!' | '<' | '>' | '~' | '&' | '|')
}

/// The length in bytes of the run of characters satisfying `keep` at the start of `text`: ASCII
/// characters are read as bytes (expressions are mostly ASCII), others decoded.
fn run_length(text: &str, keep: impl Fn(char) -> bool) -> usize {
    let bytes = text.as_bytes();
    let ascii = bytes
        .iter()
        .position(|&b| !b.is_ascii() || !keep(char::from(b)))
        .unwrap_or(bytes.len());
    if bytes.get(ascii).is_some_and(|b| !b.is_ascii()) {
        let rest = &text[ascii..];
        ascii + rest.find(|c| !keep(c)).unwrap_or(rest.len())
    } else {
        ascii
    }
}

/// Looks `word` up case-insensitively in a table of lowercase names.
fn lookup<T: Clone>(table: &[(&str, T)], word: &str) -> Option<T> {
    table
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|(_, v)| v.clone())
}

/// `token` in backticks, shortened when long.
fn quote_token(token: &str) -> String {
    const MAX: usize = 32;
    if token.chars().count() > MAX {
        format!("`{}…`", token.chars().take(MAX).collect::<String>())
    } else {
        format!("`{token}`")
    }
}

/// Joins parsed operands of `and` (or `or`): a single one as is, several into `wrap`, with
/// operands of the same kind spliced in (`a and (b and c)` is `a and b and c`).
fn join(
    operands: Vec<Expr>,
    unwrap: fn(Expr) -> Result<Vec<Expr>, Expr>,
    wrap: fn(Vec<Expr>) -> Expr,
) -> Expr {
    let mut flat = Vec::with_capacity(operands.len());
    for operand in operands {
        match unwrap(operand) {
            Ok(inner) => flat.extend(inner),
            Err(other) => flat.push(other),
        }
    }
    match <[Expr; 1]>::try_from(flat) {
        Ok([single]) => single,
        Err(flat) => wrap(flat),
    }
}

/// The operands of an [`Expr::And`], or the expression back.
fn and_operands(e: Expr) -> Result<Vec<Expr>, Expr> {
    match e {
        Expr::And(operands) => Ok(operands),
        other => Err(other),
    }
}

/// The operands of an [`Expr::Or`], or the expression back.
fn or_operands(e: Expr) -> Result<Vec<Expr>, Expr> {
    match e {
        Expr::Or(operands) => Ok(operands),
        other => Err(other),
    }
}

/// A recursive-descent parser over `text`, at byte offset `pos`.
struct Parser<'t> {
    /// The whole expression.
    text: &'t str,
    /// Byte offset of the next character.
    pos: usize,
    /// How many parentheses are open.
    nesting: usize,
}

impl<'t> Parser<'t> {
    /// The text from the current position on.
    fn rest(&self) -> &'t str {
        &self.text[self.pos..]
    }

    /// Whether everything has been read.
    fn at_end(&self) -> bool {
        self.pos == self.text.len()
    }

    /// The next character.
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Skips whitespace.
    fn skip_ws(&mut self) {
        self.take_while(char::is_whitespace);
    }

    /// Consumes `c` if it is next.
    fn eat_char(&mut self, c: char) -> bool {
        let found = self.peek() == Some(c);
        if found {
            self.pos += c.len_utf8();
        }
        found
    }

    /// Consumes the longest run of characters satisfying `keep` and returns it.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'t str {
        let (text, start) = (self.text, self.pos);
        self.pos += run_length(&text[start..], keep);
        &text[start..self.pos]
    }

    /// The word (run of word characters) at byte offset `at`.
    fn word_at(&self, at: usize) -> &'t str {
        let rest = &self.text[at..];
        &rest[..run_length(rest, is_word_char)]
    }

    /// Consumes the keyword `word` (any case) if it is the whole next word.
    fn eat_keyword(&mut self, word: &str) -> bool {
        // The keyword's bytes, then no word character (not a scan of the whole word).
        let rest = self.rest();
        let found = rest
            .as_bytes()
            .get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word.as_bytes()))
            && !rest[word.len()..].chars().next().is_some_and(is_word_char);
        if found {
            self.pos += word.len();
        }
        found
    }

    /// Skips whitespace and consumes the connective `symbol` or `word` if it is next.
    fn eat_connective(&mut self, symbol: &str, word: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(symbol) {
            self.pos += symbol.len();
            return true;
        }
        self.eat_keyword(word)
    }

    /// The 1-based character position of byte offset `at`.
    fn char_position(&self, at: usize) -> usize {
        self.text[..at].chars().count() + 1
    }

    /// What is at byte offset `at`, for an error message.
    fn describe(&self, at: usize) -> String {
        let rest = &self.text[at..];
        match rest.chars().next() {
            None => "end of expression".to_owned(),
            Some(c) if c.is_whitespace() => "whitespace".to_owned(),
            Some(c) if is_word_char(c) => quote_token(self.word_at(at)),
            Some(c) if is_symbol_char(c) => {
                quote_token(&rest[..rest.find(|c| !is_symbol_char(c)).unwrap_or(rest.len())])
            }
            Some(c) => quote_token(c.encode_utf8(&mut [0; 4])),
        }
    }

    /// An error at byte offset `at`.
    fn error_at(&self, at: usize, expected: impl Into<String>, found: String) -> ParseError {
        ParseError {
            position: self.char_position(at),
            expected: expected.into(),
            found,
        }
    }

    /// An error at the current position, describing what is there.
    fn error_here(&self, expected: impl Into<String>) -> ParseError {
        self.error_at(self.pos, expected, self.describe(self.pos))
    }

    /// `or = and {("or" | "||") and}`.
    fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let first = self.and_expr()?;
        if !self.eat_connective("||", "or") {
            return Ok(first);
        }
        let mut operands = vec![first, self.and_expr()?];
        while self.eat_connective("||", "or") {
            operands.push(self.and_expr()?);
        }
        Ok(join(operands, or_operands, Expr::Or))
    }

    /// `and = unary {("and" | "&&") unary}`.
    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let first = self.unary()?;
        if !self.eat_connective("&&", "and") {
            return Ok(first);
        }
        let mut operands = vec![first, self.unary()?];
        while self.eat_connective("&&", "and") {
            operands.push(self.unary()?);
        }
        Ok(join(operands, and_operands, Expr::And))
    }

    /// `unary = ("not" | "!") unary | "(" expr ")" | atom`; a run of negations is read in a loop.
    fn unary(&mut self) -> Result<Expr, ParseError> {
        let mut negations = 0;
        loop {
            self.skip_ws();
            if !(self.eat_char('!') || self.eat_keyword("not")) {
                break;
            }
            negations += 1;
        }
        let mut expr = self.primary()?;
        for _ in 0..negations {
            expr = Expr::Not(Box::new(expr));
        }
        Ok(expr)
    }

    /// `"(" expr ")" | atom`.
    fn primary(&mut self) -> Result<Expr, ParseError> {
        let open = self.pos;
        if !self.eat_char('(') {
            return self.atom().map(Expr::Atom);
        }
        if self.nesting == MAX_NESTING {
            let expected = format!("at most {MAX_NESTING} nested parentheses");
            return Err(self.error_at(open, expected, "`(`".to_owned()));
        }
        self.nesting += 1;
        let inner = self.or_expr()?;
        self.nesting -= 1;
        self.skip_ws();
        if self.eat_char(')') {
            Ok(inner)
        } else {
            let at = self.char_position(open);
            Err(self.error_here(format!("`and`, `or` or `)` closing the `(` at character {at}")))
        }
    }

    /// `atom = subject (unop | binop value | listop list)`.
    fn atom(&mut self) -> Result<Atom, ParseError> {
        let start = self.pos;
        let subject = self.subject()?;
        self.skip_ws();
        let op = self.operator()?;
        let arg = match op {
            Op::Exists | Op::NotExists => Arg::None,
            Op::In | Op::NotIn => Arg::List(self.list()?),
            _ => Arg::Value(self.value()?),
        };
        Ok(Atom {
            subject,
            op,
            arg,
            span: Span { start, end: self.pos },
        })
    }

    /// A subject name (any case) or `attribute:<name>`.
    fn subject(&mut self) -> Result<Subject, ParseError> {
        let start = self.pos;
        let token = self.take_while(|c| !ends_subject(c));
        if token.is_empty() {
            return Err(self.error_here(EXPECTED_EXPRESSION));
        }
        let prefix = token.get(..ATTRIBUTE_PREFIX.len());
        if prefix.is_some_and(|p| p.eq_ignore_ascii_case(ATTRIBUTE_PREFIX)) {
            let name_start = start + ATTRIBUTE_PREFIX.len();
            let name = &self.text[name_start..self.pos];
            self.check_attribute_name(name_start, name)?;
            return Ok(Subject::Attribute(name.to_owned()));
        }
        lookup(&SUBJECTS, token).ok_or_else(|| self.error_at(start, EXPECTED_SUBJECT, quote_token(token)))
    }

    /// Checks an attribute name starting at byte offset `start`: 1 to 128 name characters.
    fn check_attribute_name(&self, start: usize, name: &str) -> Result<(), ParseError> {
        if name.is_empty() {
            return Err(self.error_at(
                start,
                "an attribute name after `attribute:`",
                self.describe(start),
            ));
        }
        for (count, (offset, c)) in name.char_indices().enumerate() {
            if !is_name_char(c) {
                return Err(self.error_at(start + offset, EXPECTED_NAME_CHAR, quote_token(&c.to_string())));
            }
            if count == MAX_ATTRIBUTE_NAME_LEN {
                let expected = format!("at most {MAX_ATTRIBUTE_NAME_LEN} characters in an attribute name");
                return Err(self.error_at(
                    start + offset,
                    expected,
                    format!("{} characters", name.chars().count()),
                ));
            }
        }
        Ok(())
    }

    /// A symbol operator, `!exists`/`!in`, or a word operator (any case, whole word).
    fn operator(&mut self) -> Result<Op, ParseError> {
        if let Some(&(symbol, op)) = SYMBOL_OPS.iter().find(|(s, _)| self.rest().starts_with(s)) {
            self.pos += symbol.len();
            return Ok(op);
        }
        let bang = self.rest().starts_with('!');
        let word_start = self.pos + usize::from(bang);
        let word = self.word_at(word_start);
        let op = if bang {
            lookup(&BANG_WORD_OPS, word)
        } else {
            lookup(&WORD_OPS, word)
        };
        match op {
            Some(op) => {
                self.pos = word_start + word.len();
                Ok(op)
            }
            None => Err(self.error_here(EXPECTED_OPERATOR)),
        }
    }

    /// `list = "[" value {"," value} "]"`.
    fn list(&mut self) -> Result<Vec<String>, ParseError> {
        self.skip_ws();
        let open = self.pos;
        if !self.eat_char('[') {
            return Err(self.error_here("`[` starting the list of values"));
        }
        self.skip_ws();
        if self.peek() == Some(']') {
            return Err(self.error_here("a value (a list has at least one)"));
        }
        let mut values = vec![self.value()?];
        loop {
            self.skip_ws();
            if self.eat_char(',') {
                values.push(self.value()?);
            } else if self.eat_char(']') {
                return Ok(values);
            } else {
                let at = self.char_position(open);
                return Err(self.error_here(format!("`,` or `]` closing the `[` at character {at}")));
            }
        }
    }

    /// `value = bare | 'quoted' | "quoted"` (returned without the quotes).
    fn value(&mut self) -> Result<String, ParseError> {
        self.skip_ws();
        match self.peek() {
            Some(quote @ ('\'' | '"')) => self.quoted(quote),
            Some(c) if !ends_bare_value(c) => Ok(self.take_while(|c| !ends_bare_value(c)).to_owned()),
            _ => Err(self.error_here("a value")),
        }
    }

    /// A value in `quote`s, the opening one next.
    fn quoted(&mut self, quote: char) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += quote.len_utf8();
        let Some(length) = self.rest().find(quote) else {
            let at = self.char_position(open);
            self.pos = self.text.len();
            return Err(self.error_here(format!("`{quote}` closing the quote at character {at}")));
        };
        let value = self.rest()[..length].to_owned();
        self.pos += length + quote.len_utf8();
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use proptest::prelude::*;

    use super::*;
    use crate::translate::placement::ast::{needs_quotes, write_value};

    /// `e` with every span cleared, so that trees parsed from different texts compare equal.
    fn strip(e: Expr) -> Expr {
        match e {
            Expr::Atom(atom) => Expr::Atom(Atom {
                span: Span::default(),
                ..atom
            }),
            Expr::Not(inner) => Expr::Not(Box::new(strip(*inner))),
            Expr::And(operands) => Expr::And(operands.into_iter().map(strip).collect()),
            Expr::Or(operands) => Expr::Or(operands.into_iter().map(strip).collect()),
        }
    }

    /// Parses `text`, panicking with the error, spans cleared.
    fn parsed(text: &str) -> Expr {
        strip(parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}")))
    }

    /// The parse error of `text`, panicking when it parses.
    fn error(text: &str) -> ParseError {
        match parse(text) {
            Ok(e) => panic!("{text:?} parsed to {e:?}"),
            Err(e) => e,
        }
    }

    /// An atom without span.
    fn atom(subject: Subject, op: Op, arg: Arg) -> Expr {
        Expr::Atom(Atom {
            subject,
            op,
            arg,
            span: Span::default(),
        })
    }

    /// `attribute:<name> == <value>` without span.
    fn attr_eq(name: &str, value: &str) -> Expr {
        atom(
            Subject::Attribute(name.to_owned()),
            Op::Eq,
            Arg::Value(value.to_owned()),
        )
    }

    /// `attribute:<name> exists` without span.
    fn exists(name: &str) -> Expr {
        atom(Subject::Attribute(name.to_owned()), Op::Exists, Arg::None)
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    fn value(v: &str) -> Arg {
        Arg::Value(v.to_owned())
    }

    fn list(vs: &[&str]) -> Arg {
        Arg::List(vs.iter().map(|v| (*v).to_owned()).collect())
    }

    /// The expressions of the corpus (the part of each line before the TAB).
    fn corpus() -> Vec<String> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus/ecs/member-of-expressions.txt"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        text.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| line.split('\t').next().unwrap_or(line).to_owned())
            .collect()
    }

    #[test]
    fn every_corpus_expression_parses_and_its_display_reads_back() {
        let expressions = corpus();
        assert!(expressions.len() >= 38, "{} expressions", expressions.len());
        for text in &expressions {
            let expr = parsed(text);
            assert_eq!(parsed(&expr.to_string()), expr, "{text}");
        }
    }

    #[test]
    fn corpus_expressions_parse_to_the_expected_trees() {
        assert_eq!(
            parse("not(task:group == database)"),
            Ok(Expr::Not(Box::new(Expr::Atom(Atom {
                subject: Subject::TaskGroup,
                op: Op::Eq,
                arg: value("database"),
                span: Span { start: 4, end: 26 },
            }))))
        );
        assert_eq!(
            parsed("attribute:ecs.instance-type =~ g2.* and attribute:ecs.availability-zone != us-east-1d"),
            Expr::And(vec![
                atom(
                    Subject::Attribute("ecs.instance-type".into()),
                    Op::Matches,
                    value("g2.*")
                ),
                atom(
                    Subject::Attribute("ecs.availability-zone".into()),
                    Op::Ne,
                    value("us-east-1d")
                ),
            ])
        );
        assert_eq!(
            parsed("ec2InstanceId in ['i-abcd1234', 'i-wxyx7890']"),
            atom(
                Subject::Ec2InstanceId,
                Op::In,
                list(&["i-abcd1234", "i-wxyx7890"])
            )
        );
        assert_eq!(
            parsed("attribute:ecs.availability-zone in [us-east-1a, us-east-1b]"),
            atom(
                Subject::Attribute("ecs.availability-zone".into()),
                Op::In,
                list(&["us-east-1a", "us-east-1b"])
            )
        );
        assert_eq!(
            parsed("runningTasksCount==0"),
            atom(Subject::RunningTasksCount, Op::Eq, value("0"))
        );
        assert_eq!(
            parsed("task:group!=service:SINATRA-service-group-P1"),
            atom(
                Subject::TaskGroup,
                Op::Ne,
                value("service:SINATRA-service-group-P1")
            )
        );
        assert_eq!(parsed("attribute:flavor==test"), attr_eq("flavor", "test"));
        assert_eq!(
            parsed("agentVersion < 1.14.5"),
            atom(Subject::AgentVersion, Op::Lt, value("1.14.5"))
        );
        assert_eq!(
            parsed("registeredAt < 2018-02-13"),
            atom(Subject::RegisteredAt, Op::Lt, value("2018-02-13"))
        );
        assert_eq!(parsed("attribute:Special == true"), attr_eq("Special", "true"));
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        let (a, b, c, d) = (exists("a"), exists("b"), exists("c"), exists("d"));
        assert_eq!(
            parsed("attribute:a exists or attribute:b exists and not attribute:c exists"),
            Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), not(c.clone())])])
        );
        assert_eq!(
            parsed("attribute:a exists and attribute:b exists or attribute:c exists and attribute:d exists"),
            Expr::Or(vec![
                Expr::And(vec![a.clone(), b.clone()]),
                Expr::And(vec![c.clone(), d.clone()])
            ])
        );
        assert_eq!(
            parsed("not attribute:a exists and attribute:b exists"),
            Expr::And(vec![not(a.clone()), b.clone()])
        );
    }

    #[test]
    fn parentheses_override_precedence_and_produce_no_node() {
        let (a, b, c) = (exists("a"), exists("b"), exists("c"));
        assert_eq!(
            parsed("(attribute:a exists or attribute:b exists) and attribute:c exists"),
            Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            parsed("not (attribute:a exists and attribute:b exists)"),
            not(Expr::And(vec![a.clone(), b.clone()]))
        );
        assert_eq!(parsed("((attribute:a exists))"), a);
        assert_eq!(parsed(" ( ( attribute:a exists ) ) "), a);
        assert_eq!(parsed("not(not(attribute:a exists))"), not(not(a.clone())));
    }

    #[test]
    fn nested_operands_of_the_same_kind_are_flattened() {
        let (a, b, c) = (exists("a"), exists("b"), exists("c"));
        let and = Expr::And(vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(
            parsed("attribute:a exists and attribute:b exists and attribute:c exists"),
            and
        );
        assert_eq!(
            parsed("attribute:a exists and (attribute:b exists and attribute:c exists)"),
            and
        );
        assert_eq!(
            parsed("(attribute:a exists && attribute:b exists) && attribute:c exists"),
            and
        );
        let or = Expr::Or(vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(
            parsed("attribute:a exists or (attribute:b exists || attribute:c exists)"),
            or
        );
    }

    #[test]
    fn keywords_are_case_insensitive_and_have_symbol_forms() {
        let (a, b, c) = (exists("a"), exists("b"), exists("c"));
        let expected = Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), not(c.clone())]);
        for text in [
            "attribute:a exists AND attribute:b exists Or NOT attribute:c exists",
            "attribute:a exists aNd attribute:b exists OR nOt(attribute:c exists)",
            "attribute:a exists && attribute:b exists || !attribute:c exists",
            "attribute:a exists&&attribute:b exists||!attribute:c exists",
            "(attribute:a exists)and(attribute:b exists)or(not(attribute:c exists))",
            "attribute:a exists and attribute:b exists or ! (attribute:c exists)",
        ] {
            assert_eq!(parsed(text), expected, "{text}");
        }
        assert_eq!(parsed("!!attribute:a exists"), not(not(a.clone())));
        assert_eq!(parsed("not not attribute:a exists"), not(not(a)));
    }

    #[test]
    fn every_operator_parses_in_symbol_and_word_form() {
        let x = || Subject::Attribute("x".into());
        let cases: [(&[&str], Op, Arg); 12] = [
            (&["==", "equals", "EQUALS"], Op::Eq, value("v")),
            (&["!=", "not_equals", "Not_Equals"], Op::Ne, value("v")),
            (&[">", "greater_than", "GREATER_THAN"], Op::Gt, value("v")),
            (&[">=", "greater_than_equal"], Op::Ge, value("v")),
            (&["<", "less_than"], Op::Lt, value("v")),
            (&["<=", "less_than_equal"], Op::Le, value("v")),
            (&["=~", "matches", "MATCHES"], Op::Matches, value("v")),
            (&["!~", "not_matches"], Op::NotMatches, value("v")),
            (&["exists", "EXISTS"], Op::Exists, Arg::None),
            (
                &["!exists", "not_exists", "!EXISTS", "NOT_EXISTS"],
                Op::NotExists,
                Arg::None,
            ),
            (&["in", "IN"], Op::In, list(&["v"])),
            (&["!in", "not_in", "!In"], Op::NotIn, list(&["v"])),
        ];
        for (forms, op, arg) in cases {
            let argument = match &arg {
                Arg::None => "",
                Arg::Value(_) => "v",
                Arg::List(_) => "[v]",
            };
            let expected = atom(x(), op, arg.clone());
            for form in forms {
                assert_eq!(
                    parsed(&format!("attribute:x {form} {argument}")),
                    expected,
                    "{form}"
                );
                assert_eq!(
                    parsed(&format!("attribute:x   {form}\t{argument}  ")),
                    expected,
                    "{form}"
                );
                if !form.starts_with(char::is_alphabetic) {
                    // Symbol forms need no space before them, nor after when a word follows.
                    assert_eq!(
                        parsed(&format!("attribute:x{form}{argument}")),
                        expected,
                        "{form}"
                    );
                }
            }
            assert_eq!(
                parsed(&format!("attribute:x {} {argument}", op.symbol())),
                expected
            );
        }
    }

    #[test]
    fn subjects_are_case_insensitive_and_attribute_names_keep_their_case() {
        let cases = [
            ("agentConnected", Subject::AgentConnected),
            ("AGENTCONNECTED", Subject::AgentConnected),
            ("agentVersion", Subject::AgentVersion),
            ("ec2InstanceId", Subject::Ec2InstanceId),
            ("EC2INSTANCEID", Subject::Ec2InstanceId),
            ("registeredAt", Subject::RegisteredAt),
            ("runningTasksCount", Subject::RunningTasksCount),
            ("runningtaskscount", Subject::RunningTasksCount),
            ("task:group", Subject::TaskGroup),
            ("Task:Group", Subject::TaskGroup),
            ("attribute:Stack", Subject::Attribute("Stack".into())),
            ("ATTRIBUTE:Stack", Subject::Attribute("Stack".into())),
            (
                "attribute:a\\b/c.d-e_F9",
                Subject::Attribute("a\\b/c.d-e_F9".into()),
            ),
        ];
        for (text, subject) in cases {
            assert_eq!(
                parsed(&format!("{text} == 1")),
                atom(subject, Op::Eq, value("1")),
                "{text}"
            );
        }
    }

    #[test]
    fn words_need_a_boundary() {
        // Attribute names that begin like keywords and operators.
        assert_eq!(parsed("attribute:notes exists"), exists("notes"));
        assert_eq!(parsed("not attribute:notes exists"), not(exists("notes")));
        assert_eq!(parsed("!attribute:not exists"), not(exists("not")));
        assert_eq!(
            parsed("attribute:index in [a]"),
            atom(Subject::Attribute("index".into()), Op::In, list(&["a"]))
        );
        assert_eq!(
            parsed("attribute:x in[a]"),
            atom(Subject::Attribute("x".into()), Op::In, list(&["a"]))
        );
        assert_eq!(parsed("attribute:andor exists"), exists("andor"));
        // `!` after a subject starts an operator.
        assert_eq!(
            parsed("attribute:x!exists"),
            atom(Subject::Attribute("x".into()), Op::NotExists, Arg::None)
        );
        assert_eq!(
            parsed("attribute:x !in [a]"),
            atom(Subject::Attribute("x".into()), Op::NotIn, list(&["a"]))
        );
        // A word that only begins like an operator is not one.
        assert_eq!(error("attribute:x existsx").position, 13);
        assert_eq!(error("attribute:x inside [a]").position, 13);
        assert_eq!(error("attribute:x exists andx attribute:y exists").position, 20);
        assert_eq!(error("notattribute:x exists").found, "`notattribute:x`");
    }

    #[test]
    fn values_are_bare_or_quoted() {
        let x = |op, arg| atom(Subject::Attribute("x".into()), op, arg);
        assert_eq!(parsed("attribute:x == 'a b, c]'"), x(Op::Eq, value("a b, c]")));
        assert_eq!(parsed("attribute:x == \"it's\""), x(Op::Eq, value("it's")));
        assert_eq!(
            parsed("attribute:x == 'say \"hi\"'"),
            x(Op::Eq, value("say \"hi\""))
        );
        assert_eq!(parsed("attribute:x == it's"), x(Op::Eq, value("it's")));
        assert_eq!(parsed("attribute:x == ''"), x(Op::Eq, value("")));
        assert_eq!(parsed("attribute:x == café"), x(Op::Eq, value("café")));
        assert_eq!(parsed("attribute:x =~ ^a(b|c"), x(Op::Matches, value("^a(b|c")));
        assert_eq!(
            parsed("attribute:x =~ '^a(b|c)*$'"),
            x(Op::Matches, value("^a(b|c)*$"))
        );
        assert_eq!(
            parsed("attribute:x in [ 'a b' ,\"c\",d ]"),
            x(Op::In, list(&["a b", "c", "d"]))
        );
        assert_eq!(
            parsed("attribute:x in [a,b,c]"),
            x(Op::In, list(&["a", "b", "c"]))
        );
        assert_eq!(parsed("(attribute:x == v)"), x(Op::Eq, value("v")));
        assert_eq!(parsed("attribute:x == 0&&y"), x(Op::Eq, value("0&&y")));
        // Semantics are the compiler's: neither of these is rejected here.
        assert_eq!(
            parsed("runningTasksCount == x"),
            atom(Subject::RunningTasksCount, Op::Eq, value("x"))
        );
        assert_eq!(parsed("attribute:x =~ '(['"), x(Op::Matches, value("([")));
        assert_eq!(
            parsed("agentConnected in [maybe]"),
            atom(Subject::AgentConnected, Op::In, list(&["maybe"]))
        );
    }

    #[test]
    fn an_unquoted_regex_with_a_group_ends_at_its_parenthesis() {
        // A bare value ends at `)`, so an unquoted regular expression with a group does not parse.
        let e = error("attribute:x =~ (a|b)");
        assert_eq!((e.position, e.found.as_str()), (20, "`)`"));
    }

    #[test]
    fn atoms_carry_their_byte_span() {
        let text = "attribute:e == 'ü' and (ec2InstanceId in [a, 'b'] or attribute:y exists)";
        let Ok(Expr::And(operands)) = parse(text) else {
            panic!("{text}")
        };
        let spans: Vec<&str> = operands
            .iter()
            .flat_map(|e| match e {
                Expr::Atom(a) => vec![a.span],
                Expr::Or(inner) => inner
                    .iter()
                    .map(|e| match e {
                        Expr::Atom(a) => a.span,
                        other => panic!("{other:?}"),
                    })
                    .collect(),
                other => panic!("{other:?}"),
            })
            .map(|span| &text[span.start..span.end])
            .collect();
        assert_eq!(
            spans,
            [
                "attribute:e == 'ü'",
                "ec2InstanceId in [a, 'b']",
                "attribute:y exists"
            ]
        );
        let text = "agentVersion == 'üü' or  runningTasksCount > 1";
        let Ok(Expr::Or(operands)) = parse(text) else {
            panic!("{text}")
        };
        let Expr::Atom(second) = &operands[1] else {
            panic!("{operands:?}")
        };
        assert_eq!(
            (second.span, second.span.position_in(text)),
            (Span { start: 27, end: 48 }, 26)
        );
    }

    /// Asserts that `text` fails at character `position` with `found`, and `expected` containing
    /// `expected_part`.
    fn assert_error(text: &str, position: usize, expected_part: &str, found: &str) {
        let e = error(text);
        assert_eq!(e.position, position, "{text:?}: {e}");
        assert!(e.expected.contains(expected_part), "{text:?}: {e}");
        assert_eq!(e.found, found, "{text:?}: {e}");
        let message = e.to_string();
        assert!(
            message.contains(&position.to_string()) && message.contains(found),
            "{message}"
        );
    }

    #[test]
    fn errors_name_the_character_what_was_expected_and_what_was_found() {
        // Empty.
        assert_error("", 1, "an expression", "end of expression");
        assert_error("   ", 4, "an expression", "end of expression");
        // Unknown subject.
        assert_error(
            "foo == bar",
            1,
            "a subject: attribute:<name>, ec2InstanceId, task:group",
            "`foo`",
        );
        assert_error("task:groups == a", 1, "a subject", "`task:groups`");
        assert_error(
            "attribute:a exists and ec2InstanceIds exists",
            24,
            "a subject",
            "`ec2InstanceIds`",
        );
        // Missing operator.
        assert_error("attribute:x", 12, "an operator", "end of expression");
        assert_error("attribute:x v", 13, "an operator", "`v`");
        assert_error("attribute:x = v", 13, "an operator", "`=`");
        assert_error("attribute:x ! exists", 13, "an operator", "`!`");
        // Missing value.
        assert_error("attribute:x ==", 15, "a value", "end of expression");
        assert_error("attribute:x == ", 16, "a value", "end of expression");
        assert_error("(attribute:x ==)", 16, "a value", "`)`");
        assert_error("attribute:x in [a,]", 19, "a value", "`]`");
        assert_error("attribute:x in [a,,b]", 19, "a value", "`,`");
        // Unterminated quotes.
        assert_error(
            "attribute:x == 'abc",
            20,
            "`'` closing the quote at character 16",
            "end of expression",
        );
        assert_error(
            "attribute:x in [\"a, b]",
            23,
            "`\"` closing the quote at character 17",
            "end of expression",
        );
        // Unclosed parenthesis and bracket.
        assert_error(
            "(attribute:x exists",
            20,
            "`)` closing the `(` at character 1",
            "end of expression",
        );
        assert_error(
            "not ((attribute:x exists)",
            26,
            "`)` closing the `(` at character 5",
            "end of expression",
        );
        assert_error(
            "(attribute:x exists attribute:y exists)",
            21,
            "`)` closing the `(`",
            "`attribute:y`",
        );
        assert_error(
            "attribute:x in [a, b",
            21,
            "`,` or `]` closing the `[` at character 16",
            "end of expression",
        );
        assert_error("attribute:x in [a b]", 19, "`,` or `]`", "`b`");
        assert_error("attribute:x in a", 16, "`[`", "`a`");
        assert_error("attribute:x in", 15, "`[`", "end of expression");
        // Empty list.
        assert_error(
            "attribute:x in []",
            17,
            "a value (a list has at least one)",
            "`]`",
        );
        assert_error(
            "attribute:x in [ ]",
            18,
            "a value (a list has at least one)",
            "`]`",
        );
        // Trailing input.
        assert_error(
            "attribute:a == b c",
            18,
            "`and`, `or` or end of expression",
            "`c`",
        );
        assert_error("attribute:x exists)", 19, "end of expression", "`)`");
        assert_error(
            "attribute:x exists & attribute:y exists",
            20,
            "end of expression",
            "`&`",
        );
        assert_error("attribute:x == [a]", 18, "end of expression", "`]`");
        // Incomplete compound.
        assert_error("not", 4, "an expression", "end of expression");
        assert_error("attribute:x exists and", 23, "an expression", "end of expression");
        assert_error("attribute:x exists or )", 23, "an expression", "`)`");
        assert_error("()", 2, "an expression", "`)`");
        assert_error("!=", 2, "an expression", "`=`");
        // Attribute names.
        assert_error("attribute: == x", 11, "an attribute name", "whitespace");
        assert_error("attribute:==x", 11, "an attribute name", "`==`");
        assert_error("attribute:", 11, "an attribute name", "end of expression");
        assert_error("attribute:a,b == c", 12, "an attribute name character", "`,`");
        assert_error("attribute:a:b == c", 12, "an attribute name character", "`:`");
        let long = "n".repeat(MAX_ATTRIBUTE_NAME_LEN + 1);
        assert_error(
            &format!("attribute:{long} exists"),
            11 + MAX_ATTRIBUTE_NAME_LEN,
            "at most 128",
            "129 characters",
        );
        let longest = "n".repeat(MAX_ATTRIBUTE_NAME_LEN);
        assert_eq!(parsed(&format!("attribute:{longest} exists")), exists(&longest));
    }

    #[test]
    fn error_positions_count_characters_not_bytes() {
        // `é`, `ü` and `日本` take 2, 2 and 6 bytes.
        assert_error("attribute:x == 'é' and foo == 1", 24, "a subject", "`foo`");
        assert_error("attribute:x == 日本 c", 19, "end of expression", "`c`");
        assert_error("attribute:x in ['ü', ü", 23, "`,` or `]`", "end of expression");
        assert_error(
            "attribute:x == 'ü' and attribute:é == 1",
            34,
            "an attribute name character",
            "`é`",
        );
        assert_error(
            "attribute:x == 'ü",
            18,
            "closing the quote at character 16",
            "end of expression",
        );
    }

    #[test]
    fn expressions_up_to_max_len_characters_parse() {
        let head = "attribute:x == '";
        // Multi-byte characters: the limit is on characters.
        let fill = |n: usize| "é".repeat(n - head.len() - 1);
        let longest = format!("{head}{}'", fill(MAX_LEN));
        assert_eq!(longest.chars().count(), MAX_LEN);
        assert!(parse(&longest).is_ok());
        let too_long = format!("{head}{}'", fill(MAX_LEN + 1));
        let e = error(&too_long);
        assert_eq!(
            (e.position, e.expected.as_str()),
            (MAX_LEN + 1, "at most 2000 characters")
        );
        assert_eq!(e.found, "2001 characters");
        // Even a string of junk that long is rejected for its length first.
        assert_eq!(error(&")".repeat(MAX_LEN + 1)).position, MAX_LEN + 1);
    }

    #[test]
    fn parentheses_nest_up_to_max_nesting() {
        let a = "attribute:a exists";
        let nested = |depth: usize| format!("{}{a}{}", "(".repeat(depth), ")".repeat(depth));
        assert_eq!(parsed(&nested(MAX_NESTING)), exists("a"));
        assert_error(
            &nested(MAX_NESTING + 1),
            MAX_NESTING + 1,
            "at most 100 nested parentheses",
            "`(`",
        );
        assert!((MAX_LEN - a.len()) / 2 > MAX_NESTING, "the limit matters");
        let text = format!("{}{a}{}", "not(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(parse(&text).is_ok());
        // Negations are read in a loop, so they have no limit but the length; the tree they
        // make can be cloned, compared, shown and dropped.
        let text = format!("{}{a}", "!".repeat(MAX_LEN - a.len()));
        let expr = parse(&text).expect("parses");
        assert_eq!(expr.clone(), expr);
        let shown = expr.to_string();
        assert!(shown.starts_with("not not ") && format!("{expr:?}").starts_with("Not(Not("));
    }

    #[test]
    fn display_of_a_parse_needs_no_deeper_nesting_than_the_text() {
        let a = "attribute:a exists";
        let text = format!("{}{a}{}", "!(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        let expr = parsed(&text);
        assert_eq!(parsed(&expr.to_string()), expr);
        let text = format!(
            "{}{a} or {a}{}",
            "!(".repeat(MAX_NESTING),
            ")".repeat(MAX_NESTING)
        );
        let expr = parsed(&text);
        assert_eq!(parsed(&expr.to_string()), expr);
    }

    #[test]
    fn display_quotes_values_only_when_needed() {
        let mut out = String::new();
        for v in [
            "a", "", "a b", "a,b", "a]", "a)", "'a", "\"a", "it's x", "(a", "a'b",
        ] {
            write_value(&mut out, v).expect("string");
            out.push('|');
        }
        assert_eq!(out, "a|''|'a b'|'a,b'|'a]'|'a)'|\"'a\"|'\"a'|\"it's x\"|(a|a'b|");
        for text in [
            "not attribute:x in ['a b', c] and (task:group == 'x y' or runningTasksCount > 1)",
            "not(attribute:x == \"it's x\" or attribute:y !exists) or not not agentConnected == true",
        ] {
            assert_eq!(parsed(text).to_string(), text);
        }
        assert_eq!(
            parsed("not(task:group == database)").to_string(),
            "not task:group == database"
        );
    }

    // ---- Round trip: random trees, printed with every compound in parentheses ----

    /// How the test printer writes keywords and operators.
    #[derive(Debug, Clone, Copy)]
    struct Style {
        /// Word operators (`equals`) rather than symbols (`==`) where there is a word form.
        words: bool,
        /// `&&`, `||`, `!` rather than `and`, `or`, `not`.
        symbols: bool,
        /// Keywords, word operators and subject names in upper case.
        upper: bool,
        /// No space between a subject and a symbol operator.
        tight: bool,
    }

    /// The word form of `op`, if it has one other than its symbol.
    fn word_form(op: Op) -> Option<&'static str> {
        WORD_OPS.iter().rev().find(|(_, o)| *o == op).map(|(w, _)| *w)
    }

    /// Writes `word` in the style's case.
    fn cased(style: Style, word: &str) -> String {
        if style.upper {
            word.to_uppercase()
        } else {
            word.to_owned()
        }
    }

    /// The test's own printer (independent of the `Display` impls).
    fn print(e: &Expr, style: Style, out: &mut String) {
        let keyword = |symbol: &str, word: &str| {
            if style.symbols {
                symbol.to_owned()
            } else {
                cased(style, word)
            }
        };
        match e {
            Expr::Atom(a) => print_atom(a, style, out),
            Expr::Not(inner) => {
                out.push('(');
                out.push_str(&keyword("!", "not "));
                print(inner, style, out);
                out.push(')');
            }
            Expr::And(operands) | Expr::Or(operands) => {
                let separator = if matches!(e, Expr::And(_)) {
                    keyword(" && ", " and ")
                } else {
                    keyword(" || ", " or ")
                };
                out.push('(');
                for (i, operand) in operands.iter().enumerate() {
                    if i > 0 {
                        out.push_str(&separator);
                    }
                    print(operand, style, out);
                }
                out.push(')');
            }
        }
    }

    /// Prints one atom: subject, operator, argument with values quoted when needed.
    fn print_atom(a: &Atom, style: Style, out: &mut String) {
        match &a.subject {
            Subject::Attribute(name) => write!(out, "{}{name}", cased(style, "attribute:")),
            other => write!(out, "{}", cased(style, &other.to_string())),
        }
        .expect("string");
        let symbol = a.op.symbol();
        let op = match word_form(a.op) {
            Some(word) if style.words => cased(style, word),
            _ if symbol.ends_with(char::is_alphabetic) => cased(style, symbol),
            _ => symbol.to_owned(),
        };
        let tight = style.tight && !op.starts_with(char::is_alphabetic);
        out.push_str(if tight { "" } else { " " });
        out.push_str(&op);
        match &a.arg {
            Arg::None => {}
            Arg::Value(v) => {
                out.push(' ');
                quote_for_test(v, out);
            }
            Arg::List(vs) => {
                out.push_str(" [");
                for (i, v) in vs.iter().enumerate() {
                    out.push_str(if i > 0 { ", " } else { "" });
                    quote_for_test(v, out);
                }
                out.push(']');
            }
        }
    }

    /// Quotes `v` when it contains a character that ends a bare value, starts with a quote or
    /// is empty.
    fn quote_for_test(v: &str, out: &mut String) {
        let special = |c: char| c.is_whitespace() || ",])".contains(c);
        if !v.is_empty() && !v.starts_with(['\'', '"']) && !v.contains(special) {
            out.push_str(v);
        } else if v.contains('\'') {
            write!(out, "\"{v}\"").expect("string");
        } else {
            write!(out, "'{v}'").expect("string");
        }
    }

    /// `e` with every `And` directly inside an `And` (and `Or` inside `Or`) spliced into it.
    fn flatten(e: Expr) -> Expr {
        match e {
            Expr::Atom(_) => e,
            Expr::Not(inner) => not(flatten(*inner)),
            Expr::And(operands) => Expr::And(
                operands
                    .into_iter()
                    .map(flatten)
                    .flat_map(|o| match o {
                        Expr::And(inner) => inner,
                        other => vec![other],
                    })
                    .collect(),
            ),
            Expr::Or(operands) => Expr::Or(
                operands
                    .into_iter()
                    .map(flatten)
                    .flat_map(|o| match o {
                        Expr::Or(inner) => inner,
                        other => vec![other],
                    })
                    .collect(),
            ),
        }
    }

    /// Every atom of `e`, depth first.
    fn atoms(e: &Expr) -> Vec<&Atom> {
        match e {
            Expr::Atom(a) => vec![a],
            Expr::Not(inner) => atoms(inner),
            Expr::And(operands) | Expr::Or(operands) => operands.iter().flat_map(atoms).collect(),
        }
    }

    fn subject_strategy() -> impl Strategy<Value = Subject> {
        prop_oneof![
            Just(Subject::AgentConnected),
            Just(Subject::AgentVersion),
            Just(Subject::Ec2InstanceId),
            Just(Subject::RegisteredAt),
            Just(Subject::RunningTasksCount),
            Just(Subject::TaskGroup),
            "[A-Za-z0-9_./\\\\-]{1,12}".prop_map(Subject::Attribute),
            prop::sample::select(&["not", "notes", "in", "index", "and", "or", "exists", "not_in"][..])
                .prop_map(|n| Subject::Attribute(n.to_owned())),
        ]
    }

    /// A value the printer can write (one that needs quotes cannot contain both quote characters).
    fn value_strategy() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-c0-9:*. ,'\"\\]\\[()!=~&|é日-]{0,6}",
            prop::sample::select(&["and", "or", "not", "exists", "in", "&&", "||", "!"][..])
                .prop_map(str::to_owned),
        ]
        .prop_filter("unprintable", |v| {
            !(needs_quotes(v) && v.contains('\'') && v.contains('"'))
        })
    }

    fn op_arg_strategy() -> impl Strategy<Value = (Op, Arg)> {
        let binop = prop::sample::select(
            &[
                Op::Eq,
                Op::Ne,
                Op::Gt,
                Op::Ge,
                Op::Lt,
                Op::Le,
                Op::Matches,
                Op::NotMatches,
            ][..],
        );
        prop_oneof![
            prop::sample::select(&[Op::Exists, Op::NotExists][..]).prop_map(|op| (op, Arg::None)),
            (binop, value_strategy()).prop_map(|(op, v)| (op, Arg::Value(v))),
            (
                prop::sample::select(&[Op::In, Op::NotIn][..]),
                prop::collection::vec(value_strategy(), 1..4)
            )
                .prop_map(|(op, vs)| (op, Arg::List(vs))),
        ]
    }

    fn expr_strategy() -> impl Strategy<Value = Expr> {
        let leaf =
            (subject_strategy(), op_arg_strategy()).prop_map(|(subject, (op, arg))| atom(subject, op, arg));
        leaf.prop_recursive(5, 48, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(not),
                prop::collection::vec(inner.clone(), 2..4).prop_map(Expr::And),
                prop::collection::vec(inner, 2..4).prop_map(Expr::Or),
            ]
        })
    }

    fn style_strategy() -> impl Strategy<Value = Style> {
        (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(words, symbols, upper, tight)| Style {
                words,
                symbols,
                upper,
                tight,
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Printing a random tree and parsing it gives the tree back (modulo spans and
        /// flattening); every atom's span covers text that parses to that atom alone; and the
        /// `Display` of the result reads back to the same tree.
        #[test]
        fn printed_trees_parse_back(expr in expr_strategy(), style in style_strategy()) {
            let mut text = String::new();
            print(&expr, style, &mut text);
            let result = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}\n{e}")))?;
            prop_assert_eq!(strip(result.clone()), flatten(expr), "{}", text);
            for a in atoms(&result) {
                let piece = &text[a.span.start..a.span.end];
                prop_assert_eq!(parse(piece).map(strip), Ok(Expr::Atom(Atom { span: Span::default(), ..a.clone() })));
            }
            let shown = result.to_string();
            prop_assert_eq!(parse(&shown).map(strip), Ok(strip(result)), "{}", shown);
        }
    }

    // ---- Deterministic fuzzing (the in-CI counterpart of fuzz/fuzz_targets/cql_parse.rs) ----

    /// A xorshift64 generator.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).expect("small")
        }
    }

    /// Pieces of the grammar (and some that are not) to build inputs from.
    const FRAGMENTS: [&[u8]; 40] = [
        b"attribute:",
        b"x",
        b"ecs.instance-type",
        b"task:group",
        b"runningTasksCount",
        b"ec2InstanceId",
        b"agentVersion",
        b"registeredAt",
        b"agentConnected",
        b"==",
        b"!=",
        b"=~",
        b"!~",
        b">",
        b">=",
        b"<",
        b"<=",
        b"exists",
        b"!exists",
        b"not_exists",
        b" in ",
        b"!in",
        b"not_in",
        b"equals",
        b"(",
        b")",
        b"[",
        b"]",
        b",",
        b"'",
        b"\"",
        b"not",
        b"!",
        b" and ",
        b" or ",
        b"&&",
        b"||",
        b" ",
        "é日".as_bytes(),
        b"\xff",
    ];

    /// Checks the invariants the fuzz target checks, for one input.
    fn check_invariants(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        match parse(text) {
            Ok(expr) => {
                let shown = expr.to_string();
                if shown.chars().count() <= MAX_LEN {
                    assert_eq!(
                        parse(&shown).map(strip),
                        Ok(strip(expr.clone())),
                        "{text:?} shown as {shown:?}"
                    );
                }
                for a in atoms(&expr) {
                    assert!(
                        text.get(a.span.start..a.span.end).is_some(),
                        "{text:?}: {:?}",
                        a.span
                    );
                }
            }
            Err(e) => {
                assert!(
                    e.position >= 1 && e.position <= text.chars().count() + 1,
                    "{text:?}: {e}"
                );
                assert!(!e.expected.is_empty() && !e.found.is_empty(), "{text:?}: {e}");
            }
        }
    }

    /// A random input: fragments strung together, a grammatical expression, or a grammatical
    /// expression with a few bytes deleted, replaced or inserted.
    fn random_input(rng: &mut XorShift) -> Vec<u8> {
        let mut data = Vec::new();
        match rng.below(3) {
            0 => {
                for _ in 0..rng.below(16) {
                    data.extend_from_slice(FRAGMENTS[rng.below(FRAGMENTS.len())]);
                }
            }
            _ => grammatical(rng, 3, &mut data),
        }
        if rng.below(3) == 0 {
            for _ in 0..=rng.below(3) {
                mutate(rng, &mut data);
            }
        }
        data
    }

    /// Appends a random expression of the grammar, at most `depth` levels deep.
    fn grammatical(rng: &mut XorShift, depth: usize, out: &mut Vec<u8>) {
        const SUBJECTS: [&[u8]; 7] = [
            b"attribute:ecs.instance-type",
            b"attribute:Notes",
            b"task:group",
            b"runningTasksCount",
            b"ec2InstanceId",
            b"AGENTVERSION",
            b"registeredAt",
        ];
        const OPS: [&[u8]; 10] = [
            b"==",
            b" != ",
            b" =~ ",
            b"!~",
            b" >= ",
            b" <",
            b" equals ",
            b" NOT_MATCHES ",
            b" >",
            b"<=",
        ];
        const VALUES: [&[u8]; 6] = [
            b"t2.*",
            b"'a b'",
            b"\"it's\"",
            b"service:web",
            b"1",
            "é日".as_bytes(),
        ];
        match rng.below(if depth == 0 { 1 } else { 5 }) {
            0 => {
                out.extend_from_slice(SUBJECTS[rng.below(SUBJECTS.len())]);
                match rng.below(4) {
                    0 => out.extend_from_slice([&b" exists"[..], b"!exists", b" not_exists"][rng.below(3)]),
                    1 => {
                        out.extend_from_slice([&b" in ["[..], b"!in[", b" NOT_IN ["][rng.below(3)]);
                        for i in 0..=rng.below(3) {
                            out.extend_from_slice(if i > 0 { b", " } else { b"" });
                            out.extend_from_slice(VALUES[rng.below(VALUES.len())]);
                        }
                        out.push(b']');
                    }
                    _ => {
                        out.extend_from_slice(OPS[rng.below(OPS.len())]);
                        out.extend_from_slice(VALUES[rng.below(VALUES.len())]);
                    }
                }
            }
            1 => {
                out.extend_from_slice([&b"not "[..], b"!", b"NOT"][rng.below(3)]);
                out.push(b'(');
                grammatical(rng, depth - 1, out);
                out.push(b')');
            }
            _ => {
                out.push(b'(');
                grammatical(rng, depth - 1, out);
                out.extend_from_slice([&b" and "[..], b" OR ", b" && ", b"||"][rng.below(4)]);
                grammatical(rng, depth - 1, out);
                out.push(b')');
            }
        }
    }

    /// Deletes, replaces or inserts a few bytes.
    fn mutate(rng: &mut XorShift, data: &mut Vec<u8>) {
        let at = rng.below(data.len() + 1);
        match rng.below(3) {
            0 => {
                let end = (at + rng.below(4)).min(data.len());
                data.drain(at..end);
            }
            1 if at < data.len() => data[at] = u8::try_from(rng.below(256)).expect("byte"),
            _ => {
                let fragment = FRAGMENTS[rng.below(FRAGMENTS.len())];
                data.splice(at..at, fragment.iter().copied());
            }
        }
    }

    #[test]
    fn deterministic_fuzzing_keeps_the_invariants() {
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let (mut parsed_ok, mut failed) = (0, 0);
        for _ in 0..200_000 {
            let data = random_input(&mut rng);
            if parse_ok(&data) {
                parsed_ok += 1;
            } else {
                failed += 1;
            }
            check_invariants(&data);
        }
        // The inputs must reach both the successful and the failing paths.
        assert!(
            parsed_ok > 50_000 && failed > 50_000,
            "{parsed_ok} inputs parsed, {failed} did not"
        );
    }

    fn parse_ok(data: &[u8]) -> bool {
        std::str::from_utf8(data).is_ok_and(|t| parse(t).is_ok())
    }
}
