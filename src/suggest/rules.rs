//! From a profile to DQDL text: which rules each column gets, with margins
//! wide enough that every rule passes on the profiled data, and bounds
//! drawn from the data's bulk so that its rare defects fail them elsewhere:
//!
//! - **Allowed values** only for string columns whose distinct count is at
//!   most a tenth of their rows and [`MAX_ALLOWED_VALUES`], and whose name
//!   does not say identity or free text (`name`, `lastname`, `title`,
//!   `email`, `id`, …)
//!   or a date (`date`, `day`, `month`, `time`, …; values that look like
//!   dates count too: partition columns are never enumerated). A value
//!   seen in less than 1% of the rows (and fewer than twice) is rare: it is
//!   left out of the list with a `review: seen N times` note, and the rule
//!   takes the threshold the common values meet. More than
//!   [`MAX_RARE_VALUES`] rare values, or more than 2% of rows in them, is
//!   a long tail: no list.
//! - **Numeric ranges** from the 1st and 99th percentiles, widened by 10%
//!   of their span (to 0 when the 1st percentile is not negative); values
//!   outside are counted in a `review` note and the threshold.
//! - **Lengths**: exact (`ColumnLength "id" = 36`) when every value has
//!   the same length, else a range.
//! - **Freshness** only on dates and timestamps whose name says event time
//!   (`time`, `ts`, `at`, `event`, `created`, `updated`, `ingested`,
//!   `loaded`, `start`, …) and not an attribute (`since`, `birth`,
//!   `signup`, `registered`, `joined`, `expires`, `valid`).

use super::{ColumnKind, ColumnProfile, MAX_ALLOWED_VALUES, MAX_RARE_VALUES, SuggestInput};
use crate::dqdl::format::quote;
use crate::dqdl::number::show;

/// Renders the suggested ruleset.
pub fn render(input: &SuggestInput<'_>) -> String {
    let p = input.profile;
    let mut out = format!(
        "# Suggested by `dqgate suggest` from {} ({} rows, {} columns) at {}.\n\
         # Every rule passed on that data. Review the bounds before relying on them.\n",
        input.location,
        p.rows,
        p.columns.len(),
        input.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    out.push_str("Rules = [\n");
    let mut rules: Vec<(Vec<String>, String)> = Vec::new();
    rules.push(row_count(p.rows, input.row_count_history));
    rules.push((
        vec!["The schema keeps its width.".to_string()],
        format!("ColumnCount = {}", p.columns.len()),
    ));
    if p.rows > 0 {
        for c in &p.columns {
            column_rules(c, p.rows, input, &mut rules);
        }
    }
    let n = rules.len();
    for (i, (comments, rule)) in rules.into_iter().enumerate() {
        for c in comments {
            out.push_str(&format!("    # {c}\n"));
        }
        out.push_str(&format!("    {rule}{}\n", if i + 1 < n { "," } else { "" }));
    }
    out.push_str("]\n");
    out
}

fn row_count(rows: u64, history: &[f64]) -> (Vec<String>, String) {
    if history.is_empty() {
        return (
            vec![format!(
                "{rows} rows now; no history yet, so only emptiness is caught. Re-run with a store for bounds."
            )],
            "RowCount > 0".to_string(),
        );
    }
    let lo = history.iter().copied().fold(rows as f64, f64::min);
    let hi = history.iter().copied().fold(rows as f64, f64::max);
    let (low, high) = ((lo * 0.8).floor() - 1.0, (hi * 1.2).ceil() + 1.0);
    (
        vec![format!(
            "{rows} rows now; {} past run(s) ranged {} to {}; bounds are 20% wider.",
            history.len(),
            show(lo),
            show(hi)
        )],
        format!(
            "RowCount between {} and {}",
            show(low.max(-1.0)),
            show(high)
        ),
    )
}

fn floor_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).floor() / f
}

