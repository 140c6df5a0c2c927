//! What the editor island asks the server while a steward types: the rule
//! types (from the same table the validator uses), live validation with
//! positions it can underline, and the columns of a dataset for completion.

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::ConsoleState;
use super::error::PageError;
use super::session::{Action, Session};
use crate::api::auth::Access;
use crate::api::error::Problem;
use crate::dqdl::RuleType;
use crate::dqdl::rule_types::{ConditionKind, RuleSpec};
use crate::runs::{Column, DryRunError};

/// A rule type as the editor offers it.
#[derive(Serialize)]
pub(super) struct RuleTypeInfo {
    name: &'static str,
    /// How a rule of this type is written, e.g. `Completeness "column" <number condition>`.
    signature: String,
    description: &'static str,
    example: &'static str,
    /// The `with` tags it reads besides `threshold`.
    tags: &'static [&'static str],
}

/// The parameters part of a signature.
fn params(spec: &RuleSpec) -> String {
    let word = [
        "column",
        "path",
        "dataset",
        "query",
        "pattern",
        "expression",
        "rule",
    ]
    .into_iter()
    .find(|w| spec.params_hint.contains(w))
    .unwrap_or("value");
    let one = |_: usize| format!("\"{word}\"");
    let mut parts: Vec<String> = (0..spec.min_params).map(one).collect();
    if spec.max_params == usize::MAX {
        parts.push("…".to_string());
    } else if spec.max_params > spec.min_params {
        parts.extend((spec.min_params..spec.max_params).map(|i| format!("[{}]", one(i))));
    }
    parts.join(" ")
}

/// The condition part of a signature.
fn condition(kind: ConditionKind) -> &'static str {
    match kind {
        ConditionKind::None | ConditionKind::AnalyzerOnly => "",
        ConditionKind::Number => "<number condition>",
        ConditionKind::NumberOrNone => "[<number condition>]",
        ConditionKind::TypeName => "= \"TYPE\"",
        ConditionKind::Value => "<value condition>",
        ConditionKind::Duration => "<duration condition>",
        ConditionKind::Date => "<date condition>",
        ConditionKind::Size => "<size condition>",
        ConditionKind::FileMatch => "[in [\"checksum\", …]]",
    }
}

/// How a rule of `spec`'s type is written.
pub(super) fn signature(spec: &RuleSpec) -> String {
    let mut parts = vec![spec.name.to_string()];
    parts.extend([params(spec), condition(spec.condition).to_string()]);
    if spec.allows_where {
        parts.push("[where \"…\"]".to_string());
    }
    if spec.allows_threshold {
        parts.push("[with threshold …]".to_string());
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

/// `GET /editor/rule-types`: every rule type with its signature, a line on
/// what it checks and an example.
pub(super) async fn rule_types(session: Session) -> Result<Json<Vec<RuleTypeInfo>>, PageError> {
    session.caller.require(Access::Read)?;
    Ok(Json(
        RuleType::ALL
            .iter()
            .map(|t| {
                let spec = t.spec();
                RuleTypeInfo {
                    name: spec.name,
                    signature: signature(&spec),
                    description: spec.description,
                    example: spec.example,
                    tags: spec.tags,
                }
            })
            .collect(),
    ))
}

/// The text to validate.
#[derive(Deserialize)]
pub(super) struct TextForm {
    text: String,
}

/// A validation error the editor underlines.
#[derive(Serialize)]
pub(super) struct Mark {
    /// 1-based line.
    line: usize,
    /// 1-based column, in characters.
    column: usize,
    /// Characters to underline (at least 1).
    length: usize,
    message: String,
}

/// The answer of `POST /editor/validate`.
#[derive(Serialize)]
pub(super) struct Validation {
    valid: bool,
    errors: Vec<Mark>,
}

/// `POST /editor/validate` (form: `csrf`, `text`; admin, steward): the
/// validator's errors with the span each one covers.
pub(super) async fn validate(
    State(state): State<ConsoleState>,
    action: Action<TextForm>,
) -> Result<Json<Validation>, PageError> {
    action.session.caller.require(Access::Edit)?;
    let text = action.form.text.replace("\r\n", "\n");
    let max = state.app.limits.max_ruleset_bytes;
    if text.len() > max {
        return Ok(Json(Validation {
            valid: false,
            errors: vec![Mark {
                line: 1,
                column: 1,
                length: 1,
                message: format!("the ruleset is {} bytes; the limit is {max}", text.len()),
            }],
        }));
    }
    let errors = match crate::dqdl::parse(&text) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .diagnostics
            .iter()
            .map(|d| Mark {
                line: d.line,
                column: d.column,
                length: text
                    .get(d.start..d.end.max(d.start))
                    .map_or(1, |s| s.chars().count().max(1)),
                message: d.message.clone(),
            })
            .collect(),
    };
    Ok(Json(Validation {
        valid: errors.is_empty(),
        errors,
    }))
}

/// `GET /datasets/{name}/columns`: the dataset's columns read from its
/// source, for completion and the dataset page.
pub(super) async fn columns(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
) -> Result<Json<Vec<Column>>, PageError> {
    session.caller.require(Access::Read)?;
    Ok(Json(read_columns(&state, &name).await?))
}

/// `/datasets/{name}/schema`.
#[derive(askama::Template)]
#[template(path = "schema.html")]
struct SchemaPage {
    nav: super::view::Nav,
    name: String,
    columns: Result<Vec<Column>, String>,
}

/// `GET /datasets/{name}/schema`: the columns as a page (the dataset page
/// loads it into place; without JavaScript it is a link). A source that
/// cannot be read is said on the page, not as an error status.
pub(super) async fn schema(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
) -> Result<axum::response::Html<String>, PageError> {
    use askama::Template;
    session.caller.require(Access::Read)?;
    crate::api::registry::registered_dataset(&state.app, &name).await?;
    let columns = read_columns(&state, &name)
        .await
        .map_err(|p| p.detail().to_string());
    let page = SchemaPage {
        nav: super::view::Nav::new(&session, "overview"),
        name,
        columns,
    };
    Ok(axum::response::Html(page.render()?))
}

/// The columns of dataset `name`, or the problem the API would report.
pub(super) async fn read_columns(state: &ConsoleState, name: &str) -> Result<Vec<Column>, Problem> {
    state.app.runs.columns(name).await.map_err(dry_run_problem)
}

/// A dry run's failure as the API would report it.
pub(super) fn dry_run_problem(e: DryRunError) -> Problem {
    match e {
        DryRunError::Run(e) => e.into(),
        DryRunError::Evaluation(message) => Problem::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "dataset_unreadable",
            message,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_read_like_rules() {
        assert_eq!(
            signature(&RuleType::Completeness.spec()),
            "Completeness \"column\" <number condition> [where \"…\"]"
        );
        assert_eq!(
            signature(&RuleType::IsComplete.spec()),
            "IsComplete \"column\" [where \"…\"]"
        );
        assert_eq!(
            signature(&RuleType::RowCount.spec()),
            "RowCount <number condition> [where \"…\"]"
        );
    }
}
