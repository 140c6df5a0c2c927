"""The DeFtunes DAG run by real Airflow (`dag.test()`) against the real
dqgate server, an S3 server, a pyiceberg catalog and PostgreSQL.

Days 1 and 2 pass every gate and reach serving (day 2 with deferrable
gates, which wait in the trigger); day 3 carries a price bug and stops at
the landing gate with the bad rows in quarantine; re-running day 2
evaluates nothing again; days 4 to 6 carry the other incidents and each
stops at the gate that should catch it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
from conftest import require
from pyarrow import fs as pafs
from stack import Postgres, airflow_connection, free_port, start_dqgate, wait_for

DAYS = [datetime(2026, 1, d, tzinfo=timezone.utc) for d in range(1, 7)]
INCIDENTS = {
    "2026-01-03": "price_bug",
    "2026-01-04": "orphan_sessions",
    "2026-01-05": "late_data",
    "2026-01-06": "row_count_drop",
}

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

    with contextlib.ExitStack() as cleanup:
        root = Path(tempfile.mkdtemp(prefix="deftunes-"))
        cleanup.callback(shutil.rmtree, root, ignore_errors=True)
        migrate = subprocess.run(
            [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        s3_port = free_port()
        moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
        moto.start()
        cleanup.callback(moto.stop)
        endpoint = f"http://127.0.0.1:{s3_port}"
        wait_for(f"{endpoint}/", "moto")
        postgres = Postgres(pg_url)
        cleanup.callback(postgres.drop)
        catalog_dir = root / "catalog"
        catalog_dir.mkdir()
        server = start_dqgate(binary, root, [catalog_dir], [endpoint])
        cleanup.callback(lambda: print(server.log.read_text()[-4000:]))
        cleanup.callback(server.stop)
        from deftunes import config, generate, lake, register

        os.environ.update(
            {
                "DEFTUNES_S3_ENDPOINT": endpoint,
                "DEFTUNES_BUCKET": "deftunes-lake",
                "DEFTUNES_CATALOG_URI": f"sqlite:///{catalog_dir}/catalog.db",
                "DEFTUNES_POSTGRES_URL": postgres.url,
                "DEFTUNES_START_DATE": "2026-01-01",
                "DEFTUNES_INCIDENTS": ",".join(f"{d}={i}" for d, i in INCIDENTS.items()),
            }
        )
        cfg = config.from_env()
        register.setup(cfg, server.url, server.admin)
        # setup is idempotent: a second run changes nothing.
        assert generate.seed_songs(postgres.url) == generate.SONGS
        register.register(cfg, server.url, server.admin)
        pipeline = server.token("deftunes-airflow", "pipeline")
        os.environ["AIRFLOW_CONN_DQGATE_DEFAULT"] = airflow_connection(server.url, pipeline)
        yield {"server": server, "cfg": cfg, "lake": lake}


def run_day(day: datetime, deferrable: bool = False) -> dict[str, str]:
    """Runs the DAG for one logical date; returns each task's final state."""
    from deftunes_dag import build_dag

    dag = build_dag(deferrable=deferrable, poll_interval=0.5)
    dr = dag.test(logical_date=day)
    from airflow.utils.session import create_session

    with create_session() as session:
        from airflow.models.taskinstance import TaskInstance

        tis = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == dr.run_id)
            .all()
        )
        return {ti.task_id: str(ti.state.value if hasattr(ti.state, "value") else ti.state) for ti in tis}


def published_days(stack) -> list[str]:
    """The ingestion dates present in the serving zone's fact table."""
    lake, cfg = stack["lake"], stack["cfg"]
    table = pads.dataset(
        lake.serving_path(cfg, "fact_session"), filesystem=lake.filesystem(cfg), format="parquet", partitioning="hive"
    ).to_table(columns=["ingestion_date"])
    return sorted({str(d) for d in table.column("ingestion_date").to_pylist()})


def landed(stack, name: str, day: str):
    """One day of a landing dataset, read straight from S3."""
    lake, cfg = stack["lake"], stack["cfg"]
    return pq.read_table(f"{lake.landing_path(cfg, name, day)}/part-0.parquet", filesystem=lake.filesystem(cfg))


