-- Reporting views for BI tools (Superset, Metabase, Grafana). Keep in step
-- with ../sqlite/0005_reporting_views.sql: the same views, the same
-- columns in the same order, one grain each and no GROUP BY. A view's name
-- ends in its version (`_v1`); a change that renames, drops or retypes a
-- column ships as `_v2` next to `_v1`, so dashboards built on `_v1` keep
-- working until they move. Every view and column also carries a COMMENT,
-- which BI tools show as its description.
--
-- Timestamps are `timestamptz` (the base tables keep RFC 3339 text);
-- flags are `boolean`; labels are `jsonb`.
--
-- DetectAnomalies: what the detector saw of a metric (expected value,
-- band, anomaly) is stored from now on with the metric row itself, in the
-- columns added here, so that a view can read it without unpacking the
-- JSON observations of rule_results. Metric rows written before this
-- migration have NULL there.
ALTER TABLE metrics ADD COLUMN expected DOUBLE PRECISION;
ALTER TABLE metrics ADD COLUMN lower_bound DOUBLE PRECISION;
ALTER TABLE metrics ADD COLUMN upper_bound DOUBLE PRECISION;
ALTER TABLE metrics ADD COLUMN anomalous INTEGER;

-- dq_runs_v1: one row per gate run (also `dqgate check --store` runs).
CREATE VIEW dq_runs_v1 AS
SELECT
    r.id AS run_id,
    r.run_key,
    r.dataset,
    r.stage,
    r.ruleset,
    r.ruleset_version,
    r.status,
    r.decision,
    r.score,
    r.passed AS rules_passed,
    r.failed AS rules_failed,
    r.errors AS rules_errored,
    r.passed + r.failed + r.errors AS rules_total,
    r.created_at::timestamptz AS created_at,
    r.started_at::timestamptz AS started_at,
    r.finished_at::timestamptz AS finished_at,
    r.duration_ms,
    r.message
FROM runs r;

COMMENT ON VIEW dq_runs_v1 IS 'dqgate: one row per gate run (also dqgate check --store runs).';
COMMENT ON COLUMN dq_runs_v1.run_id IS 'Run id (UUID text); the key of this view.';
COMMENT ON COLUMN dq_runs_v1.run_key IS 'The caller''s idempotency key.';
COMMENT ON COLUMN dq_runs_v1.dataset IS 'Registered dataset name.';
COMMENT ON COLUMN dq_runs_v1.stage IS 'Pipeline stage the run gated.';
COMMENT ON COLUMN dq_runs_v1.ruleset IS 'Ruleset name.';
COMMENT ON COLUMN dq_runs_v1.ruleset_version IS 'The ruleset version evaluated (0: a dqgate check --store run).';
COMMENT ON COLUMN dq_runs_v1.status IS 'queued, running, done, error or interrupted.';
COMMENT ON COLUMN dq_runs_v1.decision IS 'pass, warn, fail or error; NULL while unfinished.';
COMMENT ON COLUMN dq_runs_v1.score IS 'Rules passed / rules, 0..1; NULL without rules or results.';
COMMENT ON COLUMN dq_runs_v1.rules_passed IS 'Rules that passed.';
COMMENT ON COLUMN dq_runs_v1.rules_failed IS 'Rules that failed.';
COMMENT ON COLUMN dq_runs_v1.rules_errored IS 'Rules that could not be evaluated.';
COMMENT ON COLUMN dq_runs_v1.rules_total IS 'Rules judged (NULL while unfinished).';
COMMENT ON COLUMN dq_runs_v1.created_at IS 'When the run was requested.';
COMMENT ON COLUMN dq_runs_v1.started_at IS 'When evaluation started; NULL while queued.';
COMMENT ON COLUMN dq_runs_v1.finished_at IS 'When the run ended; NULL while unfinished.';
COMMENT ON COLUMN dq_runs_v1.duration_ms IS 'Evaluation wall time in milliseconds.';
COMMENT ON COLUMN dq_runs_v1.message IS 'Why the run errored; NULL otherwise.';

-- dq_rule_results_v1: one row per (run, top-level rule).
CREATE VIEW dq_rule_results_v1 AS
SELECT
    rr.run_id,
    rr.position AS rule_position,
    r.dataset,
    r.stage,
    r.ruleset,
    r.ruleset_version,
    rr.rule AS rule_text,
    CASE WHEN rr.rule LIKE '(%' THEN 'Composite'
         ELSE split_part(rr.rule, ' ', 1)
    END AS rule_type,
    rr.outcome,
    rr.message,
    rr.labels::jsonb AS labels,
    r.created_at::timestamptz AS run_created_at
FROM rule_results rr
JOIN runs r ON r.id = rr.run_id;

