//! One evaluation end to end: parse, register datasets, plan, scan, judge,
//! report; optionally stream the rows that fail row-level rules
//! (`failed_rows.rs`).

mod failed_rows;

pub use failed_rows::MAX_FLAGGED_RULES;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;
use tracing::Instrument;

use crate::dqdl::{self, DqdlError, Ruleset};
use crate::engine::{self, Scan};
use crate::history::anomaly::Observation;
use crate::history::{History, HistorySource, SeriesKey};
use crate::judge::{self, Judged};
use crate::plan::{self, PRIMARY, Plan, PlanContext};
use crate::report::{Report, RuleResult, SeriesValue};
use crate::source::{self, DatasetSpec, SourceError};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The ruleset's name, for the report.
    pub ruleset_name: String,
    /// The DQDL text.
    pub ruleset_text: String,
    /// Datasets; the one aliased `primary` is checked.
    pub datasets: Vec<DatasetSpec>,
    /// The clock for `now()` and DataFreshness; the current time if `None`.
    pub now: Option<DateTime<Utc>>,
    /// Most memory the evaluation may hold, in bytes (sorts and group-bys
    /// spill to disk first); unlimited if `None`.
    pub memory_limit: Option<usize>,
    /// Where the scans run (this process by default).
    pub engine: engine::Engine,
}

