//! The canonical text of a ruleset: one spelling per construct, comments kept.
//! `parse(format(x)) == x` for every valid `x`, and `format` is idempotent.

use std::fmt::Write as _;

use super::ast::*;

const INDENT: &str = "    ";

/// Formats a whole ruleset in canonical form.
pub fn format_ruleset(r: &Ruleset) -> String {
    let mut out = String::new();
    comment_lines(&mut out, "", &r.comments.header);
    let mut blocks: Vec<String> = Vec::new();
    if !r.metadata.is_empty() {
        blocks.push(format!("Metadata = {}\n", dictionary(&r.metadata)));
    }
    if !r.data_sources.is_empty() {
        blocks.push(format!("DataSources = {}\n", dictionary(&r.data_sources)));
    }
    if !r.constants.is_empty() {
        let mut s = String::new();
        for c in &r.constants {
            comment_lines(&mut s, "", &c.comments);
            let value = match &c.value {
                ConstantValue::Text(t) => quote(t),
                ConstantValue::List(items) => format!(
                    "[ {} ]",
                    items.iter().map(set_item).collect::<Vec<_>>().join(", ")
                ),
            };
            let _ = writeln!(s, "{} = {value}", c.name);
        }
        blocks.push(s);
    }
    if !r.default_labels.is_empty() {
        blocks.push(format!(
            "DefaultLabels = {}\n",
            label_list(&r.default_labels)
        ));
    }
    if let Some(rules) = &r.rules {
        let mut s = String::new();
        comment_lines(&mut s, "", &r.comments.before_rules);
        let items: Vec<Item> = rules
            .iter()
            .map(|t| Item {
                text: rule_expr_text(&t.expr),
                comments: &t.comments,
                trailing: t.trailing_comment.as_deref(),
            })
            .collect();
        section(&mut s, "Rules", &items, &r.comments.rules_footer);
        blocks.push(s);
    }
    if let Some(analyzers) = &r.analyzers {
        let mut s = String::new();
        comment_lines(&mut s, "", &r.comments.before_analyzers);
        let items: Vec<Item> = analyzers
            .iter()
            .map(|a| Item {
                text: analyzer_text(a),
                comments: &a.comments,
                trailing: a.trailing_comment.as_deref(),
            })
            .collect();
        section(&mut s, "Analyzers", &items, &r.comments.analyzers_footer);
        blocks.push(s);
    }
    out.push_str(&blocks.join("\n"));
    comment_lines(&mut out, "", &r.comments.footer);
    out
}

struct Item<'a> {
    text: String,
    comments: &'a [String],
    trailing: Option<&'a str>,
}

fn section(out: &mut String, keyword: &str, items: &[Item<'_>], footer: &[String]) {
    if items.is_empty() && footer.is_empty() {
        let _ = writeln!(out, "{keyword} = [ ]");
        return;
    }
    let _ = writeln!(out, "{keyword} = [");
    for (i, item) in items.iter().enumerate() {
        comment_lines(out, INDENT, item.comments);
        let comma = if i + 1 < items.len() { "," } else { "" };
        match item.trailing {
            Some(c) => {
                let _ = writeln!(out, "{INDENT}{}{comma} {}", item.text, comment(c));
            }
            None => {
                let _ = writeln!(out, "{INDENT}{}{comma}", item.text);
            }
        }
    }
    comment_lines(out, INDENT, footer);
    out.push_str("]\n");
}

fn comment(text: &str) -> String {
    format!("#{text}")
}

fn comment_lines(out: &mut String, indent: &str, comments: &[String]) {
    for c in comments {
        let _ = writeln!(out, "{indent}{}", comment(c));
    }
}

fn dictionary(entries: &[DictEntry]) -> String {
    let body: Vec<String> = entries
        .iter()
        .map(|e| {
            let value = match &e.value {
                DictValue::Text(t) => quote(t),
                DictValue::List(items) => {
                    format!(
                        "[ {} ]",
                        items
                            .iter()
                            .map(|i| quote(i))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            };
            format!("{}: {value}", quote(&e.key))
        })
        .collect();
    format!("{{ {} }}", body.join(", "))
}

fn label_list(labels: &[Label]) -> String {
    let body: Vec<String> = labels
        .iter()
        .map(|l| format!("{}={}", quote(&l.key), quote(&l.value)))
        .collect();
    format!("[{}]", body.join(", "))
}

fn set_item(item: &SetItem) -> String {
    match item {
        SetItem::Text(t) => quote(t),
        SetItem::Null => "NULL".to_string(),
        SetItem::Empty => "EMPTY".to_string(),
        SetItem::WhitespacesOnly => "WHITESPACES_ONLY".to_string(),
    }
}

/// Quotes a string, escaping `"` and only those backslashes that would
/// otherwise form an escape, so regexes stay readable (`"^\d+$"`).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => {
                let next = chars.get(i + 1);
                if matches!(next, None | Some('"') | Some('\\')) {
                    out.push_str("\\\\");
                } else {
                    out.push('\\');
                }
            }
            c => out.push(*c),
        }
    }
    out.push('"');
    out
}