COMMENT ON VIEW dq_rule_results_v1 IS 'dqgate: one row per (run, top-level rule).';
COMMENT ON COLUMN dq_rule_results_v1.run_id IS 'The run (dq_runs_v1.run_id).';
COMMENT ON COLUMN dq_rule_results_v1.rule_position IS '0-based position of the rule in the ruleset; with run_id the key.';
COMMENT ON COLUMN dq_rule_results_v1.dataset IS 'The run''s dataset.';
COMMENT ON COLUMN dq_rule_results_v1.stage IS 'The run''s stage.';
COMMENT ON COLUMN dq_rule_results_v1.ruleset IS 'The run''s ruleset name.';
COMMENT ON COLUMN dq_rule_results_v1.ruleset_version IS 'The run''s ruleset version.';
COMMENT ON COLUMN dq_rule_results_v1.rule_text IS 'Canonical DQDL text of the rule.';
COMMENT ON COLUMN dq_rule_results_v1.rule_type IS 'DQDL rule type (e.g. IsComplete); Composite for and/or rules.';
COMMENT ON COLUMN dq_rule_results_v1.outcome IS 'Passed, Failed or Error.';
COMMENT ON COLUMN dq_rule_results_v1.message IS 'What the rule reported.';
COMMENT ON COLUMN dq_rule_results_v1.labels IS 'Labels (DefaultLabels merged with the rule''s own), a JSON object.';
COMMENT ON COLUMN dq_rule_results_v1.run_created_at IS 'When the run was requested.';

-- dq_metric_points_v1: one row per (run, metric, where): every measured
-- value that history keeps.
CREATE VIEW dq_metric_points_v1 AS
SELECT
    m.run_id,
    m.dataset,
    m.stage,
    m.ruleset,
    m.name AS metric,
    m.where_clause,
    COALESCE(m.observed_at, m.created_at)::timestamptz AS observed_at,
    m.value,
    m.expected,
    m.lower_bound AS lower,
    m.upper_bound AS upper,
    (m.anomalous <> 0) AS anomaly,
    (m.excluded <> 0) AS excluded
FROM metrics m;

COMMENT ON VIEW dq_metric_points_v1 IS 'dqgate: one row per (run, metric, where): every measured value that history keeps.';
COMMENT ON COLUMN dq_metric_points_v1.run_id IS 'The run that measured it.';
COMMENT ON COLUMN dq_metric_points_v1.dataset IS 'Dataset name.';
COMMENT ON COLUMN dq_metric_points_v1.stage IS 'Pipeline stage of the run.';
COMMENT ON COLUMN dq_metric_points_v1.ruleset IS 'Ruleset of the run.';
COMMENT ON COLUMN dq_metric_points_v1.metric IS 'Metric name, e.g. Dataset.*.RowCount or Column.age.Completeness.';
COMMENT ON COLUMN dq_metric_points_v1.where_clause IS 'The rule''s where filter text; empty for none.';
COMMENT ON COLUMN dq_metric_points_v1.observed_at IS 'The evaluation clock the value was measured at.';
COMMENT ON COLUMN dq_metric_points_v1.value IS 'The measured value.';
COMMENT ON COLUMN dq_metric_points_v1.expected IS 'DetectAnomalies: the baseline median; NULL when not watched or too little history.';
COMMENT ON COLUMN dq_metric_points_v1.lower IS 'DetectAnomalies: lowest value not flagged.';
COMMENT ON COLUMN dq_metric_points_v1.upper IS 'DetectAnomalies: highest value not flagged.';
COMMENT ON COLUMN dq_metric_points_v1.anomaly IS 'DetectAnomalies: true outside the band; NULL when not watched.';
COMMENT ON COLUMN dq_metric_points_v1.excluded IS 'True when a steward marked the value expected (it no longer trains detection).';

-- dq_latest_v1: one row per (dataset, stage): its latest finished run
-- (done, error or interrupted; a run still queued or running does not hide
-- the last decision). Same columns as dq_runs_v1.
CREATE VIEW dq_latest_v1 AS
SELECT v.*
FROM dq_runs_v1 v
JOIN runs r ON r.id = v.run_id
WHERE r.status NOT IN ('queued', 'running')
  -- no finished run of the same dataset and stage was created later ...
  AND NOT EXISTS (
    SELECT 1 FROM runs n
    WHERE n.dataset = r.dataset AND n.stage = r.stage
      AND n.created_at > r.created_at
      AND n.status NOT IN ('queued', 'running'))
  -- ... nor at the same instant with a larger id (ties broken by id).
  AND NOT EXISTS (
    SELECT 1 FROM runs n
    WHERE n.dataset = r.dataset AND n.stage = r.stage
      AND n.created_at = r.created_at AND n.id > r.id
      AND n.status NOT IN ('queued', 'running'));

COMMENT ON VIEW dq_latest_v1 IS 'dqgate: one row per (dataset, stage): its latest finished run; the columns of dq_runs_v1.';

-- The latest run per dataset and stage (dq_latest_v1, the console's
-- overview) is an index lookup.
CREATE INDEX runs_by_dataset_stage ON runs (dataset, stage, created_at);
