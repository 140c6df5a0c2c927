//! Planning of the File* rules (SPEC §12.14) over facts gathered before
//! planning: each file is judged here and the rule gets constant metrics.

use chrono::{DateTime, Utc};

use super::rules::error;
use super::{Check, Formula, LeafPlan, Outcome, constants};
use crate::dqdl::ast::{
    Condition, ConstantValue, InSet, NumExpr, Operand, ParamValue, Rule, Ruleset, Span,
};
use crate::dqdl::rule_types::RuleType;
use crate::source::files::{FileFacts, FileInfo, FileRequest, HashAlgorithm};

/// Where a File rule without a path looks: the primary dataset's files.
pub struct FileScope<'a> {
    /// Facts gathered for every requested location.
    pub facts: &'a FileFacts,
    /// The primary dataset's location, when it is a file, folder or prefix.
    pub primary: Option<&'a str>,
}

fn is_file_rule(t: RuleType) -> bool {
    matches!(
        t,
        RuleType::FileFreshness
            | RuleType::FileSize
            | RuleType::FileUniqueness
            | RuleType::FileMatch
    )
}

fn param_texts(rule: &Rule, ruleset: &Ruleset) -> Vec<String> {
    let consts = constants(ruleset);
    rule.params
        .iter()
        .map(|p| match &p.value {
            ParamValue::Text(t) => t.clone(),
            ParamValue::Constant(c) => match consts.get(c.as_str()) {
                Some(ConstantValue::Text(t)) => t.clone(),
                _ => String::new(),
            },
        })
        .collect()
}

fn tag_text(rule: &Rule, name: &str) -> Option<String> {
    rule.tags
        .iter()
        .find(|t| t.name == name)
        .and_then(|t| match &t.condition {
            Condition::Compare { operand, .. } => match operand {
                Operand::Text(x) => Some(x.value.clone()),
                Operand::Number(n) => n.literal_value().map(|v| v.to_string()),
                _ => None,
            },
            _ => None,
        })
}

fn algorithm(rule: &Rule) -> Result<HashAlgorithm, String> {
    match tag_text(rule, "hashAlgorithm") {
        None => Ok(HashAlgorithm::Sha256),
        Some(name) => HashAlgorithm::parse(&name)
            .ok_or_else(|| format!("hashAlgorithm `{name}` is not MD5, SHA-1 or SHA-256")),
    }
}

/// The locations (and checksums) the File rules of a ruleset need.
pub fn file_requests(ruleset: &Ruleset, primary: Option<&str>) -> Vec<FileRequest> {
    let mut out = Vec::new();
    let leaves = ruleset.rules.iter().flatten().flat_map(|t| t.expr.leaves());
    for rule in leaves {
        if !is_file_rule(rule.rule_type) {
            continue;
        }
        let params = param_texts(rule, ruleset);
        let hashes = match rule.rule_type {
            RuleType::FileUniqueness => vec![HashAlgorithm::Sha256],
            RuleType::FileMatch => algorithm(rule).map(|a| vec![a]).unwrap_or_default(),
            _ => Vec::new(),
        };
        let locations: Vec<String> = if params.is_empty() {
            primary.map(str::to_string).into_iter().collect()
        } else {
            params
        };
        for location in locations {
            out.push(FileRequest {
                location,
                algorithms: hashes.clone(),
            });
        }
    }
    out
}

/// A numeric copy of a date or size condition: instants become epoch
/// milliseconds, sizes bytes.
fn numeric_condition(
    c: &Condition,
    now: DateTime<Utc>,
    zone: Option<chrono_tz::Tz>,
) -> Result<Condition, String> {
    let number = |o: &Operand| -> Result<Operand, String> {
        let value = match o {
            Operand::Date(d) => crate::plan::sql::resolve_date(&d.value, now, zone)?
                .and_utc()
                .timestamp_millis() as f64,
            Operand::Size(s) => s.bytes(),
            Operand::Number(n) => n
                .literal_value()
                .ok_or_else(|| "File rules take literal operands".to_string())?,
            _ => return Err("File rules compare dates or sizes".to_string()),
        };
        Ok(Operand::Number(NumExpr::Literal {
            value,
            span: Span::default(),
        }))
    };
    if matches!(
        c,
        Condition::Matches { .. }
            | Condition::In {
                set: InSet::Constant(_),
                ..
            }
    ) {
        return Err("this condition does not apply to files".to_string());
    }
    c.map_operands(number)
}