/// Why a check could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The ruleset is invalid.
    #[error("invalid ruleset:\n{0}")]
    Ruleset(#[from] DqdlError),
    /// No primary dataset was given.
    #[error("no primary dataset: pass --data PATH (or primary=PATH)")]
    NoPrimary,
    /// The primary dataset cannot be read.
    #[error(transparent)]
    Primary(SourceError),
    /// The DataFusion runtime could not be built.
    #[error("cannot set up the query engine: {0}")]
    Engine(String),
    /// The history source (the results store) could not provide the history.
    #[error("cannot read metric history: {0}")]
    History(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The failing rows could not be sampled.
    #[error("cannot sample the failing rows: {0}")]
    Samples(String),
    /// Writing the failed rows failed.
    #[error("cannot write failed rows to {path}: {message}")]
    FailedRows {
        /// Output path.
        path: String,
        /// Why.
        message: String,
    },
}

/// A prepared evaluation: datasets registered, rules planned.
pub struct Prepared {
    ctx: SessionContext,
    ruleset: Ruleset,
    plan: Plan,
    sources: BTreeMap<String, source::Registered>,
    request: CheckRequest,
    started_at: DateTime<Utc>,
    started: Instant,
}

/// A DataFusion session for evaluations on `engine` (see
/// [`engine::session_on`]).
pub fn session(
    memory_limit: Option<usize>,
    engine: &engine::Engine,
) -> Result<SessionContext, CheckError> {
    engine::session_on(memory_limit, engine).map_err(|e| CheckError::Engine(engine::clean(&e)))
}

/// Parses, registers and plans; fails only when nothing can be evaluated.
pub async fn prepare(request: CheckRequest) -> Result<Prepared, CheckError> {
    let started = Instant::now();
    let started_at = Utc::now();
    let ruleset = dqdl::parse(&request.ruleset_text)?;
    if !request.datasets.iter().any(|d| d.alias == PRIMARY) {
        return Err(CheckError::NoPrimary);
    }
    let ctx = session(request.memory_limit, &request.engine)?;
    let mut schemas = HashMap::new();
    let mut unavailable = HashMap::new();
    let mut sources = BTreeMap::new();
    for spec in &request.datasets {
        match source::register(&ctx, spec).await {
            Ok(registered) => {
                sources.insert(spec.alias.clone(), registered);
                let table = ctx.table(spec.alias.as_str()).await;
                match table {
                    Ok(df) => {
                        schemas
                            .insert(spec.alias.clone(), Arc::new(df.schema().as_arrow().clone()));
                    }
                    Err(e) => {
                        unavailable.insert(spec.alias.clone(), engine::clean(&e));
                    }
                }
            }
            Err(e) if spec.alias == PRIMARY => return Err(CheckError::Primary(e)),
            Err(e) => {
                unavailable.insert(spec.alias.clone(), e.to_string());
            }
        }
    }
    let now = request.now.unwrap_or(started_at);
    // File* rules: list (and hash) their files before planning.
    let primary = request.datasets.iter().find(|d| d.alias == PRIMARY);
    let primary_files = primary
        .filter(|d| {
            d.format != Some(source::Format::Iceberg) && !d.location.starts_with("iceberg:")
        })
        .filter(|d| !d.location.contains(['*', '?', '[']))
        .map(|d| d.location.as_str());
    let requests = plan::files::file_requests(&ruleset, primary_files);
    let facts = if requests.is_empty() {
        source::files::FileFacts::default()
    } else {
        source::files::gather(&ctx, &requests, primary).await
    };
    let parser = engine::SessionParser::new(&ctx, &schemas);
    let plan = plan::plan_ruleset(
        &ruleset,
        &PlanContext {
            schemas: &schemas,
            unavailable: &unavailable,
            now,
            files: plan::files::FileScope {
                facts: &facts,
                primary: primary_files,
            },
            parser: &parser,
            composite_mode: primary
                .and_then(|d| d.options.composite_mode)
                .or_else(|| ruleset.composite_mode())
                .unwrap_or_default(),
            hash_wide_keys: !request.engine.is_distributed(),
        },
    );
    Ok(Prepared {
        ctx,
        ruleset,
        plan,
        sources,
        request,
        started_at,
        started,
    })
}

impl Prepared {
    /// The scans evaluation will run (for `--explain`).
    pub fn scans(&self) -> Vec<Scan> {
        engine::scans(&self.plan)
    }

    /// What evaluation will read and run, for a person: each source, then
    /// each scan as SQL with the rules it serves (`--explain`).
    pub fn explain(&self) -> String {
        let mut out = String::new();
        if self.request.engine.is_distributed() {
            out.push_str(&format!(
                "engine: {} (Apache DataFusion Ballista; frequencies tallied on the cluster)\n",
                self.request.engine
            ));
        }
        for (alias, read) in &self.sources {
            let format = read
                .format
                .map(|f| format!("{f:?}").to_lowercase())
                .unwrap_or_default();
            out.push_str(&format!("read `{alias}`: {format}"));
            if let Some(id) = read.snapshot_id {
                out.push_str(&format!(", snapshot {id}"));
            }
            if let Some(slice) = &read.slice {
                out.push_str(&format!(", slice {slice}"));
            }
            out.push('\n');
        }
        let leaves = self.leaf_texts();
        for (i, scan) in self.scans().iter().enumerate() {
            out.push_str(&format!(
                "scan {} — {} over `{}`\n  sql: {}\n",
                i + 1,
                scan.kind,
                scan.dataset,
                scan.sql
            ));
            let mut served: Vec<usize> = scan
                .queries
                .iter()
                .flat_map(|q| self.query_users(*q).iter().copied())
                .collect();
            served.sort_unstable();
            served.dedup();
            for leaf in served {
                out.push_str(&format!("  serves: {}\n", leaves[leaf]));
            }
        }
        out
    }

    /// The leaf rules (indices into [`Prepared::leaf_texts`]) a query serves.
    pub fn query_users(&self, query: usize) -> &[usize] {
        self.plan.users.get(query).map_or(&[], Vec::as_slice)
    }

    /// The canonical text of every leaf rule, in plan order.
    pub fn leaf_texts(&self) -> Vec<String> {
        self.leaves()
            .map(|(_, r)| dqdl::format::rule_text(r))
            .collect()
    }

    fn leaves(&self) -> impl Iterator<Item = (usize, &dqdl::Rule)> {
        self.ruleset
            .rules
            .iter()
            .flatten()
            .enumerate()
            .flat_map(|(top, t)| t.expr.leaves().into_iter().map(move |l| (top, l)))
    }

    /// What was registered per alias: format, snapshot, slice.
    pub fn sources(&self) -> &BTreeMap<String, source::Registered> {
        &self.sources
    }

    /// The evaluation clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.request.now.unwrap_or(self.started_at)
    }

    /// The history series that dynamic rules and DetectAnomalies read; load
    /// them from a store and pass them to [`Prepared::evaluate`].
    pub fn history_keys(&self) -> Vec<SeriesKey> {
        let mut keys: Vec<SeriesKey> = self
            .plan
            .leaves
            .iter()
            .flat_map(judge::history_keys)
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// Runs the scans and judges every rule against `history`.
    pub async fn evaluate(&self, history: &History) -> Report {
        let results = engine::execute(&self.ctx, &self.plan)
            .instrument(tracing::info_span!(
                "scan",
                queries = self.plan.queries.len()
            ))
            .await;
        let judge_span = tracing::info_span!("judge", rules = self.plan.leaves.len());
        let _judging = judge_span.enter();
        let ctx = judge::Context {
            history,
            now: self.now(),
        };
        let leaf_results: Vec<Judged> = self
            .plan
            .leaves
            .iter()
            .map(|l| judge::judge_leaf(l, &results, &ctx))
            .collect();
        let mut leaves = leaf_results.into_iter();
        let default_labels: BTreeMap<String, String> = self
            .ruleset
            .default_labels
            .iter()
            .map(|l| (l.key.clone(), l.value.clone()))
            .collect();
        let mut rules = Vec::new();
        let mut series: Vec<SeriesValue> = Vec::new();
        let mut seen: HashSet<SeriesKey> = HashSet::new();
        let mut add_series = |key: SeriesKey, value: f64, rule: Option<usize>| {
            if seen.insert(key.clone()) {
                series.push(SeriesValue {
                    key,
                    value,
                    rule,
                    observation: None,
                });
            }
        };
        // DetectAnomalies observations by the series they watched (a
        // rule's observation of metric M is of its own series (M, where)).
        let mut observed: Vec<(SeriesKey, Observation)> = Vec::new();
        for (position, top) in self.ruleset.rules.iter().flatten().enumerate() {
            let judged = match self
                .plan
                .row_composites
                .get(position)
                .and_then(Option::as_ref)
            {
                Some(row_plan) => {
                    // ROW mode: the composite is one row-level rule; its
                    // leaves' own results are not combined.
                    for _ in top.expr.leaves() {
                        leaves.next();
                    }
                    judge::judge_leaf(row_plan, &results, &ctx)
                }
                None => judge::combine(&top.expr, &mut leaves),
            };
            for (key, value) in judged.series {
                if let Some(o) = judged.observations.iter().find(|o| o.metric == key.metric) {
                    observed.push((key.clone(), o.clone()));
                }
                add_series(key, value, Some(position));
            }
            let mut labels = default_labels.clone();
            let own = match &top.expr {
                dqdl::RuleExpr::Rule(r) => &r.labels,
                dqdl::RuleExpr::Composite(c) => &c.labels,
            };
            labels.extend(own.iter().map(|l| (l.key.clone(), l.value.clone())));
            rules.push(RuleResult {
                rule: dqdl::format::rule_expr_text(&top.expr),
                outcome: judged.outcome,
                message: judged.message,
                metrics: judged.metrics.into_iter().collect(),
                labels,
                observations: judged.observations,
            });
        }
        let mut analyzers = BTreeMap::new();
        for a in &self.plan.analyzers {
            let judged = judge::judge_leaf(a, &results, &ctx);
            for (key, value) in judged.series {
                add_series(key, value, None);
            }
            analyzers.extend(judged.metrics);
        }
        // CSV rows read as NULLs (`malformed_rows = "count"`), per dataset.
        for (alias, read) in &self.sources {
            if let Some(count) = read.malformed_rows {
                let dataset = if alias == PRIMARY {
                    "*"
                } else {
                    alias.as_str()
                };
                let name = format!("Dataset.{dataset}.MalformedRows");
                add_series(SeriesKey::new(&name, None), count as f64, None);
                analyzers.insert(name, count as f64);
            }
        }
        for s in &mut series {
            if let Some((_, o)) = observed.iter().find(|(k, _)| *k == s.key) {
                s.observation = Some(o.clone());
            }
        }
        let count = |o| rules.iter().filter(|r| r.outcome == o).count();
        let (passed, failed, errors) = (
            count(plan::Outcome::Passed),
            count(plan::Outcome::Failed),
            count(plan::Outcome::Error),
        );
        Report {
            dataset: self
                .request
                .datasets
                .iter()
                .find(|d| d.alias == PRIMARY)
                .map(|d| d.location.clone())
                .unwrap_or_default(),
            ruleset: self.request.ruleset_name.clone(),
            score: (!rules.is_empty()).then(|| passed as f64 / rules.len() as f64),
            passed,
            failed,
            errors,
            started_at: self.started_at.to_rfc3339(),
            duration_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            rules,
            analyzers,
            sources: self.sources.clone(),
            series,
        }
    }
}

/// The rules an evaluation plans: every leaf of every rule (a composite's
/// operands count one by one) and every analyzer.
pub fn rule_count(ruleset: &Ruleset) -> usize {
    let leaves: usize = ruleset
        .rules
        .iter()
        .flatten()
        .map(|t| t.expr.leaves().len())
        .sum();
    leaves + ruleset.analyzers.iter().flatten().count()
}

/// Whose history a run reads: the dataset's series, optionally only those
/// recorded for one pipeline stage.
#[derive(Debug, Clone, Copy)]
pub struct HistoryScope<'a> {
    /// The dataset name runs are recorded under.
    pub dataset: &'a str,
    /// Only this stage's values, when given.
    pub stage: Option<&'a str>,
}

/// How many past values per series are loaded.
pub const HISTORY_LIMIT: i64 = 1000;

/// Prepares, loads the history that dynamic rules and DetectAnomalies need
/// from `source`, and evaluates.
pub async fn run_with_history(
    request: CheckRequest,
    source: &impl HistorySource,
    scope: HistoryScope<'_>,
) -> Result<Report, CheckError> {
    let prepared = prepare(request).await?;
    let history = prepared.load_history(source, scope).await?;
    Ok(prepared.evaluate(&history).await)
}

impl Prepared {
    /// Loads the series [`Prepared::history_keys`] names from `source`.
    pub async fn load_history(
        &self,
        source: &impl HistorySource,
        scope: HistoryScope<'_>,
    ) -> Result<History, CheckError> {
        let keys = self.history_keys();
        source
            .load_history(scope.dataset, scope.stage, &keys, HISTORY_LIMIT)
            .await
            .map_err(|e| CheckError::History(Box::new(e)))
    }
}

/// Prepares and evaluates in one call, without a store.
pub async fn run(request: CheckRequest) -> Result<Report, CheckError> {
    Ok(prepare(request)
        .await?
        .evaluate(&History::unavailable())
        .await)
}
