//! Turns pest pairs into the typed AST, classifying string literals (DATE and
//! TIME tokens), checking number forms and attaching comments.

use pest::Token;
use pest::iterators::Pair;

use super::ast::*;
use super::error::{Diagnostic, LineIndex};
use super::grammar::Rule;
use super::rule_types::RuleType;

/// Builds the AST, collecting every problem instead of stopping at the first.
pub struct Builder<'s> {
    source: &'s str,
    index: &'s LineIndex,
    diagnostics: Vec<Diagnostic>,
}

/// The span of a pair without trailing whitespace (which pest includes when
/// an optional element at the end of a sequence is absent).
fn span_of(pair: &Pair<'_, Rule>) -> Span {
    let start = pair.as_span().start();
    Span::new(start, start + pair.as_str().trim_end().len())
}

/// The span of a pair without the trailing whitespace and comments pest
/// includes when an optional element at the end of a sequence is absent
/// (needed where a comment on the same line must not count as inside).
fn trimmed_span_of(pair: &Pair<'_, Rule>) -> Span {
    Span::new(pair.as_span().start(), content_end(pair))
}

/// The end of the pair's innermost last descendant. Read backwards from the
/// pair's end token: the end tokens of its last child, that child's last
/// child and so on come first, up to the start token of the innermost one
/// (one pass over those tokens, not a walk over every level's children).
fn content_end(pair: &Pair<'_, Rule>) -> usize {
    let mut end = pair.as_span().end();
    for token in pair.clone().tokens().rev() {
        match token {
            Token::End { pos, .. } => end = pos.pos(),
            Token::Start { .. } => break,
        }
    }
    end
}

/// What a quoted string lexes as (SPEC §2.3).
enum Lexeme {
    Plain(String),
    Date(String),
    Time {
        hour: u32,
        minute: u32,
        text: String,
    },
    BadTime(String),
}

impl<'s> Builder<'s> {
    /// A builder over `source`.
    pub fn new(source: &'s str, index: &'s LineIndex) -> Self {
        Builder {
            source,
            index,
            diagnostics: Vec::new(),
        }
    }

