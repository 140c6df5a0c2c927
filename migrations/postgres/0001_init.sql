-- dqgate store, PostgreSQL flavour. Keep in step with ../sqlite/0001_init.sql.
-- Timestamps are RFC 3339 UTC text; JSON documents are text.

CREATE TABLE rulesets (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    deleted_at  TEXT
);

CREATE TABLE ruleset_versions (
    name        TEXT NOT NULL REFERENCES rulesets(name),
    version     BIGINT NOT NULL,
    dqdl        TEXT NOT NULL,
    comment     TEXT,
    author      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE datasets (
    name        TEXT PRIMARY KEY,
    format      TEXT NOT NULL,
    location    TEXT NOT NULL,
    options     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    run_key         TEXT NOT NULL UNIQUE,
    dataset         TEXT NOT NULL,
    ruleset         TEXT NOT NULL,
    ruleset_version BIGINT NOT NULL,
    stage           TEXT NOT NULL,
    parameters      TEXT NOT NULL,
    inputs          TEXT NOT NULL,
    status          TEXT NOT NULL,
    decision        TEXT,
    score           DOUBLE PRECISION,
    passed          BIGINT,
    failed          BIGINT,
    errors          BIGINT,
    message         TEXT,
    created_at      TEXT NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    duration_ms     BIGINT
);
CREATE INDEX runs_by_dataset ON runs (dataset, created_at);
CREATE INDEX runs_by_stage ON runs (stage, created_at);

CREATE TABLE rule_results (
    run_id      TEXT NOT NULL REFERENCES runs(id),
    position    BIGINT NOT NULL,
    rule        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    message     TEXT NOT NULL,
    labels      TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);

CREATE TABLE metrics (
    run_id      TEXT NOT NULL REFERENCES runs(id),
    dataset     TEXT NOT NULL,
    ruleset     TEXT NOT NULL,
    stage       TEXT NOT NULL,
    name        TEXT NOT NULL,
    value       DOUBLE PRECISION NOT NULL,
    position    BIGINT,
    created_at  TEXT NOT NULL
);
CREATE INDEX metrics_history ON metrics (dataset, name, created_at);
CREATE INDEX metrics_by_run ON metrics (run_id);

CREATE TABLE tokens (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL
);
