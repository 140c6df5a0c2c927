-- Reporting views for BI tools (Superset, Metabase, Grafana). Keep in step
-- with ../postgres/0005_reporting_views.sql: the same views, the same
-- columns in the same order, one grain each and no GROUP BY. A view's name
-- ends in its version (`_v1`); a change that renames, drops or retypes a
-- column ships as `_v2` next to `_v1`, so dashboards built on `_v1` keep
-- working until they move.
--
-- Timestamps: SQLite has no time type, so every timestamp is UTC text in
-- ISO 8601 form with milliseconds, `YYYY-MM-DDTHH:MM:SS.SSSZ` (one form for
-- every row, whatever form the base table holds), which sorts in time
-- order and which SQLite's date functions read. On PostgreSQL the same
-- columns are `timestamptz`.
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
    r.id AS run_id,                 -- run id (UUID text); the key of this view
    r.run_key,                      -- the caller's idempotency key
    r.dataset,                      -- registered dataset name
    r.stage,                        -- pipeline stage the run gated
    r.ruleset,                      -- ruleset name
    r.ruleset_version,              -- the ruleset version evaluated (0: a `check --store` run)
    r.status,                       -- queued, running, done, error or interrupted
    r.decision,                     -- pass, warn, fail or error; NULL while unfinished
    r.score,                        -- rules passed / rules, 0..1; NULL without rules or results
    r.passed AS rules_passed,       -- rules that passed
    r.failed AS rules_failed,       -- rules that failed
    r.errors AS rules_errored,      -- rules that could not be evaluated
    r.passed + r.failed + r.errors AS rules_total, -- rules judged (NULL while unfinished)
    strftime('%Y-%m-%dT%H:%M:%fZ', r.created_at) AS created_at,   -- when the run was requested (UTC)
    strftime('%Y-%m-%dT%H:%M:%fZ', r.started_at) AS started_at,   -- when evaluation started (UTC); NULL while queued
    strftime('%Y-%m-%dT%H:%M:%fZ', r.finished_at) AS finished_at, -- when the run ended (UTC); NULL while unfinished
    r.duration_ms,                  -- evaluation wall time in milliseconds
    r.message                       -- why the run errored, NULL otherwise
FROM runs r;

-- dq_rule_results_v1: one row per (run, top-level rule).
CREATE VIEW dq_rule_results_v1 AS
SELECT
    rr.run_id,                      -- the run (dq_runs_v1.run_id)
    rr.position AS rule_position,   -- 0-based position of the rule in the ruleset; with run_id the key
    r.dataset,                      -- the run's dataset
    r.stage,                        -- the run's stage
    r.ruleset,                      -- the run's ruleset name
    r.ruleset_version,              -- the run's ruleset version
    rr.rule AS rule_text,           -- canonical DQDL text of the rule
    CASE WHEN rr.rule LIKE '(%' THEN 'Composite'
         ELSE substr(rr.rule, 1, instr(rr.rule || ' ', ' ') - 1)
    END AS rule_type,               -- DQDL rule type (e.g. IsComplete), `Composite` for and/or rules
    rr.outcome,                     -- Passed, Failed or Error
    rr.message,                     -- what the rule reported
    rr.labels,                      -- labels as a JSON object text (DefaultLabels merged with the rule's)
    strftime('%Y-%m-%dT%H:%M:%fZ', r.created_at) AS run_created_at -- when the run was requested (UTC)
FROM rule_results rr
JOIN runs r ON r.id = rr.run_id;

-- dq_metric_points_v1: one row per (run, metric, where): every measured
-- value that history keeps.
CREATE VIEW dq_metric_points_v1 AS
SELECT
    m.run_id,                       -- the run that measured it
    m.dataset,                      -- dataset name
    m.stage,                        -- pipeline stage of the run
    m.ruleset,                      -- ruleset of the run
    m.name AS metric,               -- metric name, e.g. Dataset.*.RowCount or Column.age.Completeness
    m.where_clause,                 -- the rule's `where` filter text, '' for none
    strftime('%Y-%m-%dT%H:%M:%fZ', COALESCE(m.observed_at, m.created_at)) AS observed_at, -- the evaluation clock (UTC)
    m.value,                        -- the measured value
    m.expected,                     -- DetectAnomalies: the baseline's median; NULL when not watched or too little history
    m.lower_bound AS lower,         -- DetectAnomalies: lowest value not flagged
    m.upper_bound AS upper,         -- DetectAnomalies: highest value not flagged
    m.anomalous AS anomaly,         -- DetectAnomalies: 1 outside the band, 0 inside, NULL when not watched
    m.excluded                      -- 1 when a steward marked the value expected (it no longer trains detection), else 0
FROM metrics m;

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

-- The latest run per dataset and stage (dq_latest_v1, the console's
-- overview) is an index lookup.
CREATE INDEX runs_by_dataset_stage ON runs (dataset, stage, created_at);