    /// The problems found so far.
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        let d = self.index.diagnostic(self.source, span, message);
        self.diagnostics.push(d);
    }

    /// Builds the ruleset from the top-level `ruleset` pair.
    pub fn ruleset(&mut self, pair: Pair<'s, Rule>) -> Ruleset {
        let mut ruleset = Ruleset {
            metadata: Vec::new(),
            data_sources: Vec::new(),
            constants: Vec::new(),
            default_labels: Vec::new(),
            rules: None,
            analyzers: None,
            comments: SectionComments::default(),
        };
        let mut anchors = Vec::new();
        let mut body_span = Span::default();
        for p in pair.into_inner() {
            // Sections end at their closing bracket, which is not a pair.
            let span = Span::new(p.as_span().start(), p.as_span().end());
            match p.as_rule() {
                Rule::metadata_section => {
                    anchors.push(Anchor::new(span, AnchorKind::Header));
                    ruleset.metadata = self.dictionary(
                        p,
                        &["Version", crate::ast::COMPOSITE_METHOD_KEY],
                        "Metadata",
                    );
                }
                Rule::data_sources_section => {
                    anchors.push(Anchor::new(span, AnchorKind::Header));
                    ruleset.data_sources =
                        self.dictionary(p, &["Primary", "AdditionalDataSources"], "DataSources");
                }
                Rule::constant_decl => {
                    anchors.push(Anchor::new(
                        span,
                        AnchorKind::Constant(ruleset.constants.len()),
                    ));
                    if let Some(c) = self.constant(p) {
                        ruleset.constants.push(c);
                    }
                }
                Rule::default_labels_section => {
                    anchors.push(Anchor::new(span, AnchorKind::Header));
                    if let Some(list) = p.into_inner().find(|i| i.as_rule() == Rule::label_list) {
                        ruleset.default_labels = self.labels(list);
                    }
                }
                Rule::rules_section => {
                    body_span = span;
                    anchors.push(Anchor::new(
                        Span::new(span.start, span.start),
                        AnchorKind::RulesStart,
                    ));
                    let mut rules = Vec::new();
                    for r in p.into_inner().filter(|i| i.as_rule() == Rule::rule_expr) {
                        anchors.push(Anchor::new(
                            trimmed_span_of(&r),
                            AnchorKind::Rule(rules.len()),
                        ));
                        if let Some(expr) = self.rule_expr(r) {
                            rules.push(TopRule {
                                expr,
                                comments: Vec::new(),
                                trailing_comment: None,
                            });
                        }
                    }
                    anchors.push(Anchor::new(
                        Span::new(span.end, span.end),
                        AnchorKind::RulesEnd,
                    ));
                    ruleset.rules = Some(rules);
                }
                Rule::analyzers_section => {
                    if body_span.end == 0 {
                        body_span = span;
                    }
                    anchors.push(Anchor::new(
                        Span::new(span.start, span.start),
                        AnchorKind::AnalyzersStart,
                    ));
                    let mut analyzers = Vec::new();
                    for a in p.into_inner().filter(|i| i.as_rule() == Rule::analyzer) {
                        anchors.push(Anchor::new(
                            trimmed_span_of(&a),
                            AnchorKind::Analyzer(analyzers.len()),
                        ));
                        if let Some(an) = self.analyzer(a) {
                            analyzers.push(an);
                        }
                    }
                    anchors.push(Anchor::new(
                        Span::new(span.end, span.end),
                        AnchorKind::AnalyzersEnd,
                    ));
                    ruleset.analyzers = Some(analyzers);
                }
                _ => {}
            }
        }
        let no_rules = ruleset.rules.as_ref().is_none_or(|r| r.is_empty());
        let no_analyzers = ruleset.analyzers.as_ref().is_none_or(|a| a.is_empty());
        if no_rules && no_analyzers && self.diagnostics.is_empty() {
            self.error(
                body_span,
                "no rules or analyzers provided: a ruleset needs at least one",
            );
        }
        attach_comments(self.source, self.index, &anchors, &mut ruleset);
        ruleset
    }

    fn dictionary(
        &mut self,
        pair: Pair<'s, Rule>,
        allowed: &[&str],
        section: &str,
    ) -> Vec<DictEntry> {
        let mut entries: Vec<DictEntry> = Vec::new();
        let Some(dict) = pair.into_inner().find(|i| i.as_rule() == Rule::dictionary) else {
            return entries;
        };
        for entry in dict.into_inner() {
            let span = span_of(&entry);
            let mut inner = entry.into_inner();
            let (Some(key_pair), Some(value_pair)) = (inner.next(), inner.next()) else {
                continue;
            };
            let key_span = span_of(&key_pair);
            let key = unescape(string_content(&key_pair));
            let value = match value_pair.as_rule() {
                Rule::string_array => DictValue::List(
                    value_pair
                        .into_inner()
                        .map(|s| unescape(string_content(&s)))
                        .collect(),
                ),
                _ => DictValue::Text(unescape(string_content(&value_pair))),
            };
            if !allowed.contains(&key.as_str()) {
                self.error(
                    key_span,
                    format!(
                        "unsupported key \"{key}\" in {section}; allowed: {}",
                        allowed
                            .iter()
                            .map(|k| format!("\"{k}\""))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            } else if key == crate::ast::COMPOSITE_METHOD_KEY
                && !matches!(&value, DictValue::Text(t) if crate::ast::CompositeMode::parse(t).is_some())
            {
                self.error(span, format!("\"{key}\" is \"ROW\" or \"COLUMN\""));
            } else if entries.iter().any(|e| e.key == key) {
                self.error(
                    key_span,
                    format!("key \"{key}\" is given twice in {section}"),
                );
            } else if key == "AdditionalDataSources" && !matches!(value, DictValue::List(_)) {
                self.error(
                    span,
                    "\"AdditionalDataSources\" must be a list: [\"alias\", ...]",
                );
            }
            entries.push(DictEntry { key, value, span });
        }
        entries
    }

    fn constant(&mut self, pair: Pair<'s, Rule>) -> Option<Constant> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let name_pair = inner.next()?;
        let value_pair = inner.next()?;
        let name = name_pair.as_str().to_string();
        if name.starts_with('.') || name.starts_with('_') {
            self.error(
                span_of(&name_pair),
                format!("constant name `{name}` must not start with `.` or `_`"),
            );
        }
        let value = match value_pair.as_rule() {
            Rule::constant_array => {
                let mut items = Vec::new();
                for item in value_pair.into_inner() {
                    if let Some(i) = self.set_item(item) {
                        items.push(i);
                    }
                }
                ConstantValue::List(items)
            }
            _ => ConstantValue::Text(self.plain_string(&value_pair, "a constant")?.value),
        };
        Some(Constant {
            name,
            value,
            comments: Vec::new(),
            span,
        })
    }

    fn set_item(&mut self, item: Pair<'s, Rule>) -> Option<SetItem> {
        Some(match item.as_rule() {
            Rule::null_kw => SetItem::Null,
            Rule::empty_kw => SetItem::Empty,
            Rule::whitespaces_kw => SetItem::WhitespacesOnly,
            _ => SetItem::Text(self.plain_string(&item, "a string list")?.value),
        })
    }

    fn labels(&mut self, list: Pair<'s, Rule>) -> Vec<Label> {
        let mut labels = Vec::new();
        for label in list.into_inner() {
            let span = span_of(&label);
            let mut inner = label.into_inner();
            let (Some(k), Some(v)) = (inner.next(), inner.next()) else {
                continue;
            };
            let (Some(key), Some(value)) = (
                self.plain_string(&k, "a label"),
                self.plain_string(&v, "a label"),
            ) else {
                continue;
            };
            labels.push(Label {
                key: key.value,
                value: value.value,
                span,
            });
        }
        labels
    }

    fn rule_expr(&mut self, pair: Pair<'s, Rule>) -> Option<RuleExpr> {
        let span = span_of(&pair);
        let op = match pair.as_rule() {
            Rule::rule_expr => LogicalOp::Or,
            _ => LogicalOp::And,
        };
        // Most expressions have one operand (a rule under its `rule_expr` and
        // `rule_conj` levels): it is passed up as it is, never through a Vec.
        let mut first = None;
        let mut operands = Vec::new();
        let mut ok = true;
        for p in pair.into_inner() {
            let built = match p.as_rule() {
                Rule::rule_conj | Rule::rule_expr => self.rule_expr(p),
                Rule::group => self.group(p),
                Rule::rule => self.rule(p).map(RuleExpr::Rule),
                _ => continue,
            };
            match built {
                Some(e) if first.is_none() && operands.is_empty() => first = Some(e),
                Some(e) => {
                    operands.extend(first.take());
                    operands.push(e);
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        if first.is_some() {
            return first;
        }
        Some(RuleExpr::Composite(Composite {
            op,
            operands,
            labels: Vec::new(),
            span,
        }))
    }

    fn group(&mut self, pair: Pair<'s, Rule>) -> Option<RuleExpr> {
        let mut expr = None;
        let mut labels = Vec::new();
        let mut labels_span = Span::default();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::rule_expr => expr = self.rule_expr(p),
                Rule::labels_clause => {
                    labels_span = span_of(&p);
                    if let Some(list) = p.into_inner().find(|i| i.as_rule() == Rule::label_list) {
                        labels = self.labels(list);
                    }
                }
                _ => {}
            }
        }
        let mut expr = expr?;
        if !labels.is_empty() {
            let existing = match &mut expr {
                RuleExpr::Rule(r) => &mut r.labels,
                RuleExpr::Composite(c) => &mut c.labels,
            };
            if existing.is_empty() {
                *existing = labels;
            } else {
                self.error(
                    labels_span,
                    "labels are given twice for the same rule; merge them into one list",
                );
            }
        }
        Some(expr)
    }

    fn rule_type(&mut self, pair: &Pair<'s, Rule>) -> Option<RuleType> {
        let name = pair.as_str();
        match RuleType::from_name(name) {
            Some(t) => Some(t),
            None => {
                let message = match RuleType::closest(name) {
                    Some(t) => format!("unknown rule type `{name}`; did you mean `{t}`?"),
                    None => format!("unknown rule type `{name}`"),
                };
                self.error(span_of(pair), message);
                None
            }
        }
    }

    fn param(&mut self, pair: Pair<'s, Rule>) -> Option<Param> {
        let value_pair = pair.into_inner().last()?;
        let span = span_of(&value_pair);
        let value = match value_pair.as_rule() {
            Rule::quoted_string => {
                ParamValue::Text(self.plain_string(&value_pair, "a rule parameter")?.value)
            }
            Rule::constant_ref => ParamValue::Constant(value_pair.as_str()[1..].to_string()),
            _ => ParamValue::Text(value_pair.as_str().to_string()),
        };
        Some(Param { value, span })
    }

    fn rule(&mut self, pair: Pair<'s, Rule>) -> Option<Rule_> {
        let span = trimmed_span_of(&pair);
        let mut inner = pair.into_inner();
        let type_pair = inner.next()?;
        let rule_type = self.rule_type(&type_pair);
        let mut rule = Rule_ {
            rule_type: rule_type.unwrap_or(RuleType::RowCount),
            params: Vec::new(),
            condition: None,
            where_clause: None,
            labels: Vec::new(),
            threshold: None,
            tags: Vec::new(),
            span,
        };
        let mut ok = rule_type.is_some();
        for p in inner {
            match p.as_rule() {
                Rule::parameter => match self.param(p) {
                    Some(param) => rule.params.push(param),
                    None => ok = false,
                },
                Rule::condition => match self.condition(p) {
                    Some(c) => rule.condition = Some(c),
                    None => ok = false,
                },
                Rule::where_clause => {
                    let s = p
                        .into_inner()
                        .find(|i| i.as_rule() == Rule::quoted_string)?;
                    match self.plain_string(&s, "a `where` clause") {
                        Some(t) => rule.where_clause = Some(t),
                        None => ok = false,
                    }
                }
                Rule::labels_clause => {
                    if let Some(list) = p.into_inner().find(|i| i.as_rule() == Rule::label_list) {
                        rule.labels = self.labels(list);
                    }
                }
                Rule::tag => {
                    let tag_span = span_of(&p);
                    let mut t = p.into_inner();
                    let _with = t.next();
                    let (Some(name), Some(cond)) = (t.next(), t.next()) else {
                        continue;
                    };
                    let name_str = name.as_str().to_string();
                    let Some(condition) = self.condition(cond) else {
                        ok = false;
                        continue;
                    };
                    if name_str.eq_ignore_ascii_case("threshold") {
                        if rule.threshold.is_some() {
                            self.error(tag_span, "only one `with threshold` is allowed per rule");
                            ok = false;
                        }
                        rule.threshold = Some(condition);
                    } else {
                        rule.tags.push(Tag {
                            name: name_str,
                            condition,
                            span: tag_span,
                        });
                    }
                }
                _ => {}
            }
        }
        ok.then_some(rule)
    }

    fn analyzer(&mut self, pair: Pair<'s, Rule>) -> Option<Analyzer> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let type_pair = inner.next()?;
        let rule_type = self.rule_type(&type_pair);
        let mut params = Vec::new();
        for p in inner {
            params.push(self.param(p)?);
        }
        Some(Analyzer {
            rule_type: rule_type?,
            params,
            comments: Vec::new(),
            trailing_comment: None,
            span,
        })
    }

    fn condition(&mut self, pair: Pair<'s, Rule>) -> Option<Condition> {
        let span = span_of(&pair);
        let body = pair.into_inner().next()?;
        let kind = body.as_rule();
        let mut inner = body.into_inner().peekable();
        let negated = inner.peek().is_some_and(|p| p.as_rule() == Rule::not_kw);
        if negated {
            inner.next();
        }
        match kind {
            Rule::between_cond => {
                let _kw = inner.next();
                let low = self.operand(inner.next()?)?;
                let _and = inner.next();
                let high = self.operand(inner.next()?)?;
                Some(Condition::Between {
                    negated,
                    low,
                    high,
                    span,
                })
            }
            Rule::in_cond => {
                let _kw = inner.next();
                let set_pair = inner.next()?;
                let set = match set_pair.as_rule() {
                    Rule::constant_ref => InSet::Constant(Text {
                        value: set_pair.as_str()[1..].to_string(),
                        span: span_of(&set_pair),
                    }),
                    _ => {
                        let mut items = Vec::new();
                        for o in set_pair.into_inner() {
                            items.push(self.operand(o)?);
                        }
                        InSet::List(items)
                    }
                };
                Some(Condition::In { negated, set, span })
            }
            Rule::matches_cond => {
                let _kw = inner.next();
                let s = inner.next()?;
                let pattern = self.plain_string(&s, "`matches`")?;
                Some(Condition::Matches {
                    negated,
                    pattern,
                    span,
                })
            }
            _ => {
                let op_pair = inner.next()?;
                let op = match op_pair
                    .as_str()
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect::<String>()
                    .as_str()
                {
                    "=" => CompareOp::Eq,
                    "!=" => CompareOp::Ne,
                    ">" => CompareOp::Gt,
                    ">=" => CompareOp::Ge,
                    "<" => CompareOp::Lt,
                    _ => CompareOp::Le,
                };
                let operand = self.operand(inner.next()?)?;
                Some(Condition::Compare { op, operand, span })
            }
        }
    }

    fn operand(&mut self, pair: Pair<'s, Rule>) -> Option<Operand> {
        let p = pair.into_inner().next()?;
        let span = span_of(&p);
        Some(match p.as_rule() {
            Rule::null_kw => Operand::Null(span),
            Rule::empty_kw => Operand::Empty(span),
            Rule::whitespaces_kw => Operand::WhitespacesOnly(span),
            Rule::constant_ref => Operand::Constant(Text {
                value: p.as_str()[1..].to_string(),
                span,
            }),
            Rule::duration => Operand::Duration(self.duration(p)?),
            Rule::size => {
                let mut inner = p.into_inner();
                let amount = self.whole_amount(&inner.next()?, "a size")?;
                let unit = match inner.next()?.as_str() {
                    "B" => SizeUnit::B,
                    "KB" => SizeUnit::KB,
                    "MB" => SizeUnit::MB,
                    "GB" => SizeUnit::GB,
                    _ => SizeUnit::TB,
                };
                Operand::Size(Size { amount, unit, span })
            }
            Rule::date_operand => {
                let offset = match p.into_inner().find(|i| i.as_rule() == Rule::now_offset) {
                    None => None,
                    Some(o) => {
                        let mut inner = o.into_inner();
                        let negative = inner.next()?.as_rule() == Rule::minus_op;
                        let duration = self.duration(inner.next()?)?;
                        Some(SignedDuration { negative, duration })
                    }
                };
                Operand::Date(DateOperand {
                    value: DateValue::Now { offset },
                    span,
                })
            }
            Rule::quoted_string => match classify(string_content(&p)) {
                Lexeme::Plain(s) => Operand::Text(Text { value: s, span }),
                Lexeme::Date(d) => Operand::Date(DateOperand {
                    value: DateValue::Date(d),
                    span,
                }),
                Lexeme::Time { hour, minute, text } => Operand::Date(DateOperand {
                    value: DateValue::Time { hour, minute, text },
                    span,
                }),
                Lexeme::BadTime(text) => {
                    self.error(
                        span,
                        format!("\"{text}\" is not a valid time; write \"9:30 AM\" or \"21:30\""),
                    );
                    return None;
                }
            },
            _ => Operand::Number(self.num_expr(p)?),
        })
    }

    fn duration(&mut self, pair: Pair<'s, Rule>) -> Option<Duration> {
        let span = span_of(&pair);
        let mut inner = pair.into_inner();
        let amount = self.whole_amount(&inner.next()?, "a duration")?;
        let unit = match inner.next()?.as_str() {
            "days" => DurationUnit::Days,
            "hours" => DurationUnit::Hours,
            _ => DurationUnit::Minutes,
        };
        Some(Duration { amount, unit, span })
    }

    /// A duration or size amount: a whole number that fits a 32-bit signed int.
    fn whole_amount(&mut self, pair: &Pair<'s, Rule>, what: &str) -> Option<u32> {
        let text = pair.as_str();
        if text.contains('.') {
            self.error(
                span_of(pair),
                format!("{what} takes a whole number, not `{text}`"),
            );
            return None;
        }
        match text.parse::<u32>() {
            Ok(v) if v <= i32::MAX as u32 => Some(v),
            _ => {
                self.error(
                    span_of(pair),
                    format!("{what} of `{text}` is too large (at most {})", i32::MAX),
                );
                None
            }
        }
    }

    fn num_expr(&mut self, pair: Pair<'s, Rule>) -> Option<NumExpr> {
        let span = span_of(&pair);
        match pair.as_rule() {
            Rule::num_expr => {
                let mut inner = pair.into_inner();
                let first = self.num_expr(inner.next()?)?;
                let mut rest = Vec::new();
                while let Some(op) = inner.next() {
                    let op = match op.as_str() {
                        "+" => ArithOp::Add,
                        "-" => ArithOp::Sub,
                        "*" => ArithOp::Mul,
                        _ => ArithOp::Div,
                    };
                    rest.push((op, self.num_expr(inner.next()?)?));
                }
                if rest.is_empty() {
                    Some(first)
                } else {
                    Some(NumExpr::Chain {
                        first: Box::new(first),
                        rest,
                        span,
                    })
                }
            }
            Rule::signed_number => {
                let mut negative = false;
                let mut value = 0.0;
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::minus_op => negative = true,
                        _ => value = p.as_str().parse::<f64>().ok()?,
                    }
                }
                Some(NumExpr::Literal {
                    value: if negative { -value } else { value },
                    span,
                })
            }
            Rule::paren_expr => Some(NumExpr::Paren {
                inner: Box::new(self.num_expr(pair.into_inner().next()?)?),
                span,
            }),
            Rule::function_call => {
                let mut inner = pair.into_inner();
                let name = inner.next()?.as_str().to_string();
                let mut args = Vec::new();
                for a in inner {
                    args.push(self.num_expr(a)?);
                }
                Some(NumExpr::Call { name, args, span })
            }
            _ => None,
        }
    }

    /// A string where a plain string is required: DATE and TIME tokens are
    /// rejected there, as in the reference lexer.
    fn plain_string(&mut self, pair: &Pair<'s, Rule>, context: &str) -> Option<Text> {
        let span = span_of(pair);
        match classify(string_content(pair)) {
            Lexeme::Plain(value) => Some(Text { value, span }),
            Lexeme::Date(text) | Lexeme::Time { text, .. } | Lexeme::BadTime(text) => {
                self.error(
                    span,
                    format!("\"{text}\" is a date or time literal and cannot be used in {context}"),
                );
                None
            }
        }
    }
}

