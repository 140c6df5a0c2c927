//! SQL text for metrics: identifier and literal quoting, and the per-row
//! predicates of ColumnValues, ColumnLength, ColumnDataType and DataFreshness
//! with SPEC §5's NULL semantics. Every predicate here is total: it yields
//! TRUE or FALSE for every row, never NULL.

use chrono::{DateTime, Duration as ChronoDuration, NaiveDate, NaiveDateTime, Utc};
use datafusion::arrow::datatypes::DataType;

use crate::dqdl::ast::{CompareOp, Condition, DateValue, InSet, Operand};

pub use crate::sql_support::{ident, is_numeric, is_string, is_temporal, literal, number};

/// A column type as a steward reads it: "a string column (Utf8View)".
pub fn describe(t: &DataType) -> String {
    let kind = if is_string(t) {
        "a string"
    } else if t.is_integer() {
        "an integer"
    } else if is_numeric(t) {
        "a decimal number"
    } else if matches!(t, DataType::Boolean) {
        "a boolean"
    } else if is_temporal(t) {
        "a date/time"
    } else {
        "a"
    };
    format!("{kind} column ({t})")
}

/// A column expression as a string, casting non-string columns.
pub fn as_text(col: &str, t: &DataType) -> String {
    if is_string(t) {
        ident(col)
    } else {
        format!("CAST({} AS VARCHAR)", ident(col))
    }
}

/// Wraps a total boolean predicate so NULL counts as `null_passes`.
fn null_guard(col_sql: &str, null_passes: bool, non_null_pred: &str) -> String {
    format!(
        "(CASE WHEN {col_sql} IS NULL THEN {} ELSE COALESCE({non_null_pred}, FALSE) END)",
        if null_passes { "TRUE" } else { "FALSE" }
    )
}

/// The value of a literal numeric operand; dynamic expressions are not
/// allowed per row (SPEC §12.8 DECISION).
pub fn literal_number(o: &Operand) -> Result<Option<f64>, String> {
    match o {
        Operand::Null(_) => Ok(None),
        Operand::Number(n) => match n.literal_value() {
            Some(v) => Ok(Some(v)),
            None => Err("row-level conditions take only literal numbers; dynamic expressions such as last() are allowed in `with threshold`".to_string()),
        },
        _ => Err("expected a number".to_string()),
    }
}

fn sql_cmp(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Ne => "<>",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
    }
}

/// A per-row predicate comparing `value_sql` (a column or expression) with
/// numeric literals. `Ne` and `not in` without NULL pass NULL rows.
pub fn numeric_predicate(value_sql: &str, cond: &Condition) -> Result<String, String> {
    Ok(match cond {
        Condition::Compare { op, operand, .. } => match literal_number(operand)? {
            None => match op {
                CompareOp::Eq => format!("({value_sql} IS NULL)"),
                CompareOp::Ne => format!("({value_sql} IS NOT NULL)"),
                _ => return Err("NULL can only be compared with = or !=".to_string()),
            },
            Some(v) => null_guard(
                value_sql,
                *op == CompareOp::Ne,
                &format!("{value_sql} {} {}", sql_cmp(*op), number(v)),
            ),
        },
        Condition::Between {
            negated, low, high, ..
        } => {
            let (lo, hi) = match (literal_number(low)?, literal_number(high)?) {
                (Some(lo), Some(hi)) => (number(lo), number(hi)),
                _ => return Err("between needs two numbers".to_string()),
            };
            let pred = if *negated {
                format!("{value_sql} <= {lo} OR {value_sql} >= {hi}")
            } else {
                format!("{value_sql} > {lo} AND {value_sql} < {hi}")
            };
            null_guard(value_sql, false, &format!("({pred})"))
        }
        Condition::In {
            negated,
            set: InSet::List(items),
            ..
        } => {
            let mut values = Vec::new();
            let mut has_null = false;
            for item in items {
                match literal_number(item)? {
                    Some(v) => values.push(number(v)),
                    None => has_null = true,
                }
            }
            let member = if values.is_empty() {
                "FALSE".to_string()
            } else {
                format!("{value_sql} IN ({})", values.join(", "))
            };
            if *negated {
                null_guard(value_sql, !has_null, &format!("NOT ({member})"))
            } else {
                null_guard(value_sql, has_null, &member)
            }
        }
        _ => return Err("this condition does not compare numbers".to_string()),
    })
}

