//! The typed syntax tree of a DQDL ruleset.
//!
//! Every node keeps the [`Span`] it was parsed from so that later stages can
//! point at the source. Spans are deliberately not part of a node's identity:
//! two spans always compare equal, so `parse(format(x)) == x` holds.

use serde::Serialize;

use super::rule_types::RuleType;

/// A byte range in the source text. Equal to every other span (see module docs).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Span {
    /// A span from `start` to `end` byte offsets.
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
}

/// A whole DQDL document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ruleset {
    /// `Metadata = { ... }` entries in source order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata: Vec<DictEntry>,
    /// `DataSources = { ... }` entries in source order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_sources: Vec<DictEntry>,
    /// Constant declarations (`name = "value"` or `name = [ ... ]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub constants: Vec<Constant>,
    /// `DefaultLabels = [ ... ]`, inherited by every rule.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub default_labels: Vec<Label>,
    /// The `Rules` section, `None` when the document has only `Analyzers`.
    pub rules: Option<Vec<TopRule>>,
    /// The `Analyzers` section, when present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analyzers: Option<Vec<Analyzer>>,
    /// Comments that stand before each section, keyed by section.
    #[serde(skip_serializing_if = "SectionComments::is_empty")]
    pub comments: SectionComments,
}

/// Comments kept by the formatter that belong to sections rather than rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SectionComments {
    /// Comments before the first section.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub header: Vec<String>,
    /// Comments before `Rules = [`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub before_rules: Vec<String>,
    /// Comments after the last rule, before `]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules_footer: Vec<String>,
    /// Comments before `Analyzers = [`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub before_analyzers: Vec<String>,
    /// Comments after the last analyzer, before `]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub analyzers_footer: Vec<String>,
    /// Comments after the last section.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub footer: Vec<String>,
}

impl SectionComments {
    /// True when no section carries a comment.
    pub fn is_empty(&self) -> bool {
        self.header.is_empty()
            && self.before_rules.is_empty()
            && self.rules_footer.is_empty()
            && self.before_analyzers.is_empty()
            && self.analyzers_footer.is_empty()
            && self.footer.is_empty()
    }
}

/// The `Metadata` key (and AWS Glue's evaluation option) that chooses how
/// composite rules are evaluated: `"COLUMN"` (the default: each side over
/// the whole dataset, then the outcomes combined) or `"ROW"` (the
/// combination decided row by row).
pub const COMPOSITE_METHOD_KEY: &str = "compositeRuleEvaluation.method";

/// How composite rules are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum CompositeMode {
    /// Each side over the whole dataset; outcomes combined.
    #[default]
    Column,
    /// Each row passes or fails the whole combination.
    Row,
}

impl CompositeMode {
    /// `"ROW"` or `"COLUMN"`, in any case.
    pub fn parse(text: &str) -> Option<CompositeMode> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ROW" => Some(CompositeMode::Row),
            "COLUMN" => Some(CompositeMode::Column),
            _ => None,
        }
    }
}

impl Ruleset {
    /// The composite mode `Metadata` asks for, if any.
    pub fn composite_mode(&self) -> Option<CompositeMode> {
        self.metadata
            .iter()
            .find(|e| e.key == COMPOSITE_METHOD_KEY)
            .and_then(|e| match &e.value {
                DictValue::Text(t) => CompositeMode::parse(t),
                DictValue::List(_) => None,
            })
    }
}

/// One `"key": value` entry of `Metadata` or `DataSources`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DictEntry {
    /// The key, unescaped.
    pub key: String,
    /// The value.
    pub value: DictValue,
    /// Where the entry stands.
    pub span: Span,
}

/// The value of a dictionary entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DictValue {
    /// A quoted string.
    Text(String),
    /// An array of quoted strings.
    List(Vec<String>),
}

/// A constant declaration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Constant {
    /// The name used as `$name`.
    pub name: String,
    /// The declared value.
    pub value: ConstantValue,
    /// Comments on the lines before the declaration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
    /// Where the declaration stands.
    pub span: Span,
}

/// The value of a constant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConstantValue {
    /// `name = "text"`.
    Text(String),
    /// `name = [ "a", NULL, EMPTY ]`.
    List(Vec<SetItem>),
}

/// A member of a string set: a text or one of the keyword values.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetItem {
    /// A quoted string.
    Text(String),
    /// `NULL`.
    Null,
    /// `EMPTY`: the empty string.
    Empty,
    /// `WHITESPACES_ONLY`: a non-empty string of whitespace.
    WhitespacesOnly,
}