// `Rule` names the grammar enum in this module; the AST rule is aliased.
use super::ast::Rule as Rule_;

/// The raw text between the quotes of a `quoted_string` pair.
fn string_content<'a>(pair: &Pair<'a, Rule>) -> &'a str {
    let s = pair.as_str();
    &s[1..s.len() - 1]
}

/// Removes the `\"` and `\\` escapes; other backslash pairs stay as written.
pub fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && let Some(&next) = chars.peek()
            && (next == '"' || next == '\\')
        {
            out.push(next);
            chars.next();
            continue;
        }
        out.push(c);
    }
    out
}

fn classify(raw: &str) -> Lexeme {
    let b = raw.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() == 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
    {
        return Lexeme::Date(raw.to_string());
    }
    // "HH:MM" (24-hour) or "H:MM AM" / "HH:MM PM".
    if b.len() == 5 && digits(0..2) && b[2] == b':' && digits(3..5) {
        let hour: u32 = raw[0..2].parse().unwrap_or(99);
        let minute: u32 = raw[3..5].parse().unwrap_or(99);
        if hour < 24 && minute < 60 {
            return Lexeme::Time {
                hour,
                minute,
                text: raw.to_string(),
            };
        }
        return Lexeme::BadTime(raw.to_string());
    }
    if let Some(colon) = raw.find(':') {
        let rest = &raw[colon..];
        if (colon == 1 || colon == 2)
            && digits(0..colon)
            && rest.len() == 6
            && digits(colon + 1..colon + 3)
            && (rest.ends_with(" AM") || rest.ends_with(" PM"))
        {
            let hour: u32 = raw[..colon].parse().unwrap_or(99);
            let minute: u32 = raw[colon + 1..colon + 3].parse().unwrap_or(99);
            if (1..=12).contains(&hour) && minute < 60 {
                let pm = rest.ends_with("PM");
                let hour24 = match (hour, pm) {
                    (12, false) => 0,
                    (12, true) => 12,
                    (h, false) => h,
                    (h, true) => h + 12,
                };
                return Lexeme::Time {
                    hour: hour24,
                    minute,
                    text: raw.to_string(),
                };
            }
            return Lexeme::BadTime(raw.to_string());
        }
    }
    Lexeme::Plain(unescape(raw))
}

