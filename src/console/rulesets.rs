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
use super::error::PageError;
use super::session::{Action, Session};
use super::view::{Nav, when};
use crate::api::auth::Access;
use crate::api::error::{Problem, ProblemLocation};
use crate::api::registry::check_name;
use crate::dqdl;
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
    let page = ListPage {
        nav: Nav::new(&session, "rulesets"),
        rulesets,
    };
    Ok(Html(page.render()?))
}

/// The "new ruleset" form.
#[derive(Deserialize)]
pub(super) struct NewQuery {
    #[serde(default)]
    name: String,
}

/// `GET /rulesets/new?name=` (admin, steward): to the editor of a new name.
pub(super) async fn new(
    session: Session,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    session.caller.require(Access::Edit)?;
    let name = q.name.trim();
    check_name("ruleset", name)?;
    Ok(Redirect::to(&format!("/rulesets/{name}/edit")).into_response())
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
}

fn edit_page(status: StatusCode, page: EditPage) -> Result<Response, PageError> {
    Ok((status, Html(page.render()?)).into_response())
}

/// `GET /rulesets/{name}/edit` (admin, steward): the latest text, or an
/// empty one for a new ruleset.
pub(super) async fn edit(
    State(state): State<ConsoleState>,
    session: Session,
    Path(name): Path<String>,
) -> Result<Response, PageError> {
    session.caller.require(Access::Edit)?;
    check_name("ruleset", &name)?;
    let latest = state.app.store.get_ruleset(&name, None).await?;
    edit_page(
        StatusCode::OK,
        EditPage {
            nav: Nav::new(&session, "rulesets"),
            text: latest.as_ref().map(|v| v.dqdl.clone()).unwrap_or_default(),
            base: latest.map(|v| v.version),
            comment: String::new(),
            errors: Vec::new(),
            notice: String::new(),
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
    /// `validate` checks without saving; anything else saves.
    #[serde(default)]
    intent: String,
}

/// `POST /rulesets/{name}` (admin, steward): validates, then saves a new
/// version; errors come back in the editor with their line and column.
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
    let text = form.text.replace("\r\n", "\n");
    let comment = form.comment.trim().to_string();
    let checked = dqdl::parse(&text).map_err(|e| Problem::invalid_ruleset(&e.diagnostics));
    if checked.is_err() || form.intent == "validate" {
        let base = state
            .app
            .store
            .get_ruleset(&name, None)
            .await?
            .map(|v| v.version);
        let (status, errors, notice) = match checked {
            Ok(_) => (StatusCode::OK, Vec::new(), "valid: no errors".to_string()),
            Err(p) => (p.status(), p.errors().to_vec(), p.detail().to_string()),
        };
        return edit_page(
            status,
            EditPage {
                nav: Nav::new(&session, "rulesets"),
                name,
                text,
                comment,
                base,
                errors,
                notice,
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
