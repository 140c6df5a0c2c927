"""The DeFtunes daily pipeline as an Airflow DAG, with a dqgate gate after
every stage:

    land ─▶ gate landing (songs, users, sessions; the day's slice)
         ─▶ transform (Iceberg) ─▶ gate transform (users, sessions; the day's snapshot)
         ─▶ serve (DuckDB star schema + BI views) ─▶ gate serving

A `fail` stops the day where it is caught: nothing after that gate runs,
so nothing of that day reaches serving. Configuration is read from
`DEFTUNES_*` variables when a task runs (see README.md).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task
from dqgate_airflow.operators import DqgateGateOperator

#: The day's landing slice: ingestion_date in [ds, ds + 1).
DAY_SLICE = {"start_date": "{{ ds }}", "end_date": "{{ macros.ds_add(ds, 1) }}"}


def snapshot_of(table: str) -> str:
    """Template of the gate parameters selecting the day's Iceberg snapshot
    of `table`, as `transform` returned them."""
    return "{{ ti.xcom_pull(task_ids='transform')['" + table + "'] }}"


def build_dag(dag_id: str = "deftunes_daily", deferrable: bool = False, poll_interval: float = 10) -> DAG:
    """The DAG; `deferrable` makes every gate wait in the triggerer."""
    gate_args = {"deferrable": deferrable, "poll_interval": poll_interval, "timeout": 1800}
    with DAG(
        dag_id=dag_id,
        schedule="@daily",
        start_date=datetime(2026, 1, 1, tzinfo=UTC),
        catchup=False,
        render_template_as_native_obj=True,
        default_args={"retries": 2, "retry_delay": timedelta(seconds=5)},
        tags=["deftunes", "dqgate"],
    ) as dag:

        @task
        def land(ds: str | None = None) -> dict:
            """Sources → S3 landing zone (Parquet, ingestion_date=ds)."""
            from deftunes import config, lake

            return lake.land(config.from_env(), ds)

        @task
        def transform(ds: str | None = None) -> dict:
            """Landing → Iceberg; returns the day's snapshot per table."""
            from deftunes import config, lake

            return lake.transform(config.from_env(), ds)

        @task
        def serve(ds: str | None = None, ti=None) -> dict:
            """Iceberg → star schema and BI views (DuckDB) in the serving zone."""
            from deftunes import config, lake

            return lake.serve(config.from_env(), ds, ti.xcom_pull(task_ids="transform"))

        landing_gates = [
            DqgateGateOperator(
                task_id=f"gate_landing_{name}",
                dataset=f"landing_{name}",
                ruleset=f"deftunes-landing-{name}",
                stage="landing",
                parameters=DAY_SLICE,
                **gate_args,
            )
            for name in ("songs", "users", "sessions")
        ]
        transform_gates = [
            DqgateGateOperator(
                task_id="gate_transform_users",
                dataset="lake_users",
                ruleset="deftunes-transform-users",
                stage="transform",
                parameters=snapshot_of("users"),
                **gate_args,
            ),
            DqgateGateOperator(
                task_id="gate_transform_sessions",
                dataset="lake_sessions",
                ruleset="deftunes-transform-sessions",
                stage="transform",
                parameters=snapshot_of("sessions"),
                aliases={"users": "lake_users"},
                **gate_args,
            ),
        ]
        gate_serving = DqgateGateOperator(
            task_id="gate_serving",
            dataset="serving_fact_session",
            ruleset="deftunes-serving",
            stage="serving",
            aliases={
                name: f"serving_{name}"
                for name in (
                    "dim_users",
                    "dim_songs",
                    "dim_artists",
                    "sales_by_artist_year",
                    "sales_by_country",
                    "user_activity",
                    "music_preferences",
                )
            },
            **gate_args,
        )
        served = serve()
        transformed = transform()
        land() >> landing_gates
        landing_gates >> transformed >> transform_gates
        transform_gates >> served >> gate_serving
    return dag


dag = build_dag()
