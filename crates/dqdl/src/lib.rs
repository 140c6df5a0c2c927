//! DQDL, the rule language: grammar binding, typed AST with spans, located
//! errors, static validation and the canonical formatter. No I/O here.
//!
//! ```text
//! source ──pest──▶ pairs ──build──▶ Ruleset ──validate──▶ Ok(Ruleset) | DqdlError
//!                                         └──format──▶ canonical text
//! ```
//!
//! The grammar is `grammar/dqdl.pest` at the repository's top level. The
//! crate depends on pest, serde and thiserror only, so it builds (and its
//! benchmark and fuzz target run) in seconds, without the evaluation stack.

#![warn(missing_docs)]

// pest's derive without its "std" feature names `alloc` from the crate root.
extern crate alloc;

pub mod ast;
mod build;
pub mod date_pattern;
pub mod error;
pub mod format;
mod grammar;
pub mod number;
pub mod rule_types;
pub mod validate;

use pest::Parser;

pub use ast::*;
pub use error::{Diagnostic, DqdlError};
pub use format::format_ruleset;
pub use rule_types::RuleType;

use error::{LineIndex, friendly_name, hint_for, join_alternatives};
use grammar::{DqdlParser, Rule as GrammarRule};

/// Largest ruleset accepted, in bytes.
pub const MAX_RULESET_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of parentheses and brackets accepted.
pub const MAX_NESTING: usize = 64;

/// Parses and validates a DQDL document.
pub fn parse(source: &str) -> Result<Ruleset, DqdlError> {
    let index = LineIndex::new(source);
    if let Some(d) = guard_input(source, &index) {
        return Err(DqdlError {
            diagnostics: vec![d],
        });
    }
    let mut pairs = DqdlParser::parse(GrammarRule::ruleset, source).map_err(|_| DqdlError {
        diagnostics: vec![syntax_diagnostic(source, &index, &detailed_error(source))],
    })?;
    let Some(top) = pairs.next() else {
        return Err(DqdlError {
            diagnostics: vec![index.diagnostic(source, Span::default(), "empty ruleset")],
        });
    };
    let mut builder = build::Builder::new(source, &index);
    let ruleset = builder.ruleset(top);
    let mut diagnostics = builder.into_diagnostics();
    // Rules the builder rejected are absent from the tree, so validating the
    // rest reports every problem at once without repeating any.
    diagnostics.extend(validate::validate(&ruleset, source, &index));
    diagnostics.sort_by_key(|d| d.start);
    if diagnostics.is_empty() {
        Ok(ruleset)
    } else {
        Err(DqdlError { diagnostics })
    }
}

/// Rejects input too large or too deeply nested before the recursive parser
/// sees it, so hostile input fails fast and never exhausts the stack.
fn guard_input(source: &str, index: &LineIndex) -> Option<Diagnostic> {
    if source.len() > MAX_RULESET_BYTES {
        return Some(index.diagnostic(
            source,
            Span::new(0, 0),
            format!(
                "ruleset is {} bytes; the limit is {} bytes",
                source.len(),
                MAX_RULESET_BYTES
            ),
        ));
    }
    let bytes = source.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_string = true,
                b'#' => {
                    i = source[i..].find('\n').map_or(bytes.len(), |e| i + e);
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_NESTING {
                        return Some(index.diagnostic(
                            source,
                            Span::new(i, i + 1),
                            format!("nesting is deeper than {MAX_NESTING} levels"),
                        ));
                    }
                }
                b')' | b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Parses again with pest's detailed attempt tracking, which costs time and
/// so is only paid for input that already failed.
fn detailed_error(source: &str) -> pest::error::Error<GrammarRule> {
    pest::set_error_detail(true);
    let result = DqdlParser::parse(GrammarRule::ruleset, source);
    pest::set_error_detail(false);
    match result {
        Err(e) => e,
        Ok(_) => pest::error::Error::new_from_pos(
            pest::error::ErrorVariant::CustomError {
                message: "invalid ruleset".to_string(),
            },
            pest::Position::from_start(source),
        ),
    }
}

/// Turns a pest error into a diagnostic with friendly "expected" names.
fn syntax_diagnostic(
    source: &str,
    index: &LineIndex,
    e: &pest::error::Error<GrammarRule>,
) -> Diagnostic {
    let rule_offset = match e.location {
        pest::error::InputLocation::Pos(p) => p,
        pest::error::InputLocation::Span((s, _)) => s,
    };
    let attempts = e.parse_attempts();
    let mut expected: Vec<String> = match &e.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives
            .iter()
            .filter_map(|r| friendly_name(*r))
            .map(String::from)
            .collect(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    // pest names only rules; literal punctuation (`[`, `=`, `)`) comes from
    // the attempt tracker. Its position is trusted only when no rule was
    // expected, since lookaheads can carry it past the real error.
    let mut offset = rule_offset;
    if let Some(a) = &attempts {
        if expected.is_empty() && a.max_position > rule_offset {
            offset = a.max_position;
        }
        if a.max_position == offset {
            expected.extend(
                a.expected_tokens()
                    .iter()
                    .map(ToString::to_string)
                    .filter_map(|token| {
                        (!token.is_empty() && token.chars().all(|c| "[](){}=,:".contains(c)))
                            .then(|| format!("`{token}`"))
                    }),
            );
        }
    }
    let found_text = &source[offset.min(source.len())..];
    let found = describe_found(found_text);
    // After a number the parser also tried units; name them only when
    // nothing else could follow.
    let units = [
        "`B`, `KB`, `MB`, `GB` or `TB`",
        "`days`, `hours` or `minutes`",
    ];
    if expected.iter().any(|e| !units.contains(&e.as_str())) {
        expected.retain(|e| !units.contains(&e.as_str()));
    }
    expected.sort_unstable();
    expected.dedup();
    let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
    let mut message = if expected.is_empty() {
        format!("unexpected {found}")
    } else {
        format!("expected {}, found {found}", join_alternatives(&expected))
    };
    if let Some(h) = hint_for(found_text, &source[..offset.min(source.len())]) {
        message.push_str(&format!(" ({h})"));
    }
    let end = offset + found_token_len(found_text);
    index.diagnostic(source, Span::new(offset, end), message)
}

fn found_token_len(text: &str) -> usize {
    let word = text
        .char_indices()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .last()
        .map_or(0, |(i, c)| i + c.len_utf8());
    if word > 0 {
        word
    } else {
        text.chars().next().map_or(0, char::len_utf8)
    }
}

fn describe_found(text: &str) -> String {
    if text.is_empty() {
        return "end of input".to_string();
    }
    let len = found_token_len(text);
    let token: String = text[..len].chars().take(40).collect();
    format!("`{token}`")
}
