//! Fuzzes the cluster query language parser: it never panics; an error points inside the text
//! (or just past its end); and an expression's `Display` parses back to the same tree (modulo
//! spans) whenever it fits in `MAX_LEN`.
#![no_main]

use ecs_bridge::translate::placement::ast::{Atom, Expr, Span};
use ecs_bridge::translate::placement::cql::{MAX_LEN, parse};
use libfuzzer_sys::fuzz_target;

/// `e` with every span cleared.
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

/// Every atom of `e`.
fn atoms(e: &Expr) -> Vec<&Atom> {
    match e {
        Expr::Atom(a) => vec![a],
        Expr::Not(inner) => atoms(inner),
        Expr::And(operands) | Expr::Or(operands) => operands.iter().flat_map(atoms).collect(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse(text) {
        Ok(expr) => {
            for a in atoms(&expr) {
                assert!(
                    text.get(a.span.start..a.span.end).is_some(),
                    "{text:?}: {:?}",
                    a.span
                );
            }
            let shown = expr.to_string();
            if shown.chars().count() <= MAX_LEN {
                let again = parse(&shown).unwrap_or_else(|e| panic!("{text:?} shown as {shown:?}: {e}"));
                assert_eq!(strip(again), strip(expr), "{text:?} shown as {shown:?}");
            }
        }
        Err(e) => {
            assert!(
                e.position >= 1 && e.position <= text.chars().count() + 1,
                "{text:?}: {e}"
            );
        }
    }
});
