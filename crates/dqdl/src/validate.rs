//! Static checks that follow parsing: arity, condition kinds, where/threshold
//! permissions, tags, labels, constants and analyzer eligibility (SPEC §3–§12).

use std::collections::{HashMap, HashSet};

use super::ast::*;
use super::error::{Diagnostic, LineIndex};
use super::rule_types::{AnalyzerUse, ConditionKind, RuleType};

/// Most labels a rule may carry, inherited defaults included.
pub const MAX_LABELS: usize = 10;

/// The kind of value a `ColumnValues` condition compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Numbers.
    Number,
    /// Strings and the keywords NULL, EMPTY, WHITESPACES_ONLY.
    Text,
    /// Dates, times and `now()`.
    Date,
}

/// Checks a built ruleset; returns every problem found.
pub fn validate(ruleset: &Ruleset, source: &str, index: &LineIndex) -> Vec<Diagnostic> {
    let mut v = Validator {
        source,
        index,
        diagnostics: Vec::new(),
        constants: HashMap::new(),
        default_labels: ruleset.default_labels.len(),
    };
    v.constants_section(&ruleset.constants);
    v.label_list(&ruleset.default_labels, 0);
    for top in ruleset.rules.iter().flatten() {
        v.rule_expr(&top.expr);
    }
    for analyzer in ruleset.analyzers.iter().flatten() {
        v.analyzer(analyzer);
    }
    v.diagnostics.sort_by_key(|d| d.start);
    v.diagnostics
}

struct Validator<'a> {
    source: &'a str,
    index: &'a LineIndex,
    diagnostics: Vec<Diagnostic>,
    constants: HashMap<&'a str, &'a ConstantValue>,
    default_labels: usize,
}

