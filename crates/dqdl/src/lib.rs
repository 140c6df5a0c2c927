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
        diagnostics: recover(source, &index),
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

/// Most syntax errors reported for one ruleset.
const MAX_SYNTAX_ERRORS: usize = 20;

/// Every problem of a ruleset with syntax errors: after each one, the rule
/// (or section entry) holding it is blanked out and the rest parsed again,
/// so later syntax and validation errors are reported too. Positions stay
/// those of `source`.
fn recover(source: &str, index: &LineIndex) -> Vec<Diagnostic> {
    let mut text = source.to_string();
    let mut diagnostics = Vec::new();
    loop {
        let d = syntax_diagnostic(&text, index, &detailed_error(&text));
        let at = d.start;
        diagnostics.push(d);
        let Some(range) = enclosing_item(&text, at) else {
            break;
        };
        let mut blanked = text.clone().into_bytes();
        for b in &mut blanked[range] {
            if *b != b'\n' {
                *b = b' ';
            }
        }
        let Ok(next) = String::from_utf8(blanked) else {
            break;
        };
        text = next;
        match DqdlParser::parse(GrammarRule::ruleset, &text) {
            Ok(mut pairs) => {
                if let Some(top) = pairs.next() {
                    let mut builder = build::Builder::new(&text, index);
                    let ruleset = builder.ruleset(top);
                    diagnostics.extend(builder.into_diagnostics());
                    diagnostics.extend(validate::validate(&ruleset, &text, index));
                }
                break;
            }
            Err(_) if diagnostics.len() >= MAX_SYNTAX_ERRORS => break,
            Err(_) => {}
        }
    }
    for d in &mut diagnostics {
        (d.line, d.column) = index.position(source, d.start);
    }
    diagnostics.sort_by_key(|d| d.start);
    diagnostics.dedup_by_key(|d| d.start);
    diagnostics
}

/// The byte range of the section entry (a rule, an analyzer, a metadata
/// key) holding `offset`, with one comma next to it, when other entries
/// remain in its section; `None` otherwise.
fn enclosing_item(text: &str, offset: usize) -> Option<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut in_string = false;
    // Entries of the current section: (start, end, comma after it).
    let mut entries: Vec<(usize, usize, Option<usize>)> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'#' => {
                i = text[i..].find('\n').map_or(bytes.len(), |e| i + e);
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth == 1 {
                    entries.clear();
                    start = i + 1;
                }
            }
            b')' | b']' | b'}' => {
                if depth == 1 {
                    entries.push((start, i, None));
                    if let Some(found) = pick(text, &entries, offset) {
                        return found;
                    }
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth == 1 => {
                entries.push((start, i, Some(i)));
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if depth == 0 {
        return None;
    }
    // An unclosed section: its entries so far.
    entries.push((start, bytes.len(), None));
    pick(text, &entries, offset).flatten()
}

/// The entry of a section holding `offset` with a comma to remove along
/// with it: `Some(None)` when it is the section's only entry.
fn pick(
    text: &str,
    entries: &[(usize, usize, Option<usize>)],
    offset: usize,
) -> Option<Option<std::ops::Range<usize>>> {
    let k = entries
        .iter()
        .position(|(s, e, _)| *s <= offset && offset <= *e)?;
    let non_blank = |(s, e, _): &(usize, usize, Option<usize>)| {
        text.get(*s..*e).is_some_and(|t| {
            t.lines()
                .any(|l| !l.split('#').next().unwrap_or_default().trim().is_empty())
        })
    };
    if entries.iter().filter(|x| non_blank(x)).count() < 2 {
        return Some(None);
    }
    let (s, e, comma) = entries[k];
    Some(match comma {
        Some(c) => Some(s..c + 1),
        // The last entry takes the comma before it.
        None => k.checked_sub(1).and_then(|p| entries[p].2).map(|c| c..e),
    })
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
    if let Some(d) = attempts.as_ref().and_then(|a| {
        let tokens: Vec<String> = a
            .expected_tokens()
            .iter()
            .map(ToString::to_string)
            .collect();
        missing_comma(source, index, a.max_position, &tokens)
    }) {
        return d;
    }
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

/// Two values side by side where a `,` was expected (`["US" "GB"]`): the
/// error points at the gap between them and says a comma is missing.
fn missing_comma(
    source: &str,
    index: &LineIndex,
    max_position: usize,
    expected_tokens: &[String],
) -> Option<Diagnostic> {
    let at = max_position.min(source.len());
    let wants_comma = expected_tokens.iter().any(|t| t == ",");
    let next = source[at..].chars().next()?;
    let before = source[..at].trim_end();
    let previous = before.chars().last()?;
    let is_value_start = |c: char| c == '"' || c.is_ascii_digit() || c == '-';
    let is_value_end = |c: char| c == '"' || c.is_ascii_digit();
    if !(wants_comma && is_value_start(next) && is_value_end(previous)) {
        return None;
    }
    let value_start = if previous == '"' {
        before[..before.len() - 1].rfind('"').unwrap_or(0)
    } else {
        before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
            .map_or(0, |i| i + 1)
    };
    let shown = |t: &str| t.chars().take(40).collect::<String>();
    let next_len = if next == '"' {
        source[at + 1..]
            .find('"')
            .map_or(source.len() - at, |i| i + 2)
    } else {
        found_token_len(&source[at..])
    };
    let message = format!(
        "missing `,` between {} and {}: list items are separated by commas",
        shown(&before[value_start..]),
        shown(&source[at..at + next_len])
    );
    let gap = before.len();
    Some(index.diagnostic(source, Span::new(gap, at.max(gap + 1)), message))
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
