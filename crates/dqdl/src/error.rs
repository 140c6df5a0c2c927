//! Parse and validation errors with line, column, a caret excerpt and a hint.

use serde::Serialize;

use super::ast::Span;
use super::grammar::Rule;

/// One problem found in a ruleset, located in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// 1-based line of the problem.
    pub line: usize,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong and, where we can tell, how to fix it.
    pub message: String,
    /// Byte offsets of the offending text.
    #[serde(skip)]
    pub start: usize,
    /// Byte offset one past the offending text.
    #[serde(skip)]
    pub end: usize,
}

/// A ruleset that could not be parsed or failed static validation.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", summary(.diagnostics))]
pub struct DqdlError {
    /// Every problem found, in source order (at least one).
    pub diagnostics: Vec<Diagnostic>,
}

fn summary(diagnostics: &[Diagnostic]) -> String {
    diagnostics
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect::<Vec<_>>()
        .join("\n")
}

impl DqdlError {
    /// Renders every diagnostic as `FILE:LINE:COL: error: MESSAGE` followed by
    /// the source line and a caret under the offending text.
    pub fn render(&self, file: &str, source: &str) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&format!(
                "{file}:{}:{}: error: {}\n",
                d.line, d.column, d.message
            ));
            out.push_str(&excerpt(source, d));
        }
        out
    }
}

/// The source line of a diagnostic with a caret line under it.
fn excerpt(source: &str, d: &Diagnostic) -> String {
    let line_start = source[..d.start.min(source.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line_end = source[line_start..]
        .find('\n')
        .map_or(source.len(), |i| line_start + i);
    let mut line = source[line_start..line_end].trim_end_matches('\r');
    // Very long lines are cut around the caret.
    let mut prefix_chars = d.column.saturating_sub(1);
    let mut cut_left = false;
    if prefix_chars > 80 {
        let skip = prefix_chars - 40;
        let byte = line.char_indices().nth(skip).map_or(line.len(), |(i, _)| i);
        line = &line[byte..];
        prefix_chars -= skip;
        cut_left = true;
    }
    let shown: String = line.chars().take(160).collect();
    let cut_right = line.chars().count() > 160;
    let width = source[d.start.min(source.len())..d.end.min(source.len())]
        .chars()
        .take_while(|c| *c != '\n')
        .count()
        .clamp(1, 160);
    let gutter = format!("{} | ", d.line);
    let mut out = format!(
        "{gutter}{}{shown}{}\n",
        if cut_left { "…" } else { "" },
        if cut_right { "…" } else { "" }
    );
    let pad = " ".repeat(gutter.len() + prefix_chars + usize::from(cut_left));
    out.push_str(&format!("{pad}{}\n", "^".repeat(width)));
    out
}

/// Maps byte offsets to 1-based line and column numbers.
pub struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `source`.
    pub fn new(source: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(source.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { line_starts }
    }

    /// The 1-based (line, column) of byte `offset`; columns count characters.
    pub fn position(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(source.len());
        let line = self.line_starts.partition_point(|s| *s <= offset);
        let start = self.line_starts[line - 1];
        let column = source
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        (line, column)
    }

    /// The 1-based line of byte `offset`.
    pub fn line(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|s| *s <= offset)
    }

    /// A diagnostic for `span` with `message`.
    pub fn diagnostic(&self, source: &str, span: Span, message: impl Into<String>) -> Diagnostic {
        let (line, column) = self.position(source, span.start);
        Diagnostic {
            line,
            column,
            message: message.into(),
            start: span.start,
            end: span.end.max(span.start),
        }
    }
}

/// A person-readable name for a grammar rule in "expected ..." messages, or
/// `None` for rules that would only add noise.
pub fn friendly_name(grammar_rule: Rule) -> Option<&'static str> {
    Some(match grammar_rule {
        Rule::EOI => "end of input",
        Rule::metadata_section | Rule::kw_metadata => "`Metadata`",
        Rule::data_sources_section | Rule::kw_data_sources => "`DataSources`",
        Rule::default_labels_section | Rule::kw_default_labels => "`DefaultLabels`",
        Rule::rules_section | Rule::kw_rules => "`Rules = [`",
        Rule::analyzers_section | Rule::kw_analyzers => "`Analyzers = [`",
        Rule::constant_decl | Rule::constant_name => "a constant declaration",
        Rule::dictionary => "`{`",
        Rule::dict_entry => "a `\"key\": value` entry",
        Rule::string_array | Rule::constant_array => "a list in brackets",
        Rule::label_list => "a list of labels",
        Rule::label => "a `\"key\" = \"value\"` label",
        Rule::rule_expr | Rule::rule_conj | Rule::rule | Rule::group | Rule::rule_type => "a rule",
        Rule::analyzer => "an analyzer",
        Rule::parameter => "a parameter",
        Rule::constant_ref => "a `$constant`",
        Rule::where_clause | Rule::where_kw => "`where`",
        Rule::labels_clause | Rule::labels_kw => "`labels`",
        Rule::tag | Rule::with_kw => "`with`",
        Rule::tag_name => "a tag name",
        Rule::condition => "a condition",
        Rule::between_cond | Rule::between_kw => "`between`",
        Rule::in_cond | Rule::in_kw => "`in`",
        Rule::matches_cond | Rule::matches_kw => "`matches`",
        Rule::compare_cond | Rule::compare_op => "a comparison (`=`, `!=`, `>`, `>=`, `<`, `<=`)",
        Rule::not_kw => "`not`",
        Rule::operand_list => "a list in brackets",
        Rule::operand => "a value",
        Rule::date_operand | Rule::now_kw => "`now()`",
        Rule::now_offset => "`+` or `-` and a duration",
        Rule::duration => "a duration",
        Rule::size => "a size",
        Rule::num_expr | Rule::signed_number | Rule::unsigned_number => "a number",
        Rule::paren_expr => "`(`",
        Rule::function_call | Rule::function_name => "a function call",
        Rule::arith_op | Rule::plus_op | Rule::minus_op => "an arithmetic operator",
        Rule::identifier => "a name",
        Rule::quoted_string => "a quoted string",
        Rule::string_inner => "the rest of the string",
        Rule::and_kw => "`and`",
        Rule::or_kw => "`or`",
        Rule::of_kw => "`of`",
        Rule::null_kw => "`NULL`",
        Rule::empty_kw => "`EMPTY`",
        Rule::whitespaces_kw => "`WHITESPACES_ONLY`",
        Rule::duration_unit => "`days`, `hours` or `minutes`",
        Rule::size_unit => "`B`, `KB`, `MB`, `GB` or `TB`",
        Rule::known_rule_type => "a rule type",
        _ => return None,
    })
}

