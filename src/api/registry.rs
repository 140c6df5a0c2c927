//! Rulesets (immutable versions) and datasets: the registries stewards edit.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::auth::{Access, Caller};
use super::error::{Problem, ProblemJson};
use crate::dqdl;
use crate::source::{DatasetSpec, Format, SourceOptions, redact};
use crate::store::{DatasetRecord, RulesetVersion};

/// A ruleset version as served.
#[derive(Serialize, ToSchema)]
pub struct RulesetView {
    name: String,
    version: i64,
    dqdl: String,
    comment: Option<String>,
    author: String,
    created_at: String,
}

impl From<RulesetVersion> for RulesetView {
    fn from(v: RulesetVersion) -> Self {
        RulesetView {
            name: v.name,
            version: v.version,
            dqdl: v.dqdl,
            comment: v.comment,
            author: v.author,
            created_at: v.created_at,
        }
    }
}

/// JSON body of `PUT /v1/rulesets/{name}` (or send DQDL as text/plain).
#[derive(Deserialize, ToSchema)]
pub struct RulesetBody {
    /// The DQDL text.
    dqdl: String,
    /// Why this version.
    #[serde(default)]
    comment: Option<String>,
}

/// Answer of `POST /v1/validate`.
#[derive(Serialize, ToSchema)]
pub struct ValidateResponse {
    valid: bool,
    errors: Vec<super::error::ProblemLocation>,
}

/// A dataset as registered.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct DatasetBody {
    /// `parquet`, `csv`, `json` or `iceberg`.
    format: String,
    /// A file, folder or glob (local or `s3://`), or an Iceberg reference;
    /// a local location must exist (else 422 `location_not_found`).
    location: String,
    /// Reader options: `endpoint`, `region`, `path_style`, `snapshot_id`,
    /// `as_of`, `since_snapshot_id`, `slice_column`, `start_date`,
    /// `end_date`, `composite_mode`; CSV `delimiter`, `header`,
    /// `null_value`, `quote`, `malformed_rows` (`fail` or `count`); gate
    /// runs: `quarantine`, a local folder (under the allowed paths) or
    /// `s3://bucket/prefix` outside the dataset's location, where a run
    /// that ends in `fail` writes its failing rows as Parquet under
    /// `<quarantine>/<dataset>/<stage>/<run id>/` (422
    /// `location_not_allowed` when out of reach); `failed_rows_sample`
    /// (failing rows kept per row-level rule, default 20, 0 = none, at
    /// most 1000).
    /// Unknown options are rejected.
    #[serde(default)]
    #[schema(value_type = Object)]
    options: serde_json::Value,
}

/// A dataset as served.
#[derive(Serialize, ToSchema)]
pub struct DatasetView {
    pub(crate) name: String,
    pub(crate) format: String,
    pub(crate) location: String,
    #[schema(value_type = Object)]
    pub(crate) options: serde_json::Value,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

impl From<DatasetRecord> for DatasetView {
    fn from(d: DatasetRecord) -> Self {
        let mut options = d.options;
        redact::json(&mut options);
        DatasetView {
            name: d.name,
            format: d.format,
            location: redact::secrets(&d.location),
            options,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// Registry names: 1 to 128 of `A-Z a-z 0-9 _ . -`.
pub fn check_name(kind: &str, name: &str) -> Result<(), Problem> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Problem::bad_request(format!(
            "{kind} names are 1 to 128 letters, digits, `_`, `.` or `-`; got `{name}`"
        )))
    }
}

/// The body bytes, or 413/400 as problem+json.
pub fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Problem> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is over the size limit",
            )
        } else {
            Problem::bad_request(format!("cannot read the body: {e}"))
        }
    })
}

/// Parses a JSON body, 400 with the position when it is malformed.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| Problem::bad_request(format!("malformed JSON: {e}")))
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// DQDL and comment from a text/plain or JSON body, size-checked.
fn ruleset_text(
    state: &AppState,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<(String, Option<String>), Problem> {
    let (dqdl, comment) = if is_json(headers) {
        let body: RulesetBody = parse_json(bytes)?;
        (body.dqdl, body.comment)
    } else {
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Problem::bad_request("the ruleset is not UTF-8 text"))?;
        (text.to_string(), None)
    };
    if dqdl.len() > state.limits.max_ruleset_bytes {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "ruleset_too_large",
            format!(
                "the ruleset is {} bytes; the limit is {}",
                dqdl.len(),
                state.limits.max_ruleset_bytes
            ),
        ));
    }
    Ok((dqdl, comment))
}