/// A `"key" = "value"` label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
    /// Where the label stands.
    pub span: Span,
}

/// A top-level entry of `Rules`, with the comments around it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopRule {
    /// The rule or composite.
    pub expr: RuleExpr,
    /// Comments on the lines before the rule (and any inside it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
    /// A comment on the rule's last line, after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trailing_comment: Option<String>,
}

/// A rule or a composite of rules.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)] // rules outnumber composites; boxing them costs more
pub enum RuleExpr {
    /// A single rule.
    Rule(Rule),
    /// `(A) and (B)` or `(A) or (B)`.
    Composite(Composite),
}

impl RuleExpr {
    /// Where the expression stands in the source.
    pub fn span(&self) -> Span {
        match self {
            RuleExpr::Rule(r) => r.span,
            RuleExpr::Composite(c) => c.span,
        }
    }

    /// Every leaf rule, left to right.
    pub fn leaves(&self) -> Vec<&Rule> {
        let mut out = Vec::new();
        self.collect_leaves(&mut out);
        out
    }

    fn collect_leaves<'a>(&'a self, out: &mut Vec<&'a Rule>) {
        match self {
            RuleExpr::Rule(r) => out.push(r),
            RuleExpr::Composite(c) => c.operands.iter().for_each(|o| o.collect_leaves(out)),
        }
    }
}

/// The logical operator of a composite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogicalOp {
    /// Every operand must pass.
    And,
    /// At least one operand must pass.
    Or,
}

/// Two or more rules joined by one operator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Composite {
    /// The operator joining the operands.
    pub op: LogicalOp,
    /// Two or more operands.
    pub operands: Vec<RuleExpr>,
    /// Labels given after the parenthesised composite.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    /// Where the composite stands.
    pub span: Span,
}

/// One rule: a type, parameters, an optional condition and its modifiers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    /// The rule type.
    pub rule_type: RuleType,
    /// Parameters in order (connectors `of`/`and` dropped).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    /// The condition, absent for boolean rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// The `where` filter, an SQL predicate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub where_clause: Option<Text>,
    /// `labels=[...]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<Label>,
    /// `with threshold <condition>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<Condition>,
    /// Other `with name = value` tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// Where the rule stands.
    pub span: Span,
}

/// A string with the span it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Text {
    /// The unescaped content.
    pub value: String,
    /// Where the quoted string stands.
    pub span: Span,
}

/// A rule parameter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Param {
    /// The value.
    pub value: ParamValue,
    /// Where it stands.
    pub span: Span,
}

/// The value of a parameter: literal text (quoted or bare) or a constant.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamValue {
    /// `"col"` or `col`.
    Text(String),
    /// `$name`.
    Constant(String),
}

/// A `with name <condition>` tag other than `threshold`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tag {
    /// The tag name as written.
    pub name: String,
    /// Its condition (always `= value` once validated).
    pub condition: Condition,
    /// Where the tag stands.
    pub span: Span,
}

/// A condition on a metric, a row value or a tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    /// `op operand`.
    Compare {
        /// The comparison operator.
        op: CompareOp,
        /// The right-hand side.
        operand: Operand,
        /// Where the condition stands.
        span: Span,
    },
    /// `[not] between low and high` (exclusive).
    Between {
        /// `not between`.
        negated: bool,
        /// Lower bound.
        low: Operand,
        /// Upper bound.
        high: Operand,
        /// Where the condition stands.
        span: Span,
    },
    /// `[not] in [ ... ]` or `[not] in $name`.
    In {
        /// `not in`.
        negated: bool,
        /// The set.
        set: InSet,
        /// Where the condition stands.
        span: Span,
    },
    /// `[not] matches "regex"` (whole-value match).
    Matches {
        /// `not matches`.
        negated: bool,
        /// The pattern.
        pattern: Text,
        /// Where the condition stands.
        span: Span,
    },
}

impl Condition {
    /// Where the condition stands.
    pub fn span(&self) -> Span {
        match self {
            Condition::Compare { span, .. }
            | Condition::Between { span, .. }
            | Condition::In { span, .. }
            | Condition::Matches { span, .. } => *span,
        }
    }

    /// Every operand of the condition, in order.
    pub fn operands(&self) -> Vec<&Operand> {
        match self {
            Condition::Compare { operand, .. } => vec![operand],
            Condition::Between { low, high, .. } => vec![low, high],
            Condition::In {
                set: InSet::List(items),
                ..
            } => items.iter().collect(),
            Condition::In { .. } | Condition::Matches { .. } => Vec::new(),
        }
    }