/// FileFreshness reads `between A and B` as the time between the two
/// instants, whichever comes first: Glue's FileFreshness page writes
/// `between now() and (now() - 45 minutes)` for the last 45 minutes. (Sizes
/// and column values keep their bounds in the order written.)
fn earlier_first(c: Condition) -> Condition {
    match c {
        Condition::Between {
            negated,
            low,
            high,
            span,
        } => match (low.to_number(), high.to_number()) {
            (Ok(a), Ok(b)) if a > b => Condition::Between {
                negated,
                low: high,
                high: low,
                span,
            },
            _ => Condition::Between {
                negated,
                low,
                high,
                span,
            },
        },
        other => other,
    }
}

/// Applies `recentFiles = N` (newest first) and `uriRegex = "..."`.
fn select<'a>(rule: &Rule, files: &'a [FileInfo]) -> Result<Vec<&'a FileInfo>, String> {
    let mut chosen: Vec<&FileInfo> = files.iter().collect();
    if let Some(pattern) = tag_text(rule, "uriRegex") {
        let re = regex::Regex::new(&pattern).map_err(|e| format!("uriRegex: {e}"))?;
        chosen.retain(|f| re.is_match(&f.location));
    }
    if let Some(n) = tag_text(rule, "recentFiles") {
        let n: usize = n
            .parse()
            .map_err(|_| format!("recentFiles `{n}` is not a whole number"))?;
        chosen.sort_by(|a, b| {
            b.modified
                .cmp(&a.modified)
                .then(a.location.cmp(&b.location))
        });
        chosen.truncate(n);
    }
    Ok(chosen)
}

fn constant(name: &str, v: f64) -> (String, Formula) {
    (name.to_string(), Formula::Const(v))
}

/// The rule's `timeZone` tag, if any (validated as an IANA name).
pub(crate) fn time_zone(rule: &Rule) -> Result<Option<chrono_tz::Tz>, String> {
    let Some(tag) = rule.tags.iter().find(|t| t.name == "timeZone") else {
        return Ok(None);
    };
    match &tag.condition {
        Condition::Compare {
            operand: Operand::Text(t),
            ..
        } => t
            .value
            .parse::<chrono_tz::Tz>()
            .map(Some)
            .map_err(|_| format!("unknown time zone \"{}\"", t.value)),
        _ => Err("timeZone takes a zone name".to_string()),
    }
}

/// Plans one File rule.
pub fn plan_file_rule(
    rule: &Rule,
    params: &[String],
    scope: &FileScope<'_>,
    now: DateTime<Utc>,
) -> LeafPlan {
    match plan(rule, params, scope, now) {
        Ok(p) => p,
        Err(message) => *error(message),
    }
}