/// A round step for bounds around values of this magnitude.
fn step_for(span: f64) -> f64 {
    if span <= 0.0 || !span.is_finite() {
        return 1.0;
    }
    10f64.powi(span.log10().floor() as i32 - 1).min(1.0)
}

/// Name words of identity and free-text columns: never value lists.
const FREE_TEXT_WORDS: &[&str] = &[
    "name",
    "names",
    "title",
    "email",
    "phone",
    "address",
    "description",
    "comment",
    "note",
    "notes",
    "text",
    "url",
    "id",
    "uuid",
    "key",
];
/// Name words of date and partition columns: never value lists.
const DATE_WORDS: &[&str] = &[
    "date",
    "day",
    "dt",
    "month",
    "year",
    "hour",
    "time",
    "ts",
    "timestamp",
    "at",
];
/// Name words of event times: freshness applies.
const EVENT_WORDS: &[&str] = &[
    "time",
    "timestamp",
    "ts",
    "at",
    "event",
    "created",
    "updated",
    "modified",
    "ingested",
    "ingestion",
    "loaded",
    "received",
    "occurred",
    "start",
    "end",
];
/// Name words of attribute dates, which age by design: no freshness.
const ATTRIBUTE_DATE_WORDS: &[&str] = &[
    "since",
    "birth",
    "birthday",
    "dob",
    "signup",
    "registered",
    "joined",
    "expires",
    "expiry",
    "valid",
];