/// Every ruleset, latest versions.
#[utoipa::path(get, path = "/v1/rulesets", responses((status = 200, body = Vec<RulesetView>)))]
pub async fn list_rulesets(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<RulesetView>>, Problem> {
    caller.require(Access::Read)?;
    Ok(Json(
        state
            .store
            .list_rulesets()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// The latest version of a ruleset.
#[utoipa::path(get, path = "/v1/rulesets/{name}", responses((status = 200, body = RulesetView), (status = 404, body = ProblemJson)))]
pub async fn get_ruleset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<RulesetView>, Problem> {
    caller.require(Access::Read)?;
    match state.store.get_ruleset(&name, None).await? {
        Some(v) => Ok(Json(v.into())),
        None => Err(Problem::not_found(
            "ruleset_not_found",
            format!("no ruleset `{name}`"),
        )),
    }
}

/// Saves a new version (201), or nothing when identical to the latest (200).
/// Body: DQDL as text/plain, or JSON `{"dqdl": "...", "comment": "..."}`.
#[utoipa::path(put, path = "/v1/rulesets/{name}", request_body(content = RulesetBody, description = "or text/plain DQDL"),
    responses((status = 201, body = RulesetView), (status = 200, body = RulesetView), (status = 422, body = ProblemJson)))]
pub async fn put_ruleset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    caller.require(Access::Edit)?;
    check_name("ruleset", &name)?;
    let bytes = body_bytes(body)?;
    let (dqdl, comment) = ruleset_text(&state, &headers, &bytes)?;
    let parsed = dqdl::parse(&dqdl).map_err(|e| Problem::invalid_ruleset(&e.diagnostics))?;
    state.limits.check_rules(&parsed)?;
    let (version, created) = state
        .store
        .put_ruleset(&name, &dqdl, comment.as_deref(), &caller.name)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/v1/rulesets/{name}/versions/{}", version.version);
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(RulesetView::from(version)),
    )
        .into_response())
}

/// Deletes a ruleset (its versions and runs are kept).
#[utoipa::path(delete, path = "/v1/rulesets/{name}", responses((status = 204), (status = 404, body = ProblemJson)))]
pub async fn delete_ruleset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<StatusCode, Problem> {
    caller.require(Access::Edit)?;
    if state.store.delete_ruleset(&name).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(
            "ruleset_not_found",
            format!("no ruleset `{name}`"),
        ))
    }
}

/// Every version of a ruleset, newest first.
#[utoipa::path(get, path = "/v1/rulesets/{name}/versions", responses((status = 200, body = Vec<RulesetView>), (status = 404, body = ProblemJson)))]
pub async fn list_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<Vec<RulesetView>>, Problem> {
    caller.require(Access::Read)?;
    let versions = state.store.ruleset_versions(&name).await?;
    if versions.is_empty() {
        return Err(Problem::not_found(
            "ruleset_not_found",
            format!("no ruleset `{name}`"),
        ));
    }
    Ok(Json(versions.into_iter().map(Into::into).collect()))
}

/// One version of a ruleset.
#[utoipa::path(get, path = "/v1/rulesets/{name}/versions/{version}", responses((status = 200, body = RulesetView), (status = 404, body = ProblemJson)))]
pub async fn get_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((name, version)): Path<(String, i64)>,
) -> Result<Json<RulesetView>, Problem> {
    caller.require(Access::Read)?;
    match state.store.get_ruleset(&name, Some(version)).await? {
        Some(v) => Ok(Json(v.into())),
        None => Err(Problem::not_found(
            "ruleset_not_found",
            format!("no version {version} of ruleset `{name}`"),
        )),
    }
}

/// Validates DQDL without saving (text/plain or JSON `{"dqdl": ...}`).
#[utoipa::path(post, path = "/v1/validate", request_body(content = RulesetBody, description = "or text/plain DQDL"),
    responses((status = 200, body = ValidateResponse)))]