/// Joins names as "a, b or c".
pub fn join_alternatives(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// A hint for common near-misses, judged from the text found at the error.
pub fn hint_for(found: &str, source_before: &str) -> Option<String> {
    let word: String = found
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let lowercase_keywords = ["between", "in", "not", "matches", "with", "where", "labels"];
    let previous_word: String = source_before
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    for candidate in [&word, &previous_word] {
        if let Some(kw) = lowercase_keywords
            .iter()
            .find(|k| candidate != *k && candidate.eq_ignore_ascii_case(k))
        {
            return Some(format!("`{kw}` is written in lowercase"));
        }
    }
    if found.starts_with('"') && found[1..].find('"').is_none() {
        return Some("this string is never closed".to_string());
    }
    let sections = [
        "Rules",
        "Analyzers",
        "Metadata",
        "DataSources",
        "DefaultLabels",
    ];
    if let Some(s) = sections
        .iter()
        .find(|s| word != **s && word.eq_ignore_ascii_case(s))
    {
        return Some(format!("section names are case-sensitive: write `{s}`"));
    }
    if let Some(s) = source_before
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find_map(|w| {
            sections
                .iter()
                .find(|s| w != **s && w.eq_ignore_ascii_case(s))
        })
    {
        return Some(format!("section names are case-sensitive: write `{s}`"));
    }
    if word == "where" || word == "labels" {
        return Some("a rule's parts come in this order: parameters, condition, `where`, `labels`, `with` tags".to_string());
    }
    if found.starts_with('\'') {
        return Some("strings are written in double quotes".to_string());
    }
    if found.starts_with("//") {
        return Some("comments start with `#`".to_string());
    }
    if found.starts_with("==") {
        return Some("equality is a single `=`".to_string());
    }
    if found.starts_with("<>") {
        return Some("write `!=` for not equal".to_string());
    }
    if found.starts_with(']') && source_before.trim_end().ends_with(',') {
        return Some("remove the trailing comma".to_string());
    }
    if let Some(unit) = [
        "day", "hour", "minute", "DAYS", "HOURS", "MINUTES", "seconds", "weeks",
    ]
    .iter()
    .find(|u| word == **u)
    {
        return Some(format!(
            "`{unit}` is not a duration unit; use `days`, `hours` or `minutes`"
        ));
    }
    if word.starts_with("now") && found[word.len()..].trim_start().starts_with('-')
        || source_before.trim_end().ends_with("now()")
    {
        return Some("put a `now()` offset in parentheses: `(now() - 3 days)`".to_string());
    }
    None
}