/// One string-set member for membership tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextItem {
    /// A literal string.
    Text(String),
    /// NULL.
    Null,
    /// The empty string.
    Empty,
    /// A non-empty whitespace-only string.
    WhitespacesOnly,
}

fn item_test(text_sql: &str, item: &TextItem) -> Option<String> {
    match item {
        TextItem::Text(t) => Some(format!("{text_sql} = {}", literal(t))),
        TextItem::Empty => Some(format!("{text_sql} = ''")),
        TextItem::WhitespacesOnly => Some(format!("regexp_like({text_sql}, '^\\s+$')")),
        TextItem::Null => None,
    }
}

/// A per-row predicate for string conditions. `text_sql` is the column as
/// text. `items` are already resolved (constants expanded).
pub fn text_predicate(text_sql: &str, op: TextOp, items: &[TextItem]) -> String {
    let has_null = items.contains(&TextItem::Null);
    let tests: Vec<String> = items
        .iter()
        .filter_map(|i| item_test(text_sql, i))
        .collect();
    let member = if tests.is_empty() {
        "FALSE".to_string()
    } else {
        format!("({})", tests.join(" OR "))
    };
    match op {
        TextOp::In => null_guard(text_sql, has_null, &member),
        // Negated forms pass NULL unless NULL is listed (SPEC §5 DECISION).
        TextOp::NotIn => null_guard(text_sql, !has_null, &format!("NOT {member}")),
    }
}

/// Membership or its negation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextOp {
    /// `=` or `in`.
    In,
    /// `!=` or `not in`.
    NotIn,
}

/// A per-row full-match regex predicate; NULL fails both forms.
pub fn matches_predicate(text_sql: &str, pattern: &str, negated: bool) -> String {
    let anchored = literal(&format!("^(?:{pattern})$"));
    let test = format!("regexp_like({text_sql}, {anchored})");
    null_guard(
        text_sql,
        false,
        &if negated { format!("NOT {test}") } else { test },
    )
}

/// Resolves a date operand to an instant (UTC), given the evaluation clock.
/// A time of day (`"9:30 AM"`) is today in `zone` (UTC when `None`).
pub fn resolve_date(
    value: &DateValue,
    now: DateTime<Utc>,
    zone: Option<chrono_tz::Tz>,
) -> Result<NaiveDateTime, String> {
    let now_naive = now.naive_utc();
    match value {
        DateValue::Date(text) => NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .map(|d| d.and_time(chrono::NaiveTime::MIN))
            .map_err(|_| format!("\"{text}\" is not a valid date")),
        DateValue::Time { hour, minute, text } => {
            let invalid = || format!("\"{text}\" is not a valid time");
            match zone {
                None => now_naive
                    .date()
                    .and_hms_opt(*hour, *minute, 0)
                    .ok_or_else(invalid),
                Some(tz) => {
                    use chrono::TimeZone;
                    let local = now.with_timezone(&tz).date_naive();
                    let at = local.and_hms_opt(*hour, *minute, 0).ok_or_else(invalid)?;
                    // In a DST gap the earliest valid reading is taken.
                    tz.from_local_datetime(&at)
                        .earliest()
                        .map(|t| t.naive_utc())
                        .ok_or_else(|| format!("\"{text}\" does not exist in {tz} today"))
                }
            }
        }
        // now() is the evaluation instant itself, to the microsecond: the
        // same pinned value for every rule of a run.
        DateValue::Now { offset } => Ok(match offset {
            None => now_naive,
            Some(o) => shift(now_naive, &o.duration, o.negative),
        }),
    }
}

/// A DQDL duration as a chrono duration.
pub fn duration_of(d: &crate::dqdl::ast::Duration) -> ChronoDuration {
    let amount = i64::from(d.amount);
    match d.unit {
        crate::dqdl::ast::DurationUnit::Days => ChronoDuration::days(amount),
        crate::dqdl::ast::DurationUnit::Hours => ChronoDuration::hours(amount),
        crate::dqdl::ast::DurationUnit::Minutes => ChronoDuration::minutes(amount),
    }
}