/// The canonical text of a rule or composite (the text reports show).
pub fn rule_expr_text(e: &RuleExpr) -> String {
    match e {
        RuleExpr::Rule(r) => rule_text(r),
        RuleExpr::Composite(c) => {
            let joined = composite_body(c);
            if c.labels.is_empty() {
                joined
            } else {
                format!("({joined}) labels={}", label_list(&c.labels))
            }
        }
    }
}

fn composite_body(c: &Composite) -> String {
    let op = match c.op {
        LogicalOp::And => " and ",
        LogicalOp::Or => " or ",
    };
    c.operands
        .iter()
        .map(|o| match o {
            RuleExpr::Rule(r) => format!("({})", rule_text(r)),
            RuleExpr::Composite(inner) if inner.labels.is_empty() => {
                format!("({})", composite_body(inner))
            }
            RuleExpr::Composite(_) => format!("({})", rule_expr_text(o)),
        })
        .collect::<Vec<_>>()
        .join(op)
}

/// The canonical text of one rule.
pub fn rule_text(r: &Rule) -> String {
    let mut s = r.rule_type.name().to_string();
    for p in &r.params {
        s.push(' ');
        s.push_str(&param_text(p));
    }
    if let Some(c) = &r.condition {
        s.push(' ');
        s.push_str(&condition_text(c));
    }
    if let Some(w) = &r.where_clause {
        let _ = write!(s, " where {}", quote(&w.value));
    }
    if !r.labels.is_empty() {
        let _ = write!(s, " labels={}", label_list(&r.labels));
    }
    if let Some(t) = &r.threshold {
        let _ = write!(s, " with threshold {}", condition_text(t));
    }
    for t in &r.tags {
        let _ = write!(s, " with {} {}", t.name, condition_text(&t.condition));
    }
    s
}

fn analyzer_text(a: &Analyzer) -> String {
    let mut s = a.rule_type.name().to_string();
    for p in &a.params {
        s.push(' ');
        s.push_str(&param_text(p));
    }
    s
}

fn param_text(p: &Param) -> String {
    match &p.value {
        ParamValue::Text(t) => quote(t),
        ParamValue::Constant(c) => format!("${c}"),
    }
}

/// The canonical text of a condition.
pub fn condition_text(c: &Condition) -> String {
    let not = |negated: &bool| if *negated { "not " } else { "" };
    match c {
        Condition::Compare { op, operand, .. } => {
            format!("{} {}", op.symbol(), operand_text(operand))
        }
        Condition::Between {
            negated, low, high, ..
        } => format!(
            "{}between {} and {}",
            not(negated),
            operand_text(low),
            operand_text(high)
        ),
        Condition::In { negated, set, .. } => {
            let set = match set {
                InSet::List(items) => format!(
                    "[{}]",
                    items
                        .iter()
                        .map(operand_text)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                InSet::Constant(t) => format!("${}", t.value),
            };
            format!("{}in {set}", not(negated))
        }
        Condition::Matches {
            negated, pattern, ..
        } => {
            format!("{}matches {}", not(negated), quote(&pattern.value))
        }
    }
}

/// The canonical text of an operand.
pub fn operand_text(o: &Operand) -> String {
    match o {
        Operand::Number(n) => num_text(n),
        Operand::Null(_) => "NULL".to_string(),
        Operand::Empty(_) => "EMPTY".to_string(),
        Operand::WhitespacesOnly(_) => "WHITESPACES_ONLY".to_string(),
        Operand::Text(t) => quote(&t.value),
        Operand::Constant(t) => format!("${}", t.value),
        Operand::Date(d) => match &d.value {
            DateValue::Date(s) => format!("\"{s}\""),
            DateValue::Time { text, .. } => format!("\"{text}\""),
            DateValue::Now { offset: None } => "now()".to_string(),
            DateValue::Now { offset: Some(o) } => format!(
                "(now() {} {})",
                if o.negative { "-" } else { "+" },
                duration_text(&o.duration)
            ),
        },
        Operand::Duration(d) => duration_text(d),
        Operand::Size(s) => format!("{} {}", s.amount, s.unit.keyword()),
    }
}

fn duration_text(d: &Duration) -> String {
    format!("{} {}", d.amount, d.unit.keyword())
}

/// The canonical text of a numeric expression.
pub fn num_text(n: &NumExpr) -> String {
    match n {
        NumExpr::Literal { value, .. } => number(*value),
        // `now()` is the date token; a numeric call of a function named `now`
        // keeps a space so it reads back as the same (erroneous) call.
        NumExpr::Call { name, args, .. } if name == "now" && args.is_empty() => {
            "now ()".to_string()
        }
        NumExpr::Call { name, args, .. } => {
            format!(
                "{name}({})",
                args.iter().map(num_text).collect::<Vec<_>>().join(", ")
            )
        }
        NumExpr::Paren { inner, .. } => format!("({})", num_text(inner)),
        NumExpr::Chain { first, rest, .. } => {
            let mut s = num_text(first);
            for (op, e) in rest {
                let _ = write!(s, " {} {}", op.symbol(), num_text(e));
            }
            s
        }
    }
}

/// A number as DQDL writes it: shortest round-trip decimal, no exponent.
pub fn number(v: f64) -> String {
    format!("{v}")
}