    /// A copy with every operand (those [`Condition::operands`] lists)
    /// replaced by `f`; the first error stops the mapping.
    pub fn map_operands<E>(
        &self,
        mut f: impl FnMut(&Operand) -> Result<Operand, E>,
    ) -> Result<Condition, E> {
        Ok(match self {
            Condition::Compare { op, operand, span } => Condition::Compare {
                op: *op,
                operand: f(operand)?,
                span: *span,
            },
            Condition::Between {
                negated,
                low,
                high,
                span,
            } => Condition::Between {
                negated: *negated,
                low: f(low)?,
                high: f(high)?,
                span: *span,
            },
            Condition::In {
                negated,
                set: InSet::List(items),
                span,
            } => Condition::In {
                negated: *negated,
                set: InSet::List(items.iter().map(f).collect::<Result<_, _>>()?),
                span: *span,
            },
            other => other.clone(),
        })
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum CompareOp {
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
}

impl CompareOp {
    /// The operator as written in DQDL.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "!=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
        }
    }
}

/// The set of an `in` condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InSet {
    /// `[ a, b, ... ]`.
    List(Vec<Operand>),
    /// `$name`.
    Constant(Text),
}

/// The right-hand side of a condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operand {
    /// A numeric expression (literal, dynamic function, arithmetic).
    Number(NumExpr),
    /// `NULL`.
    Null(Span),
    /// `EMPTY`.
    Empty(Span),
    /// `WHITESPACES_ONLY`.
    WhitespacesOnly(Span),
    /// A plain quoted string.
    Text(Text),
    /// `$name`.
    Constant(Text),
    /// A date or time: `"2024-01-31"`, `"9:30 AM"`, `now()`, `(now() - 3 days)`.
    Date(DateOperand),
    /// `24 hours`.
    Duration(Duration),
    /// `5 MB`.
    Size(Size),
}

impl Operand {
    /// Where the operand stands.
    pub fn span(&self) -> Span {
        match self {
            Operand::Number(n) => n.span(),
            Operand::Null(s) | Operand::Empty(s) | Operand::WhitespacesOnly(s) => *s,
            Operand::Text(t) | Operand::Constant(t) => t.span,
            Operand::Date(d) => d.span,
            Operand::Duration(d) => d.span,
            Operand::Size(s) => s.span,
        }
    }
}

/// A date operand with its span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DateOperand {
    /// The value.
    pub value: DateValue,
    /// Where it stands.
    pub span: Span,
}

/// The kinds of date operands.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DateValue {
    /// `"YYYY-MM-DD"` as written (the calendar is checked at evaluation).
    Date(String),
    /// `"9:30 AM"` or `"21:45"`: today at that time.
    Time {
        /// Hour, 0 to 23.
        hour: u32,
        /// Minute, 0 to 59.
        minute: u32,
        /// The literal as written, for formatting.
        text: String,
    },
    /// `now()`, or `(now() ± duration)`.
    Now {
        /// Offset from now; negative for `-`.
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<SignedDuration>,
    },
}

/// A duration added to or taken from `now()`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignedDuration {
    /// True for `now() - ...`.
    pub negative: bool,
    /// The amount.
    pub duration: Duration,
}

/// A time unit of durations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DurationUnit {
    /// `days`
    Days,
    /// `hours`
    Hours,
    /// `minutes`
    Minutes,
}

impl DurationUnit {
    /// The unit as written in DQDL.
    pub fn keyword(self) -> &'static str {
        match self {
            DurationUnit::Days => "days",
            DurationUnit::Hours => "hours",
            DurationUnit::Minutes => "minutes",
        }
    }
}

/// `N days|hours|minutes`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duration {
    /// The whole amount.
    pub amount: u32,
    /// The unit.
    pub unit: DurationUnit,
    /// Where it stands.
    pub span: Span,
}

impl Duration {
    /// The duration in hours.
    pub fn hours(&self) -> f64 {
        let amount = f64::from(self.amount);
        match self.unit {
            DurationUnit::Days => amount * 24.0,
            DurationUnit::Hours => amount,
            DurationUnit::Minutes => amount / 60.0,
        }
    }
}