/// `t` moved back (`earlier`) or forward by a DQDL duration; an instant
/// beyond what chrono holds ends at its far end (see [`instant_literal`]).
pub fn shift(t: NaiveDateTime, d: &crate::dqdl::ast::Duration, earlier: bool) -> NaiveDateTime {
    let delta = duration_of(d);
    let moved = if earlier {
        t.checked_sub_signed(delta)
    } else {
        t.checked_add_signed(delta)
    };
    moved.unwrap_or(if earlier {
        NaiveDateTime::MIN
    } else {
        NaiveDateTime::MAX
    })
}

fn midnight(y: i32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, 1, 1)
        .map(|d| d.and_time(chrono::NaiveTime::MIN))
        .unwrap_or_default()
}

/// An instant as an SQL literal fitting a column type: DATE columns compare
/// at date precision, everything else at timestamp precision. Instants a
/// literal cannot hold are clamped to the ends of its range (years 1678 to
/// 2261 for SQL TIMESTAMP literals, which are nanoseconds; 1 to 9999 for
/// DATE), so `DataFreshness "t" between 700 days and 1000000 days` works;
/// only a timestamp stored before 1678 could compare differently.
pub fn instant_literal(t: NaiveDateTime, column_type: &DataType) -> String {
    let (lo, hi) = match column_type {
        DataType::Date32 | DataType::Date64 => (midnight(1), midnight(10000)),
        _ => (midnight(1678), midnight(2262)),
    };
    let t = t.clamp(lo, hi - ChronoDuration::microseconds(1));
    match column_type {
        DataType::Date32 | DataType::Date64 => format!("DATE '{}'", t.date().format("%Y-%m-%d")),
        DataType::Timestamp(_, Some(_)) => {
            format!("TIMESTAMP '{}+00:00'", t.format("%Y-%m-%dT%H:%M:%S%.6f"))
        }
        _ => format!("TIMESTAMP '{}'", t.format("%Y-%m-%d %H:%M:%S%.6f")),
    }
}

/// The column as a comparable temporal expression (strings are cast).
pub fn as_temporal(col: &str, t: &DataType) -> String {
    if is_temporal(t) {
        ident(col)
    } else {
        format!("CAST({} AS TIMESTAMP)", ident(col))
    }
}

/// A per-row predicate comparing a temporal column with resolved instants.
/// `bounds` holds the operands in order (None for NULL).
pub fn temporal_predicate(
    col_sql: &str,
    cond: &Condition,
    bounds: &[Option<String>],
) -> Result<String, String> {
    let get = |i: usize| bounds.get(i).cloned().flatten();
    Ok(match cond {
        Condition::Compare { op, .. } => match get(0) {
            None => match op {
                CompareOp::Eq => format!("({col_sql} IS NULL)"),
                CompareOp::Ne => format!("({col_sql} IS NOT NULL)"),
                _ => return Err("NULL can only be compared with = or !=".to_string()),
            },
            Some(b) => null_guard(
                col_sql,
                *op == CompareOp::Ne,
                &format!("{col_sql} {} {b}", sql_cmp(*op)),
            ),
        },
        Condition::Between { negated, .. } => {
            let (Some(lo), Some(hi)) = (get(0), get(1)) else {
                return Err("between needs two dates".to_string());
            };
            let pred = if *negated {
                format!("({col_sql} <= {lo} OR {col_sql} >= {hi})")
            } else {
                format!("({col_sql} > {lo} AND {col_sql} < {hi})")
            };
            null_guard(col_sql, false, &pred)
        }
        Condition::In { negated, .. } => {
            let has_null = bounds.iter().any(Option::is_none);
            let values: Vec<String> = bounds.iter().flatten().cloned().collect();
            let member = if values.is_empty() {
                "FALSE".to_string()
            } else {
                format!("{col_sql} IN ({})", values.join(", "))
            };
            if *negated {
                null_guard(col_sql, !has_null, &format!("NOT ({member})"))
            } else {
                null_guard(col_sql, has_null, &member)
            }
        }
        Condition::Matches { .. } => return Err("dates cannot be matched with a regex".to_string()),
    })
}