def quarantined(stack, answer: dict):
    """The rows the gate run quarantined, read from where the run's inputs
    say they are (`<prefix>/<dataset>/<stage>/<run>/`)."""
    lake, cfg = stack["lake"], stack["cfg"]
    q = answer["inputs"].get("quarantine")
    assert q, f"the run recorded no quarantine: {answer['inputs']}"
    prefix = f"s3://{cfg.bucket}/quarantine/{answer['dataset']}/{answer['stage']}/"
    assert q["location"].startswith(prefix), q
    s3 = lake.filesystem(cfg)
    folder = q["location"].removeprefix("s3://").rstrip("/")
    infos = s3.get_file_info(pafs.FileSelector(folder, recursive=True))
    files = [f.path for f in infos if f.path.endswith(".parquet")]
    assert files, f"no Parquet file under {q['location']}"
    rows = pads.dataset(files, filesystem=s3, format="parquet").to_table()
    assert rows.num_rows == q["rows"], q
    return rows


def gate_answer(stack, dataset: str, stage: str, day: str) -> dict:
    """The one gate run of a dataset, stage and day, as the run API shows it."""
    server = stack["server"]
    runs = [r for r in server.runs() if r["dataset"] == dataset and r["stage"] == stage and day in r["run_key"]]
    assert len(runs) == 1, runs
    with server.client() as c:
        return c.get(runs[0]["run"]).raise_for_status().json()


def failed_rules(answer: dict) -> list[str]:
    return [r["rule"] for r in answer["rules"] if r["outcome"] == "Failed"]


def stopped_at(states: dict[str, str], gate: str) -> None:
    """The day failed at `gate`, and no task after it ran."""
    assert states[gate] == "failed", states
    after = TASKS[TASKS.index(gate) + 1 :]
    if gate.startswith("gate_landing"):
        after = TASKS[TASKS.index("transform") :]
    elif gate.startswith("gate_transform"):
        after = TASKS[TASKS.index("serve") :]
    for task in after:
        assert states[task] == "upstream_failed", (task, states)


def test_days_one_and_two_reach_serving(stack, monkeypatch):
    states = run_day(DAYS[0])
    assert states == {t: "success" for t in TASKS}, states
    # Day 2 with deferrable gates: each is accepted (202) and waits in
    # DqgateRunTrigger, which dag.test() runs in line.
    from dqgate_airflow.triggers import DqgateRunTrigger

    polled: list[str] = []
    original = DqgateRunTrigger.run

    async def counting(self):
        polled.append(self.dqgate_run_id)
        async for event in original(self):
            yield event

    monkeypatch.setattr(DqgateRunTrigger, "run", counting)
    states = run_day(DAYS[1], deferrable=True)
    assert states == {t: "success" for t in TASKS}, states
    day_two = {r["id"] for r in stack["server"].runs() if "2026-01-02" in r["run_key"]}
    assert sorted(polled) == sorted(day_two) and len(day_two) == 6, (polled, day_two)
    assert published_days(stack) == ["2026-01-01", "2026-01-02"]
    landing = gate_answer(stack, "landing_sessions", "landing", "2026-01-02")
    assert landing["decision"] == "pass", landing
    assert landing["parameters"] == {"start_date": "2026-01-02", "end_date": "2026-01-03"}
    rows = landed(stack, "sessions", "2026-01-02").num_rows
    assert landing["rules"][0]["metrics"]["Dataset.*.RowCount"] == rows, landing["rules"][0]
    transform = gate_answer(stack, "lake_sessions", "transform", "2026-01-02")
    assert transform["decision"] == "pass", transform
    assert set(transform["parameters"]) == {"snapshot_id", "since_snapshot_id"}
    # The transform gate read only the day's append, not day 1's rows.
    assert transform["rules"][0]["metrics"]["Dataset.*.RowCount"] == rows, transform["rules"][0]
    served = gate_answer(stack, "serving_fact_session", "serving", "2026-01-02")
    assert served["decision"] == "pass", served
    both = rows + landed(stack, "sessions", "2026-01-01").num_rows
    assert served["rules"][0]["metrics"]["Dataset.*.RowCount"] == both, served["rules"][0]


