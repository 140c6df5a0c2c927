-- History for dynamic rules and DetectAnomalies: a metric series is
-- (dataset, name, where_clause); observed_at is the evaluation clock
-- (its weekday drives seasonal baselines); excluded marks values a steward
-- declared expected, which no longer train anomaly detection.
ALTER TABLE metrics ADD COLUMN where_clause TEXT NOT NULL DEFAULT '';
ALTER TABLE metrics ADD COLUMN observed_at TEXT;
ALTER TABLE metrics ADD COLUMN excluded INTEGER NOT NULL DEFAULT 0;
ALTER TABLE rule_results ADD COLUMN observations TEXT;
CREATE INDEX metrics_series ON metrics (dataset, name, where_clause, observed_at);
