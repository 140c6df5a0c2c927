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

/// A DataFusion error as one readable line. Arrow's CSV complaint about a
/// row's width ("Expected 3 records, found 4 records at line 3") is said in
/// words a person expects: fields, not records.
pub fn clean(e: &DataFusionError) -> String {
    let line = e
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    csv_width_message(&line).unwrap_or(line)
}

fn csv_width_message(line: &str) -> Option<String> {
    const ARROW: &str = "Encountered unequal lengths between records on CSV file. Expected ";
    let start = line.find(ARROW)?;
    let rest = &line[start + ARROW.len()..];
    let (expected, rest) = rest.split_once(" records, found ")?;
    let (found, rest) = rest.split_once(" records at line ")?;
    let row: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(format!(
        "{}line {row} has {found} fields where the header has {expected}{} (the dataset option malformed_rows = \"count\" counts such rows instead of stopping)",
        &line[..start],
        &rest[row.len()..]
    ))
}

/// Whether `ctx` hands its plans to a Ballista scheduler (`--engine
/// df://…`; never in a build without the `distributed` feature).
pub fn is_distributed(ctx: &datafusion::prelude::SessionContext) -> bool {
    #[cfg(feature = "distributed")]
    {
        ctx.state_ref()
            .read()
            .config()
            .options()
            .extensions
            .get::<ballista_core::config::BallistaConfig>()
            .is_some()
    }
    #[cfg(not(feature = "distributed"))]
    {
        let _ = ctx;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_width_in_words() {
        assert_eq!(
            csv_width_message(
                "Error when processing CSV file a.csv: Arrow error: Csv error: Encountered unequal lengths between records on CSV file. Expected 3 records, found 4 records at line 3"
            )
            .as_deref(),
            Some(
                "Error when processing CSV file a.csv: Arrow error: Csv error: line 3 has 4 fields where the header has 3 (the dataset option malformed_rows = \"count\" counts such rows instead of stopping)"
            )
        );
        assert_eq!(csv_width_message("other"), None);
    }

    #[test]
    fn quoting() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("O'Brien"), "'O''Brien'");
        assert_eq!(number(5.0), "5.0");
        assert_eq!(number(0.98), "0.98");
    }
}