/// The SQL type a ColumnDataType name checks, or `None` if unknown.
pub fn cast_type(name: &str) -> Option<String> {
    let lower = name.trim().to_ascii_lowercase();
    Some(match lower.as_str() {
        "boolean" => "BOOLEAN".to_string(),
        "date" => "DATE".to_string(),
        "timestamp" => "TIMESTAMP".to_string(),
        "integer" | "int" => "INT".to_string(),
        "long" | "bigint" => "BIGINT".to_string(),
        "double" => "DOUBLE".to_string(),
        "float" => "FLOAT".to_string(),
        "string" => "VARCHAR".to_string(),
        other if other.starts_with("decimal(") && other.ends_with(')') => {
            let inner = &other[8..other.len() - 1];
            let (p, s) = inner.split_once(',')?;
            let (p, s): (u8, i8) = (p.trim().parse().ok()?, s.trim().parse().ok()?);
            format!("DECIMAL({p},{s})")
        }
        _ => return None,
    })
}

/// A per-row predicate: the value, as text, casts strictly to `sql_type`.
/// NULL never casts (non-compliant, SPEC §12.6).
pub fn casts_to(text_sql: &str, sql_type: &str) -> String {
    format!("COALESCE(TRY_CAST(trim({text_sql}) AS {sql_type}) IS NOT NULL, FALSE)")
}

/// A per-row predicate: the trimmed text is a real calendar date written
/// in `pattern` (ColumnDataType's `with format`). The fields are cut out
/// with the pattern's regex, reassembled as `yyyy-MM-dd` (a missing day is
/// the 1st, a missing year 2000, `yy` is 20yy) and cast, so 31-02-2024 fails.
pub fn date_in_format(text_sql: &str, pattern: &dqdl::date_pattern::DatePattern) -> String {
    use dqdl::date_pattern::DatePart;
    let trimmed = format!("trim({text_sql})");
    let regex = literal(&pattern.regex());
    let parts = pattern.parts();
    let group = |part: DatePart| {
        parts
            .iter()
            .position(|p| *p == part)
            .map(|i| format!("regexp_replace({trimmed}, {regex}, '\\{}')", i + 1))
    };
    let year = group(DatePart::Year)
        .or_else(|| group(DatePart::ShortYear).map(|g| format!("concat('20', {g})")))
        .unwrap_or_else(|| "'2000'".to_string());
    let month = group(DatePart::Month)
        .map(|g| format!("lpad({g}, 2, '0')"))
        .unwrap_or_else(|| "'01'".to_string());
    let day = group(DatePart::Day)
        .map(|g| format!("lpad({g}, 2, '0')"))
        .unwrap_or_else(|| "'01'".to_string());
    format!(
        "COALESCE(regexp_like({trimmed}, {regex}) AND TRY_CAST(concat({year}, '-', {month}, '-', {day}) AS DATE) IS NOT NULL, FALSE)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day_are_read_in_the_tag_zone() {
        use chrono::TimeZone;
        let now = Utc
            .with_ymd_and_hms(2026, 11, 26, 12, 0, 0)
            .single()
            .expect("instant");
        let nine_thirty = DateValue::Time {
            hour: 9,
            minute: 30,
            text: "9:30 AM".into(),
        };
        let at = |zone| {
            resolve_date(&nine_thirty, now, zone)
                .expect("resolves")
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        assert_eq!(at(None), "2026-11-26 09:30");
        assert_eq!(at(Some(chrono_tz::America::New_York)), "2026-11-26 14:30");
        // 21:00 in Tokyo: 9:30 there today was 00:30 UTC.
        assert_eq!(at(Some(chrono_tz::Asia::Tokyo)), "2026-11-26 00:30");
        // Already 01:00 on the 27th in Auckland (UTC+13): 9:30 there
        // today is 20:30 UTC on the 26th.
        assert_eq!(at(Some(chrono_tz::Pacific::Auckland)), "2026-11-26 20:30");
    }

    #[test]
    fn cast_types() {
        assert_eq!(cast_type("Integer").as_deref(), Some("INT"));
        assert_eq!(
            cast_type("DECIMAL(10, 2)").as_deref(),
            Some("DECIMAL(10,2)")
        );
        assert_eq!(cast_type("Blob"), None);
    }

    #[test]
    fn text_membership_null_rules() {
        let p = text_predicate("c", TextOp::NotIn, &[TextItem::Text("x".into())]);
        assert!(p.starts_with("(CASE WHEN c IS NULL THEN TRUE"), "{p}");
        let p = text_predicate("c", TextOp::NotIn, &[TextItem::Null]);
        assert!(p.starts_with("(CASE WHEN c IS NULL THEN FALSE"), "{p}");
    }
}
