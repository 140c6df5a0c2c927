"""The DeFtunes daily pipeline: deterministic sources, an S3 landing zone,
Iceberg transform tables and a DuckDB-built star schema, gated by dqgate."""
