//! What every page shares: the navigation bar and text formatting.

use super::session::Session;
use crate::api::auth::Access;

/// The top bar: who is signed in, what they may reach, the sign-out form.
pub(super) struct Nav {
    /// Token name.
    pub name: String,
    /// Role.
    pub role: &'static str,
    /// CSRF token of the forms on the page.
    pub csrf: String,
    /// May edit rulesets and mark values (admin, steward).
    pub editor: bool,
    /// May manage tokens (admin).
    pub admin: bool,
    /// May call the gate (admin, pipeline).
    pub gate: bool,
    /// The section of the current page: overview, rulesets or tokens.
    pub section: &'static str,
}

impl Nav {
    /// The bar for `session` on a page of `section`.
    pub fn new(session: &Session, section: &'static str) -> Nav {
        Nav {
            name: session.caller.name.clone(),
            role: session.caller.role.as_str(),
            csrf: session.csrf.clone(),
            editor: session.caller.may(Access::Edit),
            admin: session.caller.may(Access::Admin),
            gate: session.caller.may(Access::Gate),
            section,
        }
    }
}

/// A choice of a `<select>`.
pub(super) struct Choice {
    /// Submitted value.
    pub value: String,
    /// Shown text.
    pub label: String,
    /// Currently chosen.
    pub selected: bool,
}

/// `values` as choices, with `current` selected and an "any" choice first.
pub(super) fn choices(any: &str, values: &[String], current: &str) -> Vec<Choice> {
    std::iter::once(Choice {
        value: String::new(),
        label: any.to_string(),
        selected: current.is_empty(),
    })
    .chain(values.iter().map(|v| Choice {
        value: v.clone(),
        label: v.clone(),
        selected: v == current,
    }))
    .collect()
}

/// A stored instant as `2026-11-26 06:00:00 UTC`.
pub(super) fn when(at: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(at).map_or_else(
        |_| at.to_string(),
        |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        },
    )
}

/// A score as a percentage, `—` when there is none.
pub(super) fn score(s: Option<f64>) -> String {
    s.map_or_else(|| "—".to_string(), |s| format!("{:.1} %", s * 100.0))
}

/// A metric value, short: integers without decimals, others to 6 places.
pub(super) fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let text = format!("{v:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// An optional metric value, `—` when absent.
pub(super) fn maybe_number(v: Option<f64>) -> String {
    v.map_or_else(|| "—".to_string(), number)
}

/// A query string from the non-empty pairs (`?a=1&b=2`, or empty).
pub(super) fn query(pairs: &[(&str, &str)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", crate::api::runs::encode(v)))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_queries_read_well() {
        assert_eq!(number(10.0), "10");
        assert_eq!(number(0.125), "0.125");
        assert_eq!(number(1.0 / 3.0), "0.333333");
        assert_eq!(score(Some(0.875)), "87.5 %");
        assert_eq!(score(None), "—");
        assert_eq!(
            query(&[("metric", "Dataset.*.RowCount"), ("stage", "")]),
            "?metric=Dataset.%2A.RowCount"
        );
        assert_eq!(query(&[("stage", "")]), "");
        assert_eq!(
            when("2026-11-26T06:00:00.000000Z"),
            "2026-11-26 06:00:00 UTC"
        );
    }
}