impl<'a> Validator<'a> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        let d = self.index.diagnostic(self.source, span, message);
        self.diagnostics.push(d);
    }

    fn constants_section(&mut self, constants: &'a [Constant]) {
        for c in constants {
            if self.constants.insert(&c.name, &c.value).is_some() {
                self.error(c.span, format!("constant `{}` is declared twice", c.name));
            }
        }
    }

    fn label_list(&mut self, labels: &[Label], inherited: usize) {
        let mut seen = HashSet::new();
        for l in labels {
            if !seen.insert(l.key.as_str()) {
                self.error(l.span, format!("label key \"{}\" is given twice", l.key));
            }
            if l.key.is_empty() || l.value.is_empty() {
                self.error(l.span, "label key or value cannot be empty");
            } else if l.key.chars().count() > 128 {
                self.error(l.span, "label key is longer than 128 characters");
            } else if l.value.chars().count() > 256 {
                self.error(l.span, "label value is longer than 256 characters");
            }
        }
        let own_new = labels.len();
        if own_new + inherited > MAX_LABELS
            && let Some(first) = labels.first()
        {
            self.error(
                    first.span,
                    format!(
                        "a rule may carry at most {MAX_LABELS} labels, DefaultLabels included; this one has {}",
                        own_new + inherited
                    ),
                );
        }
    }

    fn rule_expr(&mut self, expr: &RuleExpr) {
        match expr {
            RuleExpr::Rule(r) => self.rule(r),
            RuleExpr::Composite(c) => {
                self.label_list(&c.labels, 0);
                c.operands.iter().for_each(|o| self.rule_expr(o));
            }
        }
    }

    fn params(&mut self, rule_type: RuleType, params: &[Param], span: Span) {
        let spec = rule_type.spec();
        let n = params.len();
        if n < spec.min_params || n > spec.max_params {
            let given = match n {
                0 => "none".to_string(),
                1 => "1".to_string(),
                n => n.to_string(),
            };
            self.error(
                span,
                format!("{} takes {}; {given} given", spec.name, spec.params_hint),
            );
        }
        for p in params {
            if let ParamValue::Constant(name) = &p.value {
                match self.constants.get(name.as_str()) {
                    None => self.error(p.span, format!("constant `${name}` is not declared")),
                    Some(ConstantValue::List(_)) => self.error(
                        p.span,
                        format!(
                            "constant `${name}` is a list; a parameter needs a string constant"
                        ),
                    ),
                    Some(ConstantValue::Text(_)) => {}
                }
            }
        }
    }

    fn analyzer(&mut self, a: &Analyzer) {
        let t = a.rule_type;
        let refused = match t.spec().analyzer {
            AnalyzerUse::No => true,
            AnalyzerUse::UnlessTwoPaths => a.params.len() == 2,
            AnalyzerUse::Yes | AnalyzerUse::Only => false,
        };
        if refused {
            self.error(
                a.span,
                format!("{t} asserts without a metric and cannot be an analyzer; move it to Rules"),
            );
            return;
        }
        self.params(t, &a.params, a.span);
    }

    fn rule(&mut self, r: &Rule) {
        let spec = r.rule_type.spec();
        let name = spec.name;
        if spec.analyzer == AnalyzerUse::Only {
            self.error(
                r.span,
                format!("{name} computes metrics only; put it under Analyzers"),
            );
            return;
        }
        self.params(r.rule_type, &r.params, r.span);
        self.label_list(&r.labels, self.default_labels);

        if let Some(w) = &r.where_clause {
            if !spec.allows_where {
                // Glue's documentation prints `ColumnNamesMatchPattern ...
                // where ...`; the reference parser rejects it, and so do we.
                let why = match name {
                    "ColumnCount" | "ColumnExists" | "ColumnNamesMatchPattern" => {
                        ": it checks the columns, and a `where` only filters rows"
                    }
                    _ => "",
                };
                self.error(
                    w.span,
                    format!("{name} does not support a `where` clause{why}"),
                );
            } else if w.value.is_empty() {
                self.error(w.span, "a `where` clause cannot be empty");
            }
        }
        if let Some(t) = &r.threshold {
            if !spec.allows_threshold {
                self.error(
                    t.span(),
                    format!("{name} does not support `with threshold`"),
                );
            } else {
                self.numeric_condition(t, "`with threshold`");
            }
        }
        for tag in &r.tags {
            match &tag.condition {
                Condition::Compare {
                    op: CompareOp::Eq,
                    operand: Operand::Text(_) | Operand::Number(NumExpr::Literal { .. }),
                    ..
                } => {}
                other => self.error(
                    other.span(),
                    format!(
                        "tag `{}` only supports `= \"value\"` or `= number`",
                        tag.name
                    ),
                ),
            }
            self.tag_known(r, tag);
        }
        self.condition_for(r);
    }

    /// A tag changes what a rule means, so one the rule type does not read
    /// is an error, never silently ignored.
    fn tag_known(&mut self, r: &Rule, tag: &Tag) {
        let spec = r.rule_type.spec();
        if !spec.tags.contains(&tag.name.as_str()) {
            let hint = match spec.tags.iter().find(|t| t.eq_ignore_ascii_case(&tag.name)) {
                Some(t) => format!("; did you mean `{t}`?"),
                None if spec.tags.is_empty() => format!("; {} takes no tags", spec.name),
                None => format!("; it takes {}", spec.tags.join(", ")),
            };
            self.error(
                tag.span,
                format!("{} has no tag `{}`{hint}", spec.name, tag.name),
            );
            return;
        }
        if tag.name == "ignoreCase"
            && !matches!(&tag.condition, Condition::Compare { operand: Operand::Text(t), .. }
                if t.value.eq_ignore_ascii_case("true") || t.value.eq_ignore_ascii_case("false"))
        {
            self.error(
                tag.condition.span(),
                "`ignoreCase` is \"true\" or \"false\"",
            );
        }
        if tag.name == "timeZone"
            && let Condition::Compare {
                operand: Operand::Text(t),
                ..
            } = &tag.condition
            && t.value.parse::<chrono_tz::Tz>().is_err()
        {
            self.error(
                t.span,
                format!(
                    "unknown time zone \"{}\"; use an IANA name such as \"UTC\" or \"America/New_York\"",
                    t.value
                ),
            );
        }
        if tag.name == "format" {
            let pattern = match &tag.condition {
                Condition::Compare {
                    operand: Operand::Text(t),
                    ..
                } => t.value.as_str(),
                _ => return,
            };
            let is_date = matches!(
                &r.condition,
                Some(Condition::Compare { operand: Operand::Text(t), .. })
                    if t.value.trim().eq_ignore_ascii_case("date")
            );
            if !is_date {
                self.error(
                    tag.span,
                    "`with format` applies to ColumnDataType \"d\" = \"DATE\"",
                );
            } else if let Err(message) = crate::date_pattern::DatePattern::parse(pattern) {
                self.error(tag.condition.span(), message);
            }
        }
    }

    fn condition_for(&mut self, r: &Rule) {
        let spec = r.rule_type.spec();
        let name = spec.name;
        let kind = spec.condition;
        let cond = r.condition.as_ref();
        match (kind, cond) {
            (ConditionKind::None, Some(c)) => self.error(
                c.span(),
                format!("{name} is a boolean rule and takes no condition"),
            ),
            (ConditionKind::None, None) | (ConditionKind::NumberOrNone, None) => {}
            (ConditionKind::FileMatch, c) => {
                let two_paths = r.params.len() == 2;
                match (two_paths, c) {
                    (true, Some(c)) => self.error(
                        c.span(),
                        "FileMatch with two paths compares them and takes no condition",
                    ),
                    (false, None) => self.error(
                        r.span,
                        "FileMatch needs two paths, or a condition `in [\"checksum\", ...]`",
                    ),
                    (false, Some(c)) => match c {
                        Condition::In {
                            negated: false,
                            set: InSet::List(items),
                            ..
                        } if items.iter().all(|i| matches!(i, Operand::Text(_))) => {
                            for item in items {
                                if let Operand::Text(t) = item
                                    && (t.value.is_empty()
                                        || !t.value.chars().all(|ch| ch.is_ascii_hexdigit()))
                                {
                                    self.error(
                                        t.span,
                                        format!(
                                            "\"{}\" is not a checksum; FileMatch compares hex digests (MD5, SHA-1 or SHA-256)",
                                            t.value
                                        ),
                                    );
                                }
                            }
                        }
                        _ => self.error(c.span(), "FileMatch takes `in [\"checksum\", ...]`"),
                    },
                    (true, None) => {}
                }
            }
            (_, None) => self.error(
                r.span,
                format!("{name} needs a condition, for example {}", example(kind)),
            ),
            (ConditionKind::Number, Some(c)) => {
                self.numeric_condition(c, name);
            }
            (ConditionKind::NumberOrNone, Some(c)) => {
                if r.threshold.is_some() {
                    self.error(
                        c.span(),
                        "CustomSql takes either a condition or `with threshold` (row-level form), not both",
                    );
                }
                self.numeric_condition(c, name);
            }
            (ConditionKind::TypeName, Some(c)) => {
                let ok = match c {
                    Condition::Compare {
                        op: CompareOp::Eq | CompareOp::Ne,
                        operand: Operand::Text(_),
                        ..
                    } => true,
                    Condition::In {
                        negated: false,
                        set: InSet::List(items),
                        ..
                    } => items.iter().all(|i| matches!(i, Operand::Text(_))),
                    _ => false,
                };
                if !ok {
                    self.error(
                        c.span(),
                        "ColumnDataType takes `= \"Type\"`, `!= \"Type\"` or `in [\"Type\", ...]`",
                    );
                }
            }
            (ConditionKind::Value, Some(c)) => {
                self.value_condition(c);
            }
            (ConditionKind::Duration, Some(c)) => {
                self.unit_condition(c, name, "a duration such as `24 hours`", |o| {
                    matches!(o, Operand::Duration(_))
                });
            }
            (ConditionKind::Date, Some(c)) => {
                self.unit_condition(c, name, "a date such as `(now() - 1 days)`", |o| {
                    matches!(o, Operand::Date(_) | Operand::Null(_))
                });
            }
            (ConditionKind::Size, Some(c)) => {
                self.unit_condition(
                    c,
                    name,
                    "a size such as `5 MB` or a whole number of bytes",
                    |o| match o {
                        Operand::Size(_) => true,
                        Operand::Number(n) => n
                            .literal_value()
                            .is_some_and(|v| v >= 0.0 && v.fract() == 0.0),
                        _ => false,
                    },
                );
            }
            (ConditionKind::AnalyzerOnly, _) => {}
        }
    }

    /// A condition whose operands must all be numbers (or NULL).
    fn numeric_condition(&mut self, c: &Condition, what: &str) {
        if let Condition::Matches { span, .. } = c {
            self.error(
                *span,
                format!("{what} needs a numeric condition; `matches` compares strings"),
            );
            return;
        }
        if let Condition::In {
            set: InSet::Constant(t),
            ..
        } = c
        {
            self.error(
                t.span,
                format!("{what} needs numbers; constants hold strings"),
            );
            return;
        }
        for o in c.operands() {
            match o {
                Operand::Number(_) | Operand::Null(_) => {}
                Operand::Constant(t) => self.error(
                    t.span,
                    format!("{what} needs numbers; constants hold strings"),
                ),
                other => self.error(
                    other.span(),
                    format!("{what} needs a numeric condition, for example `> 0.95`"),
                ),
            }
        }
    }

    fn unit_condition(
        &mut self,
        c: &Condition,
        name: &str,
        wanted: &str,
        fits: impl Fn(&Operand) -> bool,
    ) {
        if matches!(
            c,
            Condition::Matches { .. }
                | Condition::In {
                    set: InSet::Constant(_),
                    ..
                }
        ) {
            self.error(c.span(), format!("{name} needs {wanted}"));
            return;
        }
        for o in c.operands() {
            if !fits(o) {
                self.error(o.span(), format!("{name} needs {wanted}"));
            }
        }
    }

    fn value_condition(&mut self, c: &Condition) {
        match value_kind(c) {
            Ok(kind) => {
                if let Condition::Compare { op, operand, .. } = c {
                    let textual = matches!(
                        operand,
                        Operand::Text(_)
                            | Operand::Constant(_)
                            | Operand::Empty(_)
                            | Operand::WhitespacesOnly(_)
                            | Operand::Null(_)
                    );
                    if kind == ValueKind::Text
                        && textual
                        && !matches!(op, CompareOp::Eq | CompareOp::Ne)
                    {
                        self.error(
                            c.span(),
                            "strings and NULL/EMPTY/WHITESPACES_ONLY compare only with `=` or `!=`",
                        );
                    }
                }
                self.constant_refs(c);
            }
            Err((span, message)) => self.error(span, message),
        }
    }

    fn constant_refs(&mut self, c: &Condition) {
        let refs: Vec<&Text> = match c {
            Condition::In {
                set: InSet::Constant(t),
                ..
            } => vec![t],
            Condition::Compare {
                operand: Operand::Constant(t),
                ..
            } => vec![t],
            _ => Vec::new(),
        };
        for t in refs {
            match self.constants.get(t.value.as_str()) {
                None => self.error(t.span, format!("constant `${}` is not declared", t.value)),
                Some(ConstantValue::List(_)) if matches!(c, Condition::Compare { .. }) => self
                    .error(
                        t.span,
                        format!("constant `${}` is a list; use `in ${}`", t.value, t.value),
                    ),
                Some(_) => {}
            }
        }
    }
}

