//! Rulesets: the list, a version with its history, a diff between two
//! versions, and (admin, steward) the editor, which validates with the DQDL
//! validator and saves a new immutable version, and restoring an old one.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::ConsoleState;
use super::diff::{DiffLine, diff_lines};
use super::editor::dry_run_problem;
use super::error::PageError;
use super::session::{Action, Session};
use super::view::{Choice, Nav, number, query, score, when};
use crate::api::auth::Access;
use crate::api::error::{Problem, ProblemLocation};
use crate::api::registry::check_name;
use crate::dqdl;
use crate::runs::DryRun;
use crate::store::RulesetVersion;

/// A version as listed.
struct VersionRow {
    version: i64,
    author: String,
    at: String,
    at_iso: String,
    comment: String,
}

impl From<&RulesetVersion> for VersionRow {
    fn from(v: &RulesetVersion) -> Self {
        VersionRow {
            version: v.version,
            author: v.author.clone(),
            at: when(&v.created_at),
            at_iso: v.created_at.clone(),
            comment: v.comment.clone().unwrap_or_default(),
        }
    }
}

/// A ruleset of the list.
struct RulesetRow {
    name: String,
    latest: VersionRow,
}

/// `/rulesets`.
#[derive(Template)]
#[template(path = "rulesets.html")]
struct ListPage {
    nav: Nav,
    rulesets: Vec<RulesetRow>,
    /// Registered datasets a new ruleset may be suggested from.
    datasets: Vec<String>,
}

/// `GET /rulesets`.
pub(super) async fn list(
    State(state): State<ConsoleState>,
    session: Session,
) -> Result<Html<String>, PageError> {
    session.caller.require(Access::Read)?;
    let rulesets = state
        .app
        .store
        .list_rulesets()
        .await?
        .iter()
        .map(|v| RulesetRow {
            name: v.name.clone(),
            latest: v.into(),
        })
        .collect();
    let datasets = if session.caller.may(Access::Edit) {
        let all = state.app.store.list_datasets().await?;
        all.into_iter().map(|d| d.name).collect()
    } else {
        Vec::new()
    };
    let page = ListPage {
        nav: Nav::new(&session, "rulesets"),
        rulesets,
        datasets,
    };
    Ok(Html(page.render()?))
}

/// The "new ruleset" form.
#[derive(Deserialize)]
pub(super) struct NewQuery {
    #[serde(default)]
    name: String,
    /// A dataset to profile for a suggested start.
    #[serde(default)]
    suggest: String,
}

/// `GET /rulesets/new?name=[&suggest=DATASET]` (admin, steward): to the
/// editor of a new name, empty or with a suggestion.
pub(super) async fn new(
    session: Session,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    session.caller.require(Access::Edit)?;
    let name = q.name.trim();
    check_name("ruleset", name)?;
    let suggest = q.suggest.trim();
    let to = if suggest.is_empty() {
        format!("/rulesets/{name}/edit")
    } else {
        format!("/rulesets/{name}/edit{}", query(&[("suggest", suggest)]))
    };
    Ok(Redirect::to(&to).into_response())
}

/// `/rulesets/{name}`.
#[derive(Template)]
#[template(path = "ruleset.html")]
struct ShowPage {
    nav: Nav,
    name: String,
    shown: VersionRow,
    latest: i64,
    text: String,
    versions: Vec<VersionRow>,
}

/// Which version to show.
#[derive(Deserialize)]
pub(super) struct ShowQuery {
    #[serde(default)]
    version: Option<i64>,
}

/// The versions of a live ruleset, newest first; 404 when there are none.
async fn versions(state: &ConsoleState, name: &str) -> Result<Vec<RulesetVersion>, PageError> {
    let versions = state.app.store.ruleset_versions(name).await?;
    if versions.is_empty() {
        return Err(Problem::not_found("ruleset_not_found", format!("no ruleset `{name}`")).into());
    }
    Ok(versions)
}

/// Version `version` among `versions`; 404 when absent.
fn pick<'a>(
    versions: &'a [RulesetVersion],
    name: &str,
    version: i64,
) -> Result<&'a RulesetVersion, Problem> {
    versions
        .iter()
        .find(|v| v.version == version)
        .ok_or_else(|| {
            Problem::not_found(
                "ruleset_not_found",
                format!("no version {version} of ruleset `{name}`"),
            )
        })
}

