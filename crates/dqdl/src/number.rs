//! Numbers in DQDL: whether a condition holds for a number, and how numbers
//! are printed in messages.

use super::ast::{CompareOp, Condition, InSet, Operand};

/// Why a condition cannot be judged against a number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// A dynamic operand (`avg(last(7))`) was not resolved to a value first.
    #[error("internal: unresolved dynamic operand")]
    Unresolved,
    /// The operand is `NULL`.
    #[error("a metric cannot be compared with NULL")]
    Null,
    /// The operand is a string, date, duration, size or constant.
    #[error("expected a number")]
    NotANumber,
    /// `matches`, or `in $constant`: conditions on strings.
    #[error("this condition does not apply to a number")]
    NotNumeric,
}

impl Operand {
    /// The value of a numeric operand whose dynamic parts are resolved.
    pub fn to_number(&self) -> Result<f64, NumberError> {
        match self {
            Operand::Number(n) => n.literal_value().ok_or(NumberError::Unresolved),
            Operand::Null(_) => Err(NumberError::Null),
            _ => Err(NumberError::NotANumber),
        }
    }
}

impl Condition {
    /// Whether `v` satisfies this numeric condition. `between` is exclusive;
    /// every operand must be a number (see [`Operand::to_number`]).
    pub fn holds(&self, v: f64) -> Result<bool, NumberError> {
        Ok(match self {
            Condition::Compare { op, operand, .. } => {
                let x = operand.to_number()?;
                match op {
                    CompareOp::Eq => v == x,
                    CompareOp::Ne => v != x,
                    CompareOp::Gt => v > x,
                    CompareOp::Ge => v >= x,
                    CompareOp::Lt => v < x,
                    CompareOp::Le => v <= x,
                }
            }
            Condition::Between {
                negated, low, high, ..
            } => {
                let (lo, hi) = (low.to_number()?, high.to_number()?);
                if *negated {
                    v <= lo || v >= hi
                } else {
                    lo < v && v < hi
                }
            }
            Condition::In {
                negated,
                set: InSet::List(items),
                ..
            } => {
                let mut found = false;
                for i in items {
                    found |= i.to_number()? == v;
                }
                found != *negated
            }
            Condition::In { .. } | Condition::Matches { .. } => {
                return Err(NumberError::NotNumeric);
            }
        })
    }
}

/// A number for messages: integers without decimals, others to 6 digits.
pub fn show(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ast::{NumExpr, Span, Text};

    fn num(value: f64) -> Operand {
        Operand::Number(NumExpr::Literal {
            value,
            span: Span::default(),
        })
    }

    fn compare(op: CompareOp, operand: Operand) -> Condition {
        Condition::Compare {
            op,
            operand,
            span: Span::default(),
        }
    }

    #[test]
    fn shows_numbers_compactly() {
        assert_eq!(show(100000.0), "100000");
        assert_eq!(show(0.98), "0.98");
        assert_eq!(show(1.0 / 3.0), "0.333333");
        assert_eq!(show(-2.5), "-2.5");
        assert_eq!(show(1e20), "100000000000000000000");
        assert_eq!(show(f64::NAN), "NaN");
    }

    #[test]
    fn comparisons_hold() {
        assert_eq!(compare(CompareOp::Ge, num(5.0)).holds(5.0), Ok(true));
        assert_eq!(compare(CompareOp::Gt, num(5.0)).holds(5.0), Ok(false));
        assert_eq!(compare(CompareOp::Ne, num(5.0)).holds(4.0), Ok(true));
        assert_eq!(compare(CompareOp::Le, num(5.0)).holds(f64::NAN), Ok(false));
    }

    #[test]
    fn between_is_exclusive_and_not_between_is_its_complement() {
        let between = |negated| Condition::Between {
            negated,
            low: num(1.0),
            high: num(3.0),
            span: Span::default(),
        };
        for (v, inside) in [(0.5, false), (1.0, false), (2.0, true), (3.0, false)] {
            assert_eq!(between(false).holds(v), Ok(inside), "{v}");
            assert_eq!(between(true).holds(v), Ok(!inside), "{v}");
        }
    }

    #[test]
    fn in_lists_hold_by_membership() {
        let set = |negated| Condition::In {
            negated,
            set: InSet::List(vec![num(1.0), num(2.0)]),
            span: Span::default(),
        };
        assert_eq!(set(false).holds(2.0), Ok(true));
        assert_eq!(set(true).holds(2.0), Ok(false));
        assert_eq!(set(true).holds(3.0), Ok(true));
    }

    #[test]
    fn non_numbers_are_errors_with_the_judge_messages() {
        let text = Operand::Text(Text {
            value: "x".to_string(),
            span: Span::default(),
        });
        let call = Operand::Number(NumExpr::Call {
            name: "last".to_string(),
            args: Vec::new(),
            span: Span::default(),
        });
        let null = Operand::Null(Span::default());
        let message = |o: Operand| {
            compare(CompareOp::Eq, o)
                .holds(1.0)
                .map_err(|e| e.to_string())
        };
        assert_eq!(message(text), Err("expected a number".to_string()));
        assert_eq!(
            message(null),
            Err("a metric cannot be compared with NULL".to_string())
        );
        assert_eq!(
            message(call),
            Err("internal: unresolved dynamic operand".to_string())
        );
        let matches = Condition::Matches {
            negated: false,
            pattern: Text {
                value: "a".to_string(),
                span: Span::default(),
            },
            span: Span::default(),
        };
        assert_eq!(
            matches.holds(1.0).map_err(|e| e.to_string()),
            Err("this condition does not apply to a number".to_string())
        );
    }
}