/// Something a comment can attach to, in source order.
struct Anchor {
    span: Span,
    kind: AnchorKind,
}

impl Anchor {
    fn new(span: Span, kind: AnchorKind) -> Self {
        Anchor { span, kind }
    }
}

#[derive(Clone, Copy)]
enum AnchorKind {
    Header,
    Constant(usize),
    RulesStart,
    Rule(usize),
    RulesEnd,
    AnalyzersStart,
    Analyzer(usize),
    AnalyzersEnd,
}

/// Every `#` comment outside strings: (byte offset, text after `#` without
/// trailing whitespace).
pub fn scan_comments(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let c = bytes[i];
        if in_string {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == b'"' {
                in_string = false;
            }
        } else if c == b'"' {
            in_string = true;
        } else if c == b'#' {
            let end = source[i..].find('\n').map_or(source.len(), |e| i + e);
            out.push((i, source[i + 1..end].trim_end().to_string()));
            i = end;
            continue;
        }
        i += 1;
    }
    out
}

/// Attaches each comment to the rule it trails (same line, after it), to the
/// item it precedes, or to the section footer it stands in.
fn attach_comments(source: &str, index: &LineIndex, anchors: &[Anchor], ruleset: &mut Ruleset) {
    for (offset, text) in scan_comments(source) {
        let line = index.line(offset);
        // A comment on the line where a rule or analyzer ends trails it.
        let trailing = anchors.iter().rev().find(|a| {
            matches!(a.kind, AnchorKind::Rule(_) | AnchorKind::Analyzer(_))
                && a.span.end <= offset
                && index.line(a.span.end.saturating_sub(1).max(a.span.start)) == line
        });
        let target = match trailing {
            Some(a) => Some((a.kind, true)),
            None => anchors
                .iter()
                .find(|a| a.span.end > offset || a.span.start >= offset)
                .map(|a| (a.kind, false)),
        };
        let comments = &mut ruleset.comments;
        match target {
            Some((AnchorKind::Rule(i), true)) => {
                if let Some(r) = ruleset.rules.as_mut().and_then(|r| r.get_mut(i)) {
                    push_trailing(&mut r.trailing_comment, text);
                }
            }
            Some((AnchorKind::Analyzer(i), true)) => {
                if let Some(a) = ruleset.analyzers.as_mut().and_then(|a| a.get_mut(i)) {
                    push_trailing(&mut a.trailing_comment, text);
                }
            }
            Some((AnchorKind::Rule(i), false)) => {
                if let Some(r) = ruleset.rules.as_mut().and_then(|r| r.get_mut(i)) {
                    r.comments.push(text);
                }
            }
            Some((AnchorKind::Analyzer(i), false)) => {
                if let Some(a) = ruleset.analyzers.as_mut().and_then(|a| a.get_mut(i)) {
                    a.comments.push(text);
                }
            }
            Some((AnchorKind::Constant(i), _)) => {
                if let Some(c) = ruleset.constants.get_mut(i) {
                    c.comments.push(text);
                }
            }
            Some((AnchorKind::Header, _)) => comments.header.push(text),
            Some((AnchorKind::RulesStart, _)) => comments.before_rules.push(text),
            Some((AnchorKind::RulesEnd, _)) => comments.rules_footer.push(text),
            Some((AnchorKind::AnalyzersStart, _)) => comments.before_analyzers.push(text),
            Some((AnchorKind::AnalyzersEnd, _)) => comments.analyzers_footer.push(text),
            None => comments.footer.push(text),
        }
    }
}

fn push_trailing(slot: &mut Option<String>, text: String) {
    match slot {
        Some(existing) => {
            existing.push(' ');
            existing.push_str(&text);
        }
        None => *slot = Some(text),
    }
}
