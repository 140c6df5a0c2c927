//! Dynamic operands (SPEC §10): `last(k)` lists of a metric's past values,
//! aggregated by `avg`, `median`, `min`, `max`, `sum`, `std`, `abs` and
//! `index`, combined with flat left-to-right arithmetic.

use crate::dqdl::ast::NumExpr;

/// An intermediate value: a number or a list of past values.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Scalar(f64),
    List(Vec<f64>),
}

/// What resolving an expression used of the history.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Whether the expression calls `last`.
    pub dynamic: bool,
    /// The most past values one `last(k)` read.
    pub points: usize,
    /// True when a `last(k)` found no history and stood for 0.
    pub no_history: bool,
}

/// Resolves `e` against past values of the rule's metric, newest first.
/// With no history `last(k)` is the single value 0 (SPEC §10).
pub fn resolve(e: &NumExpr, newest_first: &[f64]) -> Result<(f64, Usage), String> {
    let mut usage = Usage::default();
    let v = eval(e, newest_first, &mut usage)?;
    Ok((scalar(v, "the expression")?, usage))
}

fn scalar(v: Value, what: &str) -> Result<f64, String> {
    match v {
        Value::Scalar(x) => Ok(x),
        // last(1) is a one-element list and works as a number (SPEC §10).
        Value::List(items) if items.len() == 1 => Ok(items[0]),
        Value::List(items) => Err(format!(
            "{what} is a list of {} past values; aggregate it, e.g. avg(last({}))",
            items.len(),
            items.len()
        )),
    }
}

fn list(v: Value, function: &str) -> Result<Vec<f64>, String> {
    match v {
        Value::List(items) => Ok(items),
        Value::Scalar(_) => Err(format!(
            "{function}() takes a list of past values such as last(5)"
        )),
    }
}

fn eval(e: &NumExpr, history: &[f64], usage: &mut Usage) -> Result<Value, String> {
    match e {
        NumExpr::Literal { value, .. } => Ok(Value::Scalar(*value)),
        NumExpr::Paren { inner, .. } => eval(inner, history, usage),
        NumExpr::Chain { first, rest, .. } => {
            let mut acc = scalar(eval(first, history, usage)?, "an arithmetic operand")?;
            for (op, operand) in rest {
                let x = scalar(eval(operand, history, usage)?, "an arithmetic operand")?;
                acc = op.apply(acc, x);
            }
            Ok(Value::Scalar(acc))
        }
        NumExpr::Call { name, args, .. } => call(&name.to_ascii_lowercase(), args, history, usage),
    }
}

fn call(name: &str, args: &[NumExpr], history: &[f64], usage: &mut Usage) -> Result<Value, String> {
    let arity = |n: usize| -> Result<(), String> {
        if args.len() == n {
            Ok(())
        } else {
            Err(format!(
                "{name}() takes {n} argument(s), got {}",
                args.len()
            ))
        }
    };
    if name == "last" {
        let k = match args {
            [] => 1.0,
            [k] => scalar(eval(k, history, usage)?, "the argument of last()")?,
            _ => return Err(format!("last() takes 1 argument, got {}", args.len())),
        };
        if !(k >= 1.0 && k.fract() == 0.0 && k <= 1e6) {
            return Err(format!("last(k) needs a whole k >= 1, got {k}"));
        }
        usage.dynamic = true;
        let taken: Vec<f64> = history.iter().take(k as usize).copied().collect();
        usage.points = usage.points.max(taken.len());
        if taken.is_empty() {
            usage.no_history = true;
            return Ok(Value::List(vec![0.0]));
        }
        return Ok(Value::List(taken));
    }
    if name == "index" {
        arity(2)?;
        let items = list(eval(&args[0], history, usage)?, name)?;
        let i = scalar(eval(&args[1], history, usage)?, "the index")?;
        if i < 0.0 || i.fract() != 0.0 || i >= items.len() as f64 {
            return Err(format!(
                "index {i} is out of range: {} past value(s) are available (0 is the newest)",
                items.len()
            ));
        }
        return Ok(Value::Scalar(items[i as usize]));
    }
    arity(1)?;
    let arg = eval(&args[0], history, usage)?;
    if name == "abs" {
        return Ok(Value::Scalar(scalar(arg, "the argument of abs()")?.abs()));
    }
    let items = list(arg, name)?;
    let n = items.len() as f64;
    let mean = items.iter().sum::<f64>() / n;
    Ok(Value::Scalar(match name {
        "avg" => mean,
        "sum" => items.iter().sum(),
        "min" => items.iter().copied().fold(f64::INFINITY, f64::min),
        "max" => items.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        "median" => median(&items),
        // Population standard deviation, like every other std in DQDL.
        "std" => (items.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt(),
        other => {
            return Err(format!(
                "unknown function `{other}`; dynamic rules know last, avg, median, min, max, sum, std, abs and index"
            ));
        }
    }))
}

/// The median; an even count averages the two middle values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dqdl;

    /// Resolves the right-hand side of `RowCount > EXPR`.
    fn rhs(expr: &str, history: &[f64]) -> Result<f64, String> {
        let rs = dqdl::parse(&format!("Rules = [ RowCount > {expr} ]")).expect("parses");
        let rule = rs.rules.iter().flatten().next().expect("one rule");
        let leaf = rule.expr.leaves()[0];
        match &leaf.condition {
            Some(dqdl::ast::Condition::Compare {
                operand: dqdl::ast::Operand::Number(e),
                ..
            }) => resolve(e, history).map(|(v, _)| v),
            other => panic!("unexpected condition {other:?}"),
        }
    }

    #[test]
    fn aggregates_past_values_newest_first() {
        let h = [10.0, 20.0, 30.0, 40.0];
        let cases: &[(&str, f64)] = &[
            ("avg(last(2))", 15.0),
            ("avg(last(10))", 25.0),
            ("median(last(4))", 25.0),
            ("median(last(3))", 20.0),
            ("min(last(3))", 10.0),
            ("max(last(3))", 30.0),
            ("sum(last(3))", 60.0),
            ("std(last(2))", 5.0),
            ("index(last(3), 0)", 10.0),
            ("index(last(3), 2)", 30.0),
            ("last()", 10.0),
            ("last(1)", 10.0),
            ("abs(last(1) - 25)", 15.0),
            ("avg(last(2)) * 0.8", 12.0),
            // Flat left-to-right arithmetic: (1 + 2) * avg = 45.
            ("1 + 2 * avg(last(2))", 45.0),
        ];
        for (expr, want) in cases {
            let got = rhs(expr, &h).unwrap_or_else(|e| panic!("{expr}: {e}"));
            assert!((got - want).abs() < 1e-12, "{expr}: got {got}, want {want}");
        }
    }

    #[test]
    fn no_history_is_zero() {
        assert_eq!(rhs("avg(last(7)) * 0.8", &[]), Ok(0.0));
        assert_eq!(rhs("last()", &[]), Ok(0.0));
    }

    #[test]
    fn misuse_is_an_error_that_says_why() {
        let h = [1.0, 2.0, 3.0];
        for (expr, needle) in [
            ("last(3)", "aggregate it"),
            ("index(last(3), 5)", "out of range"),
            ("avg(3)", "takes a list"),
            ("mode(last(3))", "unknown function `mode`"),
            ("last(0)", "whole k >= 1"),
            ("last(3) + 1", "aggregate it"),
        ] {
            let e = rhs(expr, &h).expect_err(expr);
            assert!(e.contains(needle), "{expr}: {e}");
        }
    }
}