fn example(kind: ConditionKind) -> &'static str {
    match kind {
        ConditionKind::Duration => "`<= 24 hours`",
        ConditionKind::Date => "`> (now() - 1 days)`",
        ConditionKind::Size => "`< 5 MB`",
        ConditionKind::TypeName => "`= \"Integer\"`",
        ConditionKind::Value => "`> 0` or `in [\"a\", \"b\"]`",
        _ => "`> 0.95`",
    }
}

/// What a ColumnValues condition compares: numbers, strings or dates.
pub fn value_kind(c: &Condition) -> Result<ValueKind, (Span, String)> {
    let kind_of = |o: &Operand| -> Result<Option<ValueKind>, (Span, String)> {
        Ok(match o {
            Operand::Number(_) => Some(ValueKind::Number),
            Operand::Text(_)
            | Operand::Constant(_)
            | Operand::Empty(_)
            | Operand::WhitespacesOnly(_) => Some(ValueKind::Text),
            Operand::Date(_) => Some(ValueKind::Date),
            Operand::Null(_) => None,
            Operand::Duration(d) => {
                return Err((
                    d.span,
                    "ColumnValues compares values, not durations".to_string(),
                ));
            }
            Operand::Size(s) => {
                return Err((
                    s.span,
                    "ColumnValues compares values, not sizes".to_string(),
                ));
            }
        })
    };
    match c {
        Condition::Matches { .. } => Ok(ValueKind::Text),
        Condition::In {
            set: InSet::Constant(_),
            ..
        } => Ok(ValueKind::Text),
        Condition::Between {
            low, high, span, ..
        } => match (kind_of(low)?, kind_of(high)?) {
            (Some(ValueKind::Number), Some(ValueKind::Number)) => Ok(ValueKind::Number),
            (Some(ValueKind::Date), Some(ValueKind::Date)) => Ok(ValueKind::Date),
            _ => Err((
                *span,
                "`between` needs two numbers or two dates".to_string(),
            )),
        },
        _ => {
            let mut kind: Option<ValueKind> = None;
            for o in c.operands() {
                if let Some(k) = kind_of(o)? {
                    match kind {
                        None => kind = Some(k),
                        Some(prev) if prev != k => {
                            return Err((
                                c.span(),
                                "a list cannot mix numbers, strings and dates".to_string(),
                            ));
                        }
                        _ => {}
                    }
                }
            }
            // A lone NULL (`= NULL`, `in [NULL]`) is a string condition.
            Ok(kind.unwrap_or(ValueKind::Text))
        }
    }
}
