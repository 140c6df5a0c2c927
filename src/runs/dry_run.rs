//! Dry runs ("Try it" in the console): DQDL text evaluated against a
//! registered dataset exactly as a gate run would evaluate it (queue,
//! evaluation pool, timeout, confinement, the stage's history), with
//! nothing recorded.

use super::{RunError, Runs, dataset_spec};
use crate::check::{CheckRequest, HistoryScope};
use crate::report::Report;
use crate::source::DatasetSpec;
use crate::store::DatasetRecord;

/// What a dry run evaluates.
#[derive(Debug, Clone)]
pub struct DryRun {
    /// The DQDL text (need not be saved).
    pub text: String,
    /// Registered dataset to check.
    pub dataset: String,
    /// The stage whose history dynamic rules and DetectAnomalies read.
    pub stage: String,
}

/// Why a dry run gave no report.
#[derive(Debug, thiserror::Error)]
pub enum DryRunError {
    /// It could not be started (unknown dataset, full queue, store).
    #[error(transparent)]
    Run(#[from] RunError),
    /// The evaluation itself failed (unreadable data, invalid text).
    #[error("{0}")]
    Evaluation(String),
}

/// The registered datasets the text names in quotes (`"users"`,
/// `"users.user_id"`), other than the primary: the console's dry runs and
/// gate runs read them under their registered names, as a gate request
/// would list them as aliases.
pub fn named_datasets<'a>(
    text: &str,
    registered: &'a [DatasetRecord],
    primary: &str,
) -> Vec<&'a DatasetRecord> {
    registered
        .iter()
        .filter(|d| d.name != primary)
        .filter(|d| {
            text.contains(&format!("\"{}\"", d.name)) || text.contains(&format!("\"{}.", d.name))
        })
        .collect()
}

impl Runs {
    /// Evaluates `req` and returns its report; records nothing.
    pub async fn dry_run(&self, req: DryRun) -> Result<Report, DryRunError> {
        let store = &self.inner.store;
        let dataset = store
            .get_dataset(&req.dataset)
            .await
            .map_err(RunError::from)?
            .ok_or_else(|| RunError::DatasetNotFound(req.dataset.clone()))?;
        let parsed =
            crate::dqdl::parse(&req.text).map_err(|e| DryRunError::Evaluation(e.to_string()))?;
        let (rules, limit) = (
            crate::check::rule_count(&parsed),
            self.inner.limits.max_rules,
        );
        if rules > limit {
            return Err(RunError::TooManyRules { rules, limit }.into());
        }
        let registered = store.list_datasets().await.map_err(RunError::from)?;
        let mut specs = vec![dataset_spec(crate::plan::PRIMARY, &dataset, None)];
        specs.extend(
            named_datasets(&req.text, &registered, &req.dataset)
                .into_iter()
                .map(|d| dataset_spec(&d.name, d, None)),
        );
        let confinement = self.inner.limits.confinement.clone();
        let datasets = specs
            .into_iter()
            .map(|spec| {
                spec.map(|s| DatasetSpec {
                    confinement: Some(confinement.clone()),
                    ..s
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(DryRunError::Evaluation)?;
        let request = CheckRequest {
            ruleset_name: "(dry run)".to_string(),
            ruleset_text: req.text,
            datasets,
            now: None,
            memory_limit: self.inner.limits.memory_limit,
            engine: self.inner.limits.engine.clone(),
        };
        let scope = HistoryScope {
            dataset: &req.dataset,
            stage: Some(&req.stage),
        };
        // Queued like a gate run; `check` plans and scans on the pool.
        let extras = super::evaluate::Extras {
            quarantine: None,
            sample_limit: 0,
        };
        self.queued(self.check(request, scope, extras))
            .await?
            .map(|c| c.report)
            .map_err(DryRunError::Evaluation)
    }
}

/// A column of a dataset as its source declares it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Arrow type, as DataFusion prints it.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether the source allows NULL.
    pub nullable: bool,
}

impl Runs {
    /// The columns of a registered dataset, read from its source (file
    /// footers, CSV inference, Iceberg metadata) under the run limits.
    pub async fn columns(&self, dataset: &str) -> Result<Vec<Column>, DryRunError> {
        let record = self
            .inner
            .store
            .get_dataset(dataset)
            .await
            .map_err(RunError::from)?
            .ok_or_else(|| RunError::DatasetNotFound(dataset.to_string()))?;
        let spec = DatasetSpec {
            confinement: Some(self.inner.limits.confinement.clone()),
            ..dataset_spec(crate::plan::PRIMARY, &record, None).map_err(DryRunError::Evaluation)?
        };
        let memory_limit = self.inner.limits.memory_limit;
        let reading = async move {
            let ctx =
                crate::engine::session(memory_limit).map_err(|e| crate::sql_support::clean(&e))?;
            crate::source::register(&ctx, &spec)
                .await
                .map_err(|e| crate::source::redact::message(&e.to_string()))?;
            let table = ctx
                .table(crate::plan::PRIMARY)
                .await
                .map_err(|e| crate::sql_support::clean(&e))?;
            Ok::<_, String>(
                table
                    .schema()
                    .fields()
                    .iter()
                    .map(|f| Column {
                        name: f.name().clone(),
                        data_type: f.data_type().to_string(),
                        nullable: f.is_nullable(),
                    })
                    .collect(),
            )
        };
        self.bounded(reading)
            .await?
            .map_err(DryRunError::Evaluation)
    }
}
