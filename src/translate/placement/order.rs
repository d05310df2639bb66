//! How ECS comparisons (`>`, `>=`, `<`, `<=`) order an attribute's value and the argument.
//!
//! AWS documents comparisons as numeric for `runningTasksCount`, version-ordered for
//! `agentVersion` and chronological for `registeredAt`, and says nothing about attributes
//! (ecs-reference §3.5). Decided here (\[INF\]):
//!
//! - two **numbers** (an optional sign, digits, and optionally `.` and more digits: `3`, `07`,
//!   `-1`, `2.5`) compare by value, exactly (`07 == 7`, `2.50 == 2.5`, twenty-digit integers
//!   included);
//! - two **non-numbers** compare character by character (Java's `String.compareTo`, which is
//!   what an ECS attribute value, a Java string, would use), so ISO dates and fixed-width codes
//!   order as expected (`2024-01 < 2024-02`);
//! - a number and a non-number are **unordered**: every comparison between them is false (and
//!   its negation true), as `x > 3` means nothing useful.
//!
//! Kubernetes' `Gt`/`Lt` compare labels as 64-bit integers and agree with this order on them;
//! the compiler covers the other values by listing the known nodes' values that compare.

use std::cmp::Ordering;

use super::ast::Op;

/// A decimal number as written, normalised: no leading zeros in `int`, no trailing zeros in
/// `frac`, and no sign on zero.
struct Decimal<'a> {
    negative: bool,
    int: &'a str,
    frac: &'a str,
}

fn decimal(s: &str) -> Option<Decimal<'_>> {
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((int, frac)) if !frac.is_empty() => (int, frac),
        Some(_) => return None,
        None => (rest, ""),
    };
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    Some(Decimal {
        negative: negative && !(int.is_empty() && frac.is_empty()),
        int,
        frac,
    })
}

fn magnitude(a: &Decimal<'_>, b: &Decimal<'_>) -> Ordering {
    a.int
        .len()
        .cmp(&b.int.len())
        .then_with(|| a.int.cmp(b.int))
        .then_with(|| a.frac.cmp(b.frac))
}

/// Whether `s` is a number in the sense of this order.
#[must_use]
pub fn is_number(s: &str) -> bool {
    decimal(s).is_some()
}

/// The order of `value` against `arg`, or `None` when they are unordered.
#[must_use]
pub fn order(value: &str, arg: &str) -> Option<Ordering> {
    match (decimal(value), decimal(arg)) {
        (Some(v), Some(a)) => Some(match (v.negative, a.negative) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => magnitude(&v, &a),
            (true, true) => magnitude(&a, &v),
        }),
        // (Label values are ASCII, where byte order is UTF-16 order.)
        (None, None) => Some(value.cmp(arg)),
        _ => None,
    }
}

/// Whether `value op arg` holds, for a comparison `op`; false for other operators.
#[must_use]
pub fn holds(op: Op, value: &str, arg: &str) -> bool {
    order(value, arg).is_some_and(|o| match op {
        Op::Gt => o == Ordering::Greater,
        Op::Ge => o != Ordering::Less,
        Op::Lt => o == Ordering::Less,
        Op::Le => o != Ordering::Greater,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering::{Equal, Greater, Less};

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn numbers_compare_by_value() {
        for (v, a, o) in [
            ("10", "9", Greater),
            ("07", "7", Equal),
            ("2.50", "2.5", Equal),
            ("2.5", "2.10", Greater),
            ("0.25", "0.5", Less),
            ("-1", "0", Less),
            ("-2", "-10", Greater),
            ("-0", "0", Equal),
            ("+3", "3", Equal),
            ("100000000000000000000", "99999999999999999999", Greater),
        ] {
            assert_eq!(order(v, a), Some(o), "{v} vs {a}");
        }
    }

    #[test]
    fn other_strings_compare_by_character() {
        assert_eq!(order("2024-02", "2024-01"), Some(Greater));
        assert_eq!(order("b", "ab"), Some(Greater));
        assert_eq!(order("m5.large", "m5.large"), Some(Equal));
        // Not numbers: a trailing dot, a bare sign, an exponent, a version.
        for s in ["1.", ".5", "-", "1e3", "1.14.5", ""] {
            assert!(!is_number(s), "{s:?}");
        }
    }

    #[test]
    fn numbers_and_non_numbers_are_unordered() {
        assert_eq!(order("x", "3"), None);
        assert_eq!(order("3", "x"), None);
        for op in [Op::Gt, Op::Ge, Op::Lt, Op::Le] {
            assert!(!holds(op, "x", "3"));
        }
        assert!(!holds(Op::Eq, "3", "3"), "only comparisons");
    }

    proptest! {
        /// On integers the order is the integers' (what Kubernetes' Gt and Lt use).
        #[test]
        fn agrees_with_integers(a in any::<i64>(), b in any::<i64>(), zeros in 0..3usize) {
            let padded = if a >= 0 { format!("{}{a}", "0".repeat(zeros)) } else { a.to_string() };
            prop_assert_eq!(order(&padded, &b.to_string()), Some(a.cmp(&b)));
        }

        /// On decimals with three places the order is that of the integers they scale to.
        #[test]
        fn agrees_with_decimals(a in -99_999i32..99_999, b in -99_999i32..99_999) {
            let text = |n: i32| format!("{}{}.{:03}", if n < 0 { "-" } else { "" }, n.abs() / 1000, n.abs() % 1000);
            prop_assert_eq!(order(&text(a), &text(b)), Some(a.cmp(&b)));
        }

        /// A total order on numbers and on non-numbers: antisymmetric.
        #[test]
        fn antisymmetric(a in "[0-9a-c.-]{0,5}", b in "[0-9a-c.-]{0,5}") {
            prop_assert_eq!(order(&a, &b), order(&b, &a).map(std::cmp::Ordering::reverse));
        }
    }
}