def test_day_three_price_bug_stops_at_landing_with_the_bad_rows_quarantined(stack):
    states = run_day(DAYS[2])
    stopped_at(states, "gate_landing_sessions")
    assert states["gate_landing_users"] == "success" and states["gate_landing_songs"] == "success", states
    answer = gate_answer(stack, "landing_sessions", "landing", "2026-01-03")
    assert answer["decision"] == "fail"
    assert 'ColumnValues "price" between 0.49 and 2.01' in failed_rules(answer), answer["rules"]
    assert published_days(stack) == ["2026-01-01", "2026-01-02"]
    bad = [p for p in landed(stack, "sessions", "2026-01-03").column("price").to_pylist() if p > 2.01]
    assert len(bad) == landed(stack, "sessions", "2026-01-03").num_rows // 20
    rows = quarantined(stack, answer)
    assert sorted(rows.column("price").to_pylist()) == sorted(bad)
    assert set(rows.column("DataQualityEvaluationResult").to_pylist()) == {"Failed"}
    assert set(rows.column("ingestion_date").to_pylist()) == {"2026-01-03"}


def test_rerunning_a_day_evaluates_nothing_again(stack):
    before = stack["server"].runs()
    states = run_day(DAYS[1])
    assert states == {t: "success" for t in TASKS}, states
    after = stack["server"].runs()
    assert len(after) == len(before), "a re-run day evaluated again"
    assert {r["id"] for r in after} == {r["id"] for r in before}
    assert published_days(stack) == ["2026-01-01", "2026-01-02"]


@pytest.mark.parametrize(
    "day, gate, dataset, stage, rules",
    [
        (
            DAYS[3],
            "gate_transform_sessions",
            "lake_sessions",
            "transform",
            [
                'ReferentialIntegrity "user_id" "users.user_id" = 1',
                'CustomSql "SELECT session_id FROM primary WHERE user_id IN (SELECT user_id FROM users)"',
            ],
        ),
        (
            DAYS[4],
            "gate_transform_sessions",
            "lake_sessions",
            "transform",
            ['CustomSql "SELECT session_id FROM primary WHERE CAST(session_start_time AS DATE) = ingestion_date"'],
        ),
        (
            DAYS[5],
            "gate_landing_sessions",
            "landing_sessions",
            "landing",
            # Days 1 to 5 are the five points of history DetectAnomalies needs.
            ["RowCount > avg(last(7)) * 0.7", 'DetectAnomalies "RowCount"'],
        ),
    ],
    ids=["orphan_sessions", "late_data", "row_count_drop"],
)
def test_each_incident_stops_at_its_gate(stack, day, gate, dataset, stage, rules):
    ds = day.date().isoformat()
    states = run_day(day)
    stopped_at(states, gate)
    answer = gate_answer(stack, dataset, stage, ds)
    assert answer["decision"] == "fail"
    assert set(rules) <= set(failed_rules(answer)), answer["rules"]
    assert ds not in published_days(stack)
    sessions = landed(stack, "sessions", ds)
    if INCIDENTS[ds] == "row_count_drop":
        usual = landed(stack, "sessions", "2026-01-02").num_rows
        assert sessions.num_rows < usual * 0.35, (sessions.num_rows, usual)
        # Only dataset-level rules failed: no row to quarantine.
        assert answer["inputs"]["quarantine"]["rows"] == 0, answer["inputs"]
        return
    rows = quarantined(stack, answer)
    if INCIDENTS[ds] == "orphan_sessions":
        known = set()
        for d in ("2026-01-01", ds):
            known |= set(landed(stack, "users", d).column("user_id").to_pylist())
        orphans = sorted(
            s
            for s, u in zip(sessions.column("session_id").to_pylist(), sessions.column("user_id").to_pylist())
            if u not in known
        )
        assert len(orphans) == sessions.num_rows * 3 // 100
        assert sorted(rows.column("session_id").to_pylist()) == orphans
    else:
        late = sorted(
            s
            for s, t in zip(
                sessions.column("session_id").to_pylist(), sessions.column("session_start_time").to_pylist()
            )
            if not t.startswith(ds)
        )
        assert len(late) == sessions.num_rows // 10
        assert sorted(rows.column("session_id").to_pylist()) == late