pub async fn validate(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ValidateResponse>, Problem> {
    caller.require(Access::Edit)?;
    let bytes = body_bytes(body)?;
    let (dqdl, _) = ruleset_text(&state, &headers, &bytes)?;
    Ok(Json(match dqdl::parse(&dqdl) {
        Ok(parsed) => {
            state.limits.check_rules(&parsed)?;
            ValidateResponse {
                valid: true,
                errors: Vec::new(),
            }
        }
        Err(e) => ValidateResponse {
            valid: false,
            errors: Problem::invalid_ruleset(&e.diagnostics).errors().to_vec(),
        },
    }))
}

/// Every registered dataset.
#[utoipa::path(get, path = "/v1/datasets", responses((status = 200, body = Vec<DatasetView>)))]
pub async fn list_datasets(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<DatasetView>>, Problem> {
    caller.require(Access::Read)?;
    Ok(Json(
        state
            .store
            .list_datasets()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

/// A registered dataset.
#[utoipa::path(get, path = "/v1/datasets/{name}", responses((status = 200, body = DatasetView), (status = 404, body = ProblemJson)))]
pub async fn get_dataset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<DatasetView>, Problem> {
    caller.require(Access::Read)?;
    match state.store.get_dataset(&name).await? {
        Some(d) => Ok(Json(d.into())),
        None => Err(Problem::not_found(
            "dataset_not_found",
            format!("no dataset `{name}`"),
        )),
    }
}

/// Registers (201) or replaces (200) a dataset. Rulesets can only reach
/// registered datasets.
#[utoipa::path(put, path = "/v1/datasets/{name}", request_body = DatasetBody,
    responses((status = 201, body = DatasetView), (status = 200, body = DatasetView), (status = 400, body = ProblemJson), (status = 422, body = ProblemJson)))]
pub async fn put_dataset(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    caller.require(Access::Edit)?;
    check_name("dataset", &name)?;
    let body: DatasetBody = parse_json(&body_bytes(body)?)?;
    let format: Format =
        serde_json::from_value(serde_json::Value::String(body.format.to_ascii_lowercase()))
            .map_err(|_| {
                Problem::bad_request(format!(
                    "format must be parquet, csv, json or iceberg; got `{}`",
                    body.format
                ))
            })?;
    if body.location.trim().is_empty() {
        return Err(Problem::bad_request(
            "location must name a file, folder, glob, s3:// URL or Iceberg reference",
        ));
    }
    let options = if body.options.is_null() {
        serde_json::json!({})
    } else {
        body.options
    };
    if !options.is_object() {
        return Err(Problem::bad_request("options must be a JSON object"));
    }
    let source_options = serde_json::from_value::<SourceOptions>(options.clone()).map_err(|e| {
        Problem::bad_request(format!(
            "options: {e} (known: endpoint, region, path_style, snapshot_id, as_of, since_snapshot_id, slice_column, start_date, end_date, composite_mode, delimiter, header, null_value, quote, malformed_rows, quarantine, failed_rows_sample)"
        ))
    })?;
    if format == Format::Iceberg {
        let reference = crate::source::iceberg::Reference::parse(&body.location)
            .map_err(|e| Problem::bad_request(redact::secrets(&format!("location: {e}"))))?;
        if let Some(feature) = reference.missing_feature() {
            return Err(Problem::bad_request(format!(
                "this dqgate was built without the `{feature}` feature, so it cannot read this Iceberg table"
            )));
        }
    }
    // Checked before anything is stored, opened or connected to.
    let spec = DatasetSpec {
        alias: name.clone(),
        location: body.location.clone(),
        format: Some(format),
        options: source_options,
        confinement: None,
    };
    crate::source::check_options(&spec).map_err(|e| Problem::bad_request(e.to_string()))?;
    state.confinement.check_spec(&spec).map_err(|e| {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "location_not_allowed",
            format!("dataset `{name}`: {e}"),
        )
    })?;
    // A local location must exist now; S3 and Iceberg are reached at the
    // first run, whose error names what is missing.
    if let Some(missing) = crate::source::missing_local(&spec) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "location_not_found",
            format!("dataset `{name}`: no file or folder at {missing}"),
        ));
    }
    let format_text = serde_json::to_value(format)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let (record, created) = state
        .store
        .put_dataset(&name, &format_text, &body.location, &options)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        [(header::LOCATION, format!("/v1/datasets/{name}"))],
        Json(DatasetView::from(record)),
    )
        .into_response())
}

/// A registered dataset, or the 404 problem that names it.
pub(crate) async fn registered_dataset(
    state: &AppState,
    name: &str,
) -> Result<crate::store::DatasetRecord, Problem> {
    state
        .store
        .get_dataset(name)
        .await?
        .ok_or_else(|| Problem::not_found("dataset_not_found", format!("no dataset `{name}`")))
}