/// A unit of file sizes (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SizeUnit {
    /// Bytes.
    B,
    /// 1024 bytes.
    KB,
    /// 1024² bytes.
    MB,
    /// 1024³ bytes.
    GB,
    /// 1024⁴ bytes.
    TB,
}

impl SizeUnit {
    /// The unit as written in DQDL.
    pub fn keyword(self) -> &'static str {
        match self {
            SizeUnit::B => "B",
            SizeUnit::KB => "KB",
            SizeUnit::MB => "MB",
            SizeUnit::GB => "GB",
            SizeUnit::TB => "TB",
        }
    }
}

/// `N B|KB|MB|GB|TB`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Size {
    /// The whole amount.
    pub amount: u32,
    /// The unit.
    pub unit: SizeUnit,
    /// Where it stands.
    pub span: Span,
}

impl Size {
    /// The size in bytes.
    pub fn bytes(&self) -> f64 {
        let scale = match self.unit {
            SizeUnit::B => 1.0,
            SizeUnit::KB => 1024.0,
            SizeUnit::MB => 1024.0 * 1024.0,
            SizeUnit::GB => 1024.0 * 1024.0 * 1024.0,
            SizeUnit::TB => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        };
        f64::from(self.amount) * scale
    }
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ArithOp {
    /// `+`
    #[serde(rename = "+")]
    Add,
    /// `-`
    #[serde(rename = "-")]
    Sub,
    /// `*`
    #[serde(rename = "*")]
    Mul,
    /// `/`
    #[serde(rename = "/")]
    Div,
}

impl ArithOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
        }
    }

    /// Applies the operator with IEEE semantics.
    pub fn apply(self, a: f64, b: f64) -> f64 {
        match self {
            ArithOp::Add => a + b,
            ArithOp::Sub => a - b,
            ArithOp::Mul => a * b,
            ArithOp::Div => a / b,
        }
    }
}

/// A numeric expression. Operators have no precedence: `Chain` is evaluated
/// left to right, as the reference implementation does.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NumExpr {
    /// A number literal.
    Literal {
        /// The value.
        value: f64,
        /// Where it stands.
        span: Span,
    },
    /// `name(args...)`, e.g. `avg(last(7))`.
    Call {
        /// The function name.
        name: String,
        /// Its arguments.
        args: Vec<NumExpr>,
        /// Where it stands.
        span: Span,
    },
    /// `( expr )`.
    Paren {
        /// The inner expression.
        inner: Box<NumExpr>,
        /// Where it stands.
        span: Span,
    },
    /// `first op x op y ...`, evaluated left to right.
    Chain {
        /// The first operand.
        first: Box<NumExpr>,
        /// The following operators and operands.
        rest: Vec<(ArithOp, NumExpr)>,
        /// Where it stands.
        span: Span,
    },
}

impl NumExpr {
    /// Where the expression stands.
    pub fn span(&self) -> Span {
        match self {
            NumExpr::Literal { span, .. }
            | NumExpr::Call { span, .. }
            | NumExpr::Paren { span, .. }
            | NumExpr::Chain { span, .. } => *span,
        }
    }

    /// The value of an expression without function calls, with DQDL's
    /// flat, left-to-right arithmetic (`1 + 2 * 3` is 9); `None` when it
    /// calls a function (a dynamic rule).
    pub fn literal_value(&self) -> Option<f64> {
        match self {
            NumExpr::Literal { value, .. } => Some(*value),
            NumExpr::Paren { inner, .. } => inner.literal_value(),
            NumExpr::Chain { first, rest, .. } => {
                let mut acc = first.literal_value()?;
                for (op, e) in rest {
                    acc = op.apply(acc, e.literal_value()?);
                }
                Some(acc)
            }
            NumExpr::Call { .. } => None,
        }
    }

    /// True when the expression calls any function (a dynamic rule).
    pub fn is_dynamic(&self) -> bool {
        match self {
            NumExpr::Literal { .. } => false,
            NumExpr::Call { .. } => true,
            NumExpr::Paren { inner, .. } => inner.is_dynamic(),
            NumExpr::Chain { first, rest, .. } => {
                first.is_dynamic() || rest.iter().any(|(_, e)| e.is_dynamic())
            }
        }
    }
}

/// An analyzer: a rule type and parameters, no condition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analyzer {
    /// The rule type.
    pub rule_type: RuleType,
    /// Parameters in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<Param>,
    /// Comments on the lines before the analyzer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<String>,
    /// A comment on its line, after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trailing_comment: Option<String>,
    /// Where it stands.
    pub span: Span,
}