fn plan(
    rule: &Rule,
    params: &[String],
    scope: &FileScope<'_>,
    now: DateTime<Utc>,
) -> Result<LeafPlan, String> {
    let two_paths = rule.rule_type == RuleType::FileMatch && params.len() == 2;
    let location = match params.first() {
        Some(p) => p.clone(),
        None => scope.primary.map(str::to_string).ok_or_else(|| {
            "this dataset is not a file location (an Iceberg table or a glob); give the rule a path".to_string()
        })?,
    };
    let listed = scope.facts.files(&location)?;
    let files = select(rule, listed)?;
    let count = files.len() as f64;
    let none = || format!("no files at {location}");
    match rule.rule_type {
        RuleType::FileFreshness | RuleType::FileSize => {
            let condition = rule.condition.as_ref().ok_or("missing condition")?;
            let numeric = numeric_condition(condition, now, time_zone(rule)?)?;
            let size = rule.rule_type == RuleType::FileSize;
            let numeric = if size {
                numeric
            } else {
                earlier_first(numeric)
            };
            let measure = |f: &FileInfo| {
                if size {
                    f.size as f64
                } else {
                    f.modified.timestamp_millis() as f64
                }
            };
            let mut passing = 0usize;
            let mut failing = Vec::new();
            for f in &files {
                if numeric.holds(measure(f)).map_err(|e| e.to_string())? {
                    passing += 1;
                } else {
                    failing.push(f.location.clone());
                }
            }
            let what = if size { "FileSize" } else { "FileFreshness" };
            let subject = format!("Dataset.*.{what}.Compliance");
            let mut metrics = vec![constant("Dataset.*.FileCount", count)];
            if files.is_empty() {
                return Ok(decided(metrics, Outcome::Failed, none()));
            }
            let compliance = passing as f64 / count;
            metrics.insert(0, constant(&subject, compliance));
            if size {
                let sizes = files.iter().map(|f| f.size as f64);
                metrics.push(constant(
                    "Dataset.*.MaximumFileSize",
                    sizes.clone().fold(f64::MIN, f64::max),
                ));
                metrics.push(constant(
                    "Dataset.*.MinimumFileSize",
                    sizes.fold(f64::MAX, f64::min),
                ));
            }
            if rule.threshold.is_none() && failing.is_empty() {
                return Ok(decided(
                    metrics,
                    Outcome::Passed,
                    format!("all {} file(s) passed", files.len()),
                ));
            }
            if rule.threshold.is_none() {
                let shown: Vec<&str> = failing.iter().take(5).map(String::as_str).collect();
                let more = failing.len().saturating_sub(shown.len());
                let message = format!(
                    "{passing} of {} file(s) passed; failing: {}{}",
                    files.len(),
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                );
                return Ok(decided(metrics, Outcome::Failed, message));
            }
            Ok(LeafPlan {
                metrics,
                check: Check::RowLevel {
                    subject,
                    compliance: Formula::Const(compliance),
                    threshold: rule.threshold.clone(),
                },
                row_predicate: None,
                row_match: None,
                where_clause: None,
            })
        }
        RuleType::FileUniqueness => {
            let condition = rule.condition.clone().ok_or("missing condition")?;
            let mut metrics = vec![constant("Dataset.*.FileCount", count)];
            if files.is_empty() {
                return Ok(decided(metrics, Outcome::Failed, none()));
            }
            let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
            for f in &files {
                let hash = f
                    .checksums
                    .get(&HashAlgorithm::Sha256)
                    .map_or("", String::as_str);
                *seen.entry(hash).or_default() += 1;
            }
            // Files whose content no other file has, over all files.
            let unique = files
                .iter()
                .filter(|f| {
                    seen[f
                        .checksums
                        .get(&HashAlgorithm::Sha256)
                        .map_or("", String::as_str)]
                        == 1
                })
                .count();
            let ratio = unique as f64 / count;
            metrics.insert(0, constant("Dataset.*.FileUniquenessRatio", ratio));
            Ok(LeafPlan {
                metrics,
                check: Check::Condition {
                    subject: "Dataset.*.FileUniquenessRatio".to_string(),
                    value: Formula::Const(ratio),
                    condition,
                },
                row_predicate: None,
                row_match: None,
                where_clause: None,
            })
        }
        _ if two_paths => {
            let other = scope.facts.files(&params[1])?;
            let algorithm = algorithm(rule)?;
            let by_name =
                tag_text(rule, "matchFileName").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            let metrics = vec![constant("Dataset.*.FileCount", count)];
            if files.is_empty() {
                return Ok(decided(metrics, Outcome::Failed, none()));
            }
            let name = |f: &FileInfo| {
                f.location
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            };
            let mut unmatched = Vec::new();
            for f in &files {
                let hash = f.checksums.get(&algorithm);
                let found = other.iter().any(|g| {
                    g.checksums.get(&algorithm) == hash && (!by_name || name(g) == name(f))
                });
                if !found {
                    unmatched.push(f.location.clone());
                }
            }
            Ok(if unmatched.is_empty() && files.len() == other.len() {
                decided(
                    metrics,
                    Outcome::Passed,
                    format!("all {} file(s) match {}", files.len(), params[1]),
                )
            } else if unmatched.is_empty() {
                decided(
                    metrics,
                    Outcome::Failed,
                    format!(
                        "{} has {} file(s), {} has {}",
                        location,
                        files.len(),
                        params[1],
                        other.len()
                    ),
                )
            } else {
                decided(
                    metrics,
                    Outcome::Failed,
                    format!(
                        "no matching content in {} for: {}",
                        params[1],
                        unmatched.join(", ")
                    ),
                )
            })
        }
        _ => {
            // FileMatch [path] in ["checksum", ...]
            let algorithm = algorithm(rule)?;
            let Some(Condition::In { negated, set, .. }) = &rule.condition else {
                return Err("FileMatch takes `in [\"checksum\", ...]` or two paths".to_string());
            };
            let listed: Vec<String> = match set {
                InSet::List(items) => items
                    .iter()
                    .filter_map(|o| match o {
                        Operand::Text(t) => Some(t.value.to_ascii_lowercase()),
                        _ => None,
                    })
                    .collect(),
                InSet::Constant(c) => {
                    return Err(format!(
                        "constant `{}` in FileMatch is not supported; list the checksums",
                        c.value
                    ));
                }
            };
            let metrics = vec![constant("Dataset.*.FileCount", count)];
            if files.is_empty() {
                return Ok(decided(metrics, Outcome::Failed, none()));
            }
            let wrong: Vec<String> = files
                .iter()
                .filter(|f| {
                    let hash = f.checksums.get(&algorithm).cloned().unwrap_or_default();
                    listed.contains(&hash) == *negated
                })
                .map(|f| f.location.clone())
                .collect();
            Ok(if wrong.is_empty() {
                decided(
                    metrics,
                    Outcome::Passed,
                    format!("all {} file checksum(s) as required", files.len()),
                )
            } else {
                decided(
                    metrics,
                    Outcome::Failed,
                    format!("checksum not as required for: {}", wrong.join(", ")),
                )
            })
        }
    }
}

