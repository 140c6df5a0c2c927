-- What each gate run was asked for (JSON: dataset, ruleset, stage,
-- parameters, aliases), so a reused run_id with a different request is
-- refused instead of answered with another run's decision. NULL for runs
-- stored before this migration.
ALTER TABLE runs ADD COLUMN request TEXT;