/// `GET /rulesets/{name}[?version=N]`: a version and the history.
pub(super) async fn show(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Html<String>, PageError> {
    session.caller.require(Access::Read)?;
    let versions = versions(&state, &name).await?;
    let latest = versions[0].version;
    let shown = pick(&versions, &name, q.version.unwrap_or(latest))?;
    let page = ShowPage {
        nav: Nav::new(&session, "rulesets"),
        shown: shown.into(),
        text: shown.dqdl.clone(),
        latest,
        versions: versions.iter().map(Into::into).collect(),
        name,
    };
    Ok(Html(page.render()?))
}

/// `/rulesets/{name}/diff`.
#[derive(Template)]
#[template(path = "diff.html")]
struct DiffPage {
    nav: Nav,
    name: String,
    from: i64,
    to: i64,
    versions: Vec<i64>,
    lines: Vec<DiffLine>,
    changed: bool,
}

/// The two versions to compare.
#[derive(Deserialize)]
pub(super) struct DiffQuery {
    #[serde(default)]
    from: Option<i64>,
    #[serde(default)]
    to: Option<i64>,
}

/// `GET /rulesets/{name}/diff?from=A&to=B` (default: the latest against
/// the one before).
pub(super) async fn diff(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Html<String>, PageError> {
    session.caller.require(Access::Read)?;
    let versions = versions(&state, &name).await?;
    let to = q.to.unwrap_or(versions[0].version);
    let from = q.from.unwrap_or((to - 1).max(1));
    let (old, new) = (pick(&versions, &name, from)?, pick(&versions, &name, to)?);
    let lines = diff_lines(&old.dqdl, &new.dqdl);
    let page = DiffPage {
        nav: Nav::new(&session, "rulesets"),
        changed: lines.iter().any(|l| l.sign() != " "),
        lines,
        versions: versions.iter().map(|v| v.version).collect(),
        from,
        to,
        name,
    };
    Ok(Html(page.render()?))
}

/// `/rulesets/{name}/edit`.
#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    nav: Nav,
    name: String,
    text: String,
    comment: String,
    base: Option<i64>,
    errors: Vec<ProblemLocation>,
    notice: String,
    /// Registered datasets, for column completion and Try it.
    datasets: Vec<Choice>,
    /// The stage whose history Try it reads.
    stage: String,
    /// What Try it found, when it was asked.
    tried: Option<Tried>,
}

/// The result of Try it.
struct Tried {
    dataset: String,
    decision: String,
    score: String,
    counts: String,
    /// Why it gave no results (then `rules` is empty).
    error: String,
    rules: Vec<TriedRule>,
}

/// One rule's result in Try it.
struct TriedRule {
    rule: String,
    outcome: String,
    message: String,
    metrics: String,
}

impl Tried {
    fn from_report(dataset: &str, report: &crate::report::Report) -> Tried {
        Tried {
            dataset: dataset.to_string(),
            decision: crate::gate::decide_report(report).as_str().to_string(),
            score: score(report.score),
            counts: format!(
                "{} passed, {} failed, {} errors",
                report.passed, report.failed, report.errors
            ),
            error: String::new(),
            rules: report
                .rules
                .iter()
                .map(|r| TriedRule {
                    rule: r.rule.clone(),
                    outcome: r.outcome.as_str().to_string(),
                    message: r.message.clone(),
                    metrics: r
                        .metrics
                        .iter()
                        .map(|(k, v)| format!("{k} = {}", number(*v)))
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
        }
    }

    fn failed(dataset: &str, error: String) -> Tried {
        Tried {
            dataset: dataset.to_string(),
            decision: "error".to_string(),
            score: score(None),
            counts: String::new(),
            error,
            rules: Vec::new(),
        }
    }
}

fn edit_page(status: StatusCode, page: EditPage) -> Result<Response, PageError> {
    Ok((status, Html(page.render()?)).into_response())
}

/// The registered datasets as choices, `current` (else the first) chosen.
async fn dataset_choices(state: &ConsoleState, current: &str) -> Result<Vec<Choice>, PageError> {
    let names: Vec<String> = state
        .app
        .store
        .list_datasets()
        .await?
        .into_iter()
        .map(|d| d.name)
        .collect();
    let chosen = if names.iter().any(|n| n == current) {
        current.to_string()
    } else {
        names.first().cloned().unwrap_or_default()
    };
    Ok(names
        .into_iter()
        .map(|n| Choice {
            selected: n == chosen,
            label: n.clone(),
            value: n,
        })
        .collect())
}

/// What the editor may open with.
#[derive(Deserialize)]
pub(super) struct EditQuery {
    /// Open with the ruleset suggested by profiling this dataset.
    #[serde(default)]
    suggest: String,
}

/// `GET /rulesets/{name}/edit[?suggest=DATASET]` (admin, steward): the
/// latest text, an empty one for a new ruleset, or a suggestion profiled
/// from a registered dataset.
pub(super) async fn edit(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
    Query(q): Query<EditQuery>,
) -> Result<Response, PageError> {
    session.caller.require(Access::Edit)?;
    check_name("ruleset", &name)?;
    let latest = state.app.store.get_ruleset(&name, None).await?;
    let base = latest.as_ref().map(|v| v.version);
    let (text, notice) = if q.suggest.is_empty() {
        (latest.map(|v| v.dqdl).unwrap_or_default(), String::new())
    } else {
        let suggestion = crate::api::suggest::suggest_for(&state.app, &q.suggest).await?;
        (
            suggestion.ruleset,
            format!(
                "suggested from a profile of `{}`: {} rule(s); review before saving",
                q.suggest, suggestion.rules
            ),
        )
    };
    edit_page(
        StatusCode::OK,
        EditPage {
            nav: Nav::new(&session, "rulesets"),
            text,
            base,
            comment: String::new(),
            errors: Vec::new(),
            notice,
            datasets: dataset_choices(&state, &q.suggest).await?,
            stage: "console".to_string(),
            tried: None,
            name,
        },
    )
}

/// The editor's form.
#[derive(Deserialize)]
pub(super) struct SaveForm {
    text: String,
    #[serde(default)]
    comment: String,
    /// `validate` checks, `format` reformats, `try` dry-runs against
    /// `dataset`; anything else saves.
    #[serde(default)]
    intent: String,
    /// Try it: the registered dataset.
    #[serde(default)]
    dataset: String,
    /// Try it: the stage whose history dynamic rules read.
    #[serde(default)]
    stage: String,
}

/// `POST /rulesets/{name}` (admin, steward): validates, then saves a new
/// version, reformats, or tries the text against a dataset; errors come
/// back in the editor with their line and column.
pub(super) async fn save(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    action: Action<SaveForm>,
) -> Result<Response, PageError> {
    let Action { session, form } = action;
    session.caller.require(Access::Edit)?;
    check_name("ruleset", &name)?;
    let max = state.app.limits.max_ruleset_bytes;
    if form.text.len() > max {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ruleset_too_large",
            format!(
                "the ruleset is {} bytes; the limit is {max}",
                form.text.len()
            ),
        )
        .into());
    }
    // Browsers send text areas with CRLF line ends.
    let mut text = form.text.replace("\r\n", "\n");
    let comment = form.comment.trim().to_string();
    let stage = match form.stage.trim() {
        "" => "console".to_string(),
        s => s.to_string(),
    };
    let checked = dqdl::parse(&text).map_err(|e| Problem::invalid_ruleset(&e.diagnostics));
    let intent = form.intent.as_str();
    if checked.is_err() || matches!(intent, "validate" | "format" | "try") {
        let base = state
            .app
            .store
            .get_ruleset(&name, None)
            .await?
            .map(|v| v.version);
        let mut tried = None;
        let (status, errors, notice) = match checked {
            Ok(parsed) => {
                let notice = match intent {
                    "format" => {
                        text = dqdl::format_ruleset(&parsed);
                        "formatted"
                    }
                    "try" => {
                        let request = DryRun {
                            text: text.clone(),
                            dataset: form.dataset.clone(),
                            stage: stage.clone(),
                        };
                        tried = Some(match state.app.runs.dry_run(request).await {
                            Ok(report) => Tried::from_report(&form.dataset, &report),
                            Err(e) => Tried::failed(
                                &form.dataset,
                                dry_run_problem(e).detail().to_string(),
                            ),
                        });
                        "tried: nothing was recorded"
                    }
                    _ => "valid: no errors",
                };
                (StatusCode::OK, Vec::new(), notice.to_string())
            }
            Err(p) => (p.status(), p.errors().to_vec(), p.detail().to_string()),
        };
        return edit_page(
            status,
            EditPage {
                nav: Nav::new(&session, "rulesets"),
                datasets: dataset_choices(&state, &form.dataset).await?,
                name,
                text,
                comment,
                base,
                errors,
                notice,
                stage,
                tried,
            },
        );
    }
    let (version, _) = state
        .app
        .store
        .put_ruleset(
            &name,
            &text,
            Some(comment.as_str()).filter(|c| !c.is_empty()),
            &session.caller.name,
        )
        .await?;
    Ok(Redirect::to(&format!("/rulesets/{name}?version={}", version.version)).into_response())
}

/// The restore form.
#[derive(Deserialize)]
pub(super) struct RestoreForm {
    version: String,
}

/// `POST /rulesets/{name}/restore` (admin, steward): an old version's text
/// saved as a new version.
pub(super) async fn restore(
    State(state): State<ConsoleState>,
    Path(name): Path<String>,
    action: Action<RestoreForm>,
) -> Result<Response, PageError> {
    let Action { session, form } = action;
    session.caller.require(Access::Edit)?;
    let number: i64 = form
        .version
        .parse()
        .map_err(|_| Problem::bad_request("version must be a number"))?;
    let versions = versions(&state, &name).await?;
    let old = pick(&versions, &name, number)?;
    let (version, _) = state
        .app
        .store
        .put_ruleset(
            &name,
            &old.dqdl,
            Some(format!("restored version {number}").as_str()),
            &session.caller.name,
        )
        .await?;
    Ok(Redirect::to(&format!("/rulesets/{name}?version={}", version.version)).into_response())
}