/// The lower-case words of a column name (`_`, `-`, `.`, spaces and
/// camelCase split it).
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for ch in name.chars() {
        if !ch.is_alphanumeric() {
            previous_lower = false;
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if ch.is_uppercase() && previous_lower && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = ch.is_lowercase() || ch.is_ascii_digit();
        word.extend(ch.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

fn named(name: &str, vocabulary: &[&str]) -> bool {
    name_words(name)
        .iter()
        .any(|w| vocabulary.contains(&w.as_str()))
}

/// Identity or free text: a [`FREE_TEXT_WORDS`] word, or a word ending in
/// `name` (`lastname`, `username`).
fn free_text(name: &str) -> bool {
    named(name, FREE_TEXT_WORDS) || name_words(name).iter().any(|w| w.ends_with("name"))
}

/// Whether a column may get an allowed-values list, before its values are
/// counted: a string column, few distinct values relative to its rows, a
/// name that is neither identity, free text nor a date.
pub(super) fn may_list_values(c: &ColumnProfile) -> bool {
    let Some(approx) = c.approx_distinct else {
        return false;
    };
    c.kind == ColumnKind::Text
        && approx as usize <= MAX_ALLOWED_VALUES + MAX_RARE_VALUES + 2
        && approx * 10 <= c.non_null
        && !free_text(&c.name)
        && !named(&c.name, DATE_WORDS)
}

/// A value seen fewer times than this is rare: 1% of the non-NULL rows,
/// and at least 2.
fn rare_cutoff(non_null: u64) -> u64 {
    non_null.div_ceil(100).max(2)
}

fn looks_like_date(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() >= 7
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
}

/// Splits a column's value counts (most frequent first) into its common
/// values, listed, and its rare ones, noted; sets neither when the column
/// has too many values, a long tail, or values that look like dates.
pub(super) fn classify_values(c: &mut ColumnProfile, counts: Vec<(String, u64)>) {
    if counts.len() > MAX_ALLOWED_VALUES + MAX_RARE_VALUES {
        return;
    }
    let cutoff = rare_cutoff(c.non_null);
    let (mut common, rare): (Vec<_>, Vec<_>) = counts.into_iter().partition(|(_, n)| *n >= cutoff);
    let rare_rows: u64 = rare.iter().map(|(_, n)| n).sum();
    let long_tail = rare.len() > MAX_RARE_VALUES || rare_rows * 50 > c.non_null;
    if common.is_empty()
        || common.len() > MAX_ALLOWED_VALUES
        || long_tail
        || common.iter().all(|(v, _)| looks_like_date(v))
    {
        return;
    }
    common.sort();
    c.common_rows = Some(common.iter().map(|(_, n)| n).sum());
    c.values = Some(common.into_iter().map(|(v, _)| v).collect());
    c.rare_values = rare;
}

/// A suggested numeric range: `high` and a lower bound, or `>= 0` when
/// the bulk of the data is never negative.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct NumericRange {
    /// The lower bound (`None`: 0, inclusive).
    pub low: Option<f64>,
    /// The upper bound.
    pub high: f64,
}

impl NumericRange {
    /// SQL predicates on `column` (quoted) for the values below and above
    /// the range, as the suggested rule judges them (`between` excludes
    /// its bounds, `>= 0` and `<= high` include theirs).
    pub fn outside(&self, column: &str) -> (String, String) {
        match self.low {
            Some(low) => (
                format!("{column} <= {low}"),
                format!("{column} >= {}", self.high),
            ),
            None => (format!("{column} < 0"), format!("{column} > {}", self.high)),
        }
    }
}

/// The range a numeric column's 1st and 99th percentiles suggest: their
/// span widened by 10% on both sides, on round steps.
pub(super) fn numeric_range(c: &ColumnProfile) -> Option<NumericRange> {
    if c.kind != ColumnKind::Numeric {
        return None;
    }
    let (p01, p99) = c.percentiles?;
    let span = (p99 - p01)
        .abs()
        .max(p99.abs().max(p01.abs()) * 0.1)
        .max(f64::MIN_POSITIVE);
    let step = step_for(span);
    let margin = span * 0.1;
    let high = ((p99 + margin) / step).ceil() * step;
    let high = if high <= p99 { p99 + step } else { high };
    let low = ((p01 - margin) / step).floor() * step;
    // The bounds as the rule prints them, so counts and rule agree.
    let printed = |v: f64| show(v).parse().unwrap_or(v);
    let high = printed(high);
    if p01 >= 0.0 && low < 0.0 {
        return Some(NumericRange { low: None, high });
    }
    let low = if low >= p01 { p01 - step } else { low };
    Some(NumericRange {
        low: Some(printed(low)),
        high,
    })
}

/// ` with threshold >= S` for a per-row rule `passing` rows meet (NULL
/// rows fail), or nothing when all rows do.
fn passing_threshold(passing: u64, rows: u64) -> String {
    if passing >= rows {
        String::new()
    } else {
        format!(
            " with threshold >= {}",
            show(floor_to(passing as f64 / rows as f64, 3))
        )
    }
}

fn column_rules(
    c: &ColumnProfile,
    rows: u64,
    input: &SuggestInput<'_>,
    rules: &mut Vec<(Vec<String>, String)>,
) {
    let name = quote(&c.name);
    let share = c.non_null as f64 / rows as f64;
    let mut notes = vec![format!(
        "{}: {}, {:.1}% non-NULL{}",
        c.name,
        c.data_type,
        share * 100.0,
        c.distinct
            .or(c.approx_distinct)
            .map(|d| format!(", ~{d} distinct"))
            .unwrap_or_default()
    )];
    let mut push = |notes: &mut Vec<String>, rule: String| {
        rules.push((std::mem::take(notes), rule));
    };
    if c.non_null == 0 {
        notes.push("Always NULL: nothing to check but its presence.".to_string());
        push(&mut notes, format!("ColumnExists {name}"));
        return;
    }
    if c.non_null == rows {
        push(&mut notes, format!("IsComplete {name}"));
    } else {
        let bound = floor_to(share - 0.02, 2).max(0.0);
        push(
            &mut notes,
            format!("Completeness {name} >= {}", show(bound)),
        );
    }
    if c.distinct == Some(rows) && c.non_null == rows && c.kind != ColumnKind::Other {
        notes.push("Every value is distinct: a key candidate.".to_string());
        push(&mut notes, format!("IsUnique {name}"));
    }
    if let Some(values) = &c.values
        && values.len() <= MAX_ALLOWED_VALUES
    {
        let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
        for (value, seen) in &c.rare_values {
            notes.push(format!(
                "review: {} seen {seen} times, left out of the list as rare",
                quote(value)
            ));
        }
        let threshold = passing_threshold(c.common_rows.unwrap_or(c.non_null), rows);
        push(
            &mut notes,
            format!("ColumnValues {name} in [{}]{threshold}", list.join(", ")),
        );
        return;
    }
    let (Some(min), Some(max)) = (c.min, c.max) else {
        return;
    };
    match c.kind {
        ColumnKind::Numeric => {
            let Some(range) = numeric_range(c) else {
                return;
            };
            let (below, above) = c.outliers.unwrap_or((0, 0));
            let threshold = passing_threshold(c.non_null - below - above, rows);
            let (p01, p99) = c.percentiles.unwrap_or((min, max));
            notes.push(format!(
                "Seen {} to {}; 1st to 99th percentile {} to {}, bounds 10% wider{}.",
                show(min),
                show(max),
                show(p01),
                show(p99),
                if range.low.is_none() {
                    ", never negative"
                } else {
                    ""
                }
            ));
            let (low_text, high_text) = match range.low {
                Some(low) => (
                    format!("{} (or equal)", show(low)),
                    format!("{} (or equal)", show(range.high)),
                ),
                None => ("0".to_string(), show(range.high)),
            };
            if below > 0 {
                notes.push(format!(
                    "review: {below} value(s) below {low_text}, the lowest {}",
                    show(min)
                ));
            }
            if above > 0 {
                notes.push(format!(
                    "review: {above} value(s) above {high_text}, the highest {}",
                    show(max)
                ));
            }
            let rule = match range.low {
                None => format!(
                    "(ColumnValues {name} >= 0{threshold}) and (ColumnValues {name} <= {}{threshold})",
                    show(range.high)
                ),
                Some(low) => format!(
                    "ColumnValues {name} between {} and {}{threshold}",
                    show(low),
                    show(range.high)
                ),
            };
            push(&mut notes, rule);
        }
        ColumnKind::Text => {
            // NULL counts as length 0 (SPEC §12.7).
            let shortest = if c.non_null < rows { 0.0 } else { min };
            let longest = (max * 1.25).ceil().max(max + 1.0);
            if min == max && min >= 1.0 {
                notes.push(format!("Every value is {} characters long.", show(min)));
                let plain = c
                    .name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
                if c.non_null == rows {
                    push(&mut notes, format!("ColumnLength {name} = {}", show(min)));
                    return;
                }
                if plain {
                    // NULL has length 0: the rule is about the values.
                    push(
                        &mut notes,
                        format!(
                            "ColumnLength {name} = {} where \"{} IS NOT NULL\"",
                            show(min),
                            c.name
                        ),
                    );
                    return;
                }
            }
            notes.push(format!("Lengths {} to {}.", show(shortest), show(max)));
            if shortest >= 1.0 {
                push(
                    &mut notes,
                    format!(
                        "ColumnLength {name} between {} and {}",
                        show(shortest - 1.0),
                        show(longest + 1.0)
                    ),
                );
            } else {
                push(
                    &mut notes,
                    format!("ColumnLength {name} <= {}", show(longest)),
                );
            }
        }
        ColumnKind::Temporal => {
            let event_time = named(&c.name, EVENT_WORDS) && !named(&c.name, ATTRIBUTE_DATE_WORDS);
            if c.non_null < rows || !event_time {
                return;
            }
            let oldest_hours = (input.now.timestamp() as f64 - min) / 3600.0;
            if oldest_hours <= 0.0 {
                return;
            }
            let bound = (oldest_hours * 1.1).ceil() + 1.0;
            notes.push(format!(
                "The oldest value is {} hours old; freshness is measured from the run's clock.",
                show(oldest_hours.ceil())
            ));
            push(
                &mut notes,
                format!("DataFreshness {name} <= {} hours", show(bound)),
            );
        }
        ColumnKind::Other => {}
    }
}
