//! What sources, the planner and the engine share at the boundary with
//! DataFusion: SQL identifier and literal quoting, classes of column types,
//! and DataFusion errors as one readable line. A leaf: it imports nothing
//! of ours.

use datafusion::arrow::datatypes::DataType;
use datafusion::error::DataFusionError;

/// Quotes an SQL identifier (`"col"`, with `"` doubled).
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an SQL string literal (`'text'`, with `'` doubled).
pub fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A number as an SQL literal.
pub fn number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

/// True for integer, unsigned, float and decimal types.
pub fn is_numeric(t: &DataType) -> bool {
    t.is_numeric() || matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..))
}

/// True for the string types.
pub fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
        || matches!(t, DataType::Dictionary(_, v) if is_string(v))
}

/// True for dates and timestamps.
pub fn is_temporal(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)
    )
}

/// A DataFusion error as one readable line.
pub fn clean(e: &DataFusionError) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("O'Brien"), "'O''Brien'");
        assert_eq!(number(5.0), "5.0");
        assert_eq!(number(0.98), "0.98");
    }
}