fn decided(metrics: Vec<(String, Formula)>, outcome: Outcome, message: String) -> LeafPlan {
    LeafPlan {
        metrics,
        check: Check::Decided { outcome, message },
        row_predicate: None,
        row_match: None,
        where_clause: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_conditions_become_bytes() {
        let rs =
            crate::dqdl::parse("Rules = [ FileSize \"x\" between 1 KB and 2 MB ]").expect("parses");
        let rule = rs
            .rules
            .iter()
            .flatten()
            .next()
            .expect("rule")
            .expr
            .leaves()[0]
            .clone();
        let c = numeric_condition(
            rule.condition.as_ref().expect("condition"),
            Utc::now(),
            None,
        )
        .expect("numeric");
        assert!(c.holds(2048.0).expect("holds"));
        assert!(!c.holds(1024.0).expect("holds"), "between is exclusive");
    }

    fn freshness_condition(text: &str) -> (Condition, DateTime<Utc>) {
        let rs =
            crate::dqdl::parse(&format!("Rules = [ FileFreshness \"x\" {text} ]")).expect("parses");
        let rule = rs
            .rules
            .iter()
            .flatten()
            .next()
            .expect("rule")
            .expr
            .leaves()[0]
            .clone();
        let now = Utc::now();
        let c = numeric_condition(rule.condition.as_ref().expect("condition"), now, None)
            .expect("numeric");
        (earlier_first(c), now)
    }

    #[test]
    fn freshness_bounds_are_read_earlier_first() {
        let ms = |t: DateTime<Utc>| t.timestamp_millis() as f64;
        let minutes = |m| chrono::Duration::minutes(m);
        let (c, now) = freshness_condition("between now() and (now() - 45 minutes)");
        assert!(c.holds(ms(now - minutes(5))).expect("holds"));
        assert!(!c.holds(ms(now - minutes(50))).expect("holds"));
        let (c, now) = freshness_condition("not between now() and (now() - 45 minutes)");
        assert!(!c.holds(ms(now - minutes(5))).expect("holds"));
        assert!(c.holds(ms(now - minutes(50))).expect("holds"));
        // Bounds in order are unchanged.
        let (c, now) = freshness_condition("between (now() - 45 minutes) and now()");
        assert!(c.holds(ms(now - minutes(5))).expect("holds"));
    }
}
