"""The DeFtunes DAG run by real Airflow (`dag.test()`) against the real
dqgate server, an S3 server, a pyiceberg catalog and PostgreSQL.

Days 1 and 2 pass every gate and reach serving (day 2 with deferrable
gates, which wait in the trigger); day 3 carries a price bug and stops at
the landing gate with the bad rows in quarantine; re-running day 2
evaluates nothing again; days 4 to 6 carry the other incidents and each
stops at the gate that should catch it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from conftest import require
from stack import Postgres, airflow_connection, start_dqgate, wait_for, free_port

DAYS = [datetime(2026, 1, d, tzinfo=timezone.utc) for d in range(1, 7)]
INCIDENTS = {
    "2026-01-03": "price_bug",
    "2026-01-04": "orphan_sessions",
    "2026-01-05": "late_data",
    "2026-01-06": "row_count_drop",
}
QUARANTINE = os.environ.get("DEFTUNES_TEST_NO_QUARANTINE") is None
TASKS = [
    "land",
    "gate_landing_songs",
    "gate_landing_users",
    "gate_landing_sessions",
    "transform",
    "gate_transform_users",
    "gate_transform_sessions",
    "serve",
    "gate_serving",
]


@pytest.fixture(scope="module")
def stack():
    binary = os.environ.get("DQGATE_BIN")
    require(binary and Path(binary).is_file(), "DQGATE_BIN must name a built dqgate binary")
    pg_url = os.environ.get("DQGATE_TEST_POSTGRES_URL")
    require(pg_url, "DQGATE_TEST_POSTGRES_URL must name a PostgreSQL server (.ci/postgres.sh start)")
    from moto.server import ThreadedMotoServer

    root = Path(tempfile.mkdtemp(prefix="deftunes-"))
    migrate = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{s3_port}"
    wait_for(f"{endpoint}/", "moto")
    postgres = Postgres(pg_url)
    catalog_dir = root / "catalog"
    catalog_dir.mkdir()
    server = start_dqgate(binary, root, [catalog_dir], [endpoint])
    try:
        from deftunes import config, generate, lake, register

        env = {
            "DEFTUNES_S3_ENDPOINT": endpoint,
            "DEFTUNES_BUCKET": "deftunes-lake",
            "DEFTUNES_CATALOG_URI": f"sqlite:///{catalog_dir}/catalog.db",
            "DEFTUNES_POSTGRES_URL": postgres.url,
            "DEFTUNES_START_DATE": "2026-01-01",
            "DEFTUNES_INCIDENTS": ",".join(f"{d}={i}" for d, i in INCIDENTS.items()),
        }
        os.environ.update(env)
        cfg = config.from_env()
        lake.filesystem(cfg).create_dir(cfg.bucket)
        assert generate.seed_songs(postgres.url) == generate.SONGS
        register.register(cfg, server.url, server.admin, quarantine=QUARANTINE)
        pipeline = server.token("deftunes-airflow", "pipeline")
        os.environ["AIRFLOW_CONN_DQGATE_DEFAULT"] = airflow_connection(server.url, pipeline)
        yield {"server": server, "cfg": cfg, "lake": lake}
    finally:
        server.stop()
        moto.stop()
        postgres.drop()
        print(server.log.read_text()[-4000:])


def run_day(day: datetime, deferrable: bool = False) -> dict[str, str]:
    """Runs the DAG for one logical date; returns each task's final state."""
    from deftunes_dag import build_dag

    dag = build_dag(deferrable=deferrable, poll_interval=0.5)
    dr = dag.test(logical_date=day)
    from airflow.utils.session import create_session

    with create_session() as session:
        from airflow.models.taskinstance import TaskInstance

        tis = session.query(TaskInstance).filter(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dr.run_id).all()
        return {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}


def published_days(stack) -> list[str]:
    lake, cfg = stack["lake"], stack["cfg"]
    table = pads.dataset(
        lake.serving_path(cfg, "fact_session"), filesystem=lake.filesystem(cfg), format="parquet", partitioning="hive"
    ).to_table(columns=["ingestion_date"])
    return sorted(set(str(d) for d in table.column("ingestion_date").to_pylist()))


def quarantined(stack, dataset: str, stage: str):
    lake, cfg = stack["lake"], stack["cfg"]
    s3 = lake.filesystem(cfg)
    folder = f"{cfg.bucket}/quarantine/{dataset}/{stage}"
    files = [f.path for f in s3.get_file_info(__import__("pyarrow.fs").fs.FileSelector(folder, recursive=True)) if f.path.endswith(".parquet")]
    return pads.dataset(files, filesystem=s3, format="parquet").to_table() if files else None


def gate_answer(stack, dataset: str, stage: str, day: str) -> dict:
    server = stack["server"]
    runs = [r for r in server.runs() if r["dataset"] == dataset and r["stage"] == stage and day in r["run_key"]]
    assert len(runs) == 1, runs
    with server.client() as c:
        return c.get(runs[0]["run"]).raise_for_status().json()


def test_days_one_and_two_reach_serving(stack):
    states = run_day(DAYS[0])
    assert states == {t: "success" for t in TASKS}, states
    states = run_day(DAYS[1], deferrable=True)
    assert states == {t: "success" for t in TASKS}, states
    assert published_days(stack) == ["2026-01-01", "2026-01-02"]
    served = gate_answer(stack, "serving_fact_session", "serving", "2026-01-02")
    assert served["decision"] == "pass", served
    landing = gate_answer(stack, "landing_sessions", "landing", "2026-01-02")
    assert landing["inputs"]["read"]["primary"]["slice"] == "ingestion_date >= 2026-01-02 and ingestion_date < 2026-01-03" or "2026-01-02" in str(landing["inputs"]), landing["inputs"]
