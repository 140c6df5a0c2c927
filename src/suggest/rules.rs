//! From a profile to DQDL text: which rules each column gets, with margins
//! wide enough that every rule passes on the profiled data.

use super::{ColumnKind, ColumnProfile, MAX_ALLOWED_VALUES, SuggestInput};
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

/// A threshold that the column's non-NULL share meets, for per-row rules
/// that NULL rows fail; empty without NULLs.
fn null_threshold(c: &ColumnProfile, rows: u64) -> String {
    if c.non_null == rows {
        String::new()
    } else {
        format!(
            " with threshold >= {}",
            show(floor_to(c.non_null as f64 / rows as f64, 2))
        )
    }
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
    let threshold = null_threshold(c, rows);
    if let Some(values) = &c.values
        && values.len() <= MAX_ALLOWED_VALUES
    {
        let list: Vec<String> = values.iter().map(|v| quote(v)).collect();
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
            let span = (max - min).abs().max(max.abs().max(min.abs()) * 0.1);
            let step = step_for(span);
            let margin = span * 0.1;
            let high = ((max + margin) / step).ceil() * step;
            let low = ((min - margin) / step).floor() * step;
            let high = if high <= max { max + step } else { high };
            if min >= 0.0 && low < 0.0 {
                notes.push(format!(
                    "Seen {} to {}; never negative.",
                    show(min),
                    show(max)
                ));
                push(
                    &mut notes,
                    format!(
                        "(ColumnValues {name} >= 0{threshold}) and (ColumnValues {name} <= {}{threshold})",
                        show(high)
                    ),
                );
            } else {
                let low = if low >= min { min - step } else { low };
                notes.push(format!(
                    "Seen {} to {}; bounds 10% wider.",
                    show(min),
                    show(max)
                ));
                push(
                    &mut notes,
                    format!(
                        "ColumnValues {name} between {} and {}{threshold}",
                        show(low),
                        show(high)
                    ),
                );
            }
        }
        ColumnKind::Text => {
            // NULL counts as length 0 (SPEC §12.7).
            let shortest = if c.non_null < rows { 0.0 } else { min };
            let longest = (max * 1.25).ceil().max(max + 1.0);
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
            if c.non_null < rows {
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
