-- Failing rows kept by gate runs (keep in step with
-- ../postgres/0006_failed_row_samples.sql): for each row-level rule whose
-- top-level rule failed, up to the dataset's `failed_rows_sample` rows
-- (default 20), written in the transaction that finishes the run and
-- deleted with it. A row is stored once per rule it is a sample of.
CREATE TABLE failed_row_samples (
    run_id        TEXT NOT NULL REFERENCES runs(id),
    sample        INTEGER NOT NULL,  -- which sample of the run (0, 1, ...), in rule order
    row_index     INTEGER NOT NULL,  -- the row's place in its sample, in reading order
    rule_position INTEGER NOT NULL,  -- position of the top-level rule
    rule          TEXT NOT NULL,     -- the row-level rule's canonical text
    columns       TEXT NOT NULL,     -- JSON array: the dataset's column names
    row_values    TEXT NOT NULL,     -- JSON array: one text (or null) per column
    failed_rules  TEXT NOT NULL,     -- JSON array: every row-level rule the row failed
    PRIMARY KEY (run_id, sample, row_index)
);
