"""The operator, trigger, sensor and hook against a scripted server on
loopback: templating, XCom, deferral, polling and the trigger's
serialize() round trip."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone
from importlib.metadata import entry_points

import pytest
from airflow.sdk import DAG, macros
from airflow.sdk.exceptions import AirflowException, AirflowFailException, TaskDeferred
from fake_dqgate import FakeDqgate, run_view

from dqgate_airflow import get_provider_info
from dqgate_airflow.hooks import DqgateError, DqgateHook
from dqgate_airflow.operators import ANSWER_KEY, DqgateGateOperator
from dqgate_airflow.sensors import DqgateRunSensor
from dqgate_airflow.triggers import DqgateRunTrigger

DAY = datetime(2026, 1, 3, tzinfo=timezone.utc)


class FakeTI:
    """What the operator uses of a task instance: XCom."""

    def __init__(self, pulled=None):
        self.pushed: dict = {}
        self.pulled = pulled

    def xcom_push(self, key, value):
        self.pushed[key] = value

    def xcom_pull(self, task_ids=None, key="return_value"):
        return self.pulled


def context(ti: FakeTI | None = None) -> dict:
    return {"ds": "2026-01-03", "logical_date": DAY, "macros": macros, "ti": ti or FakeTI(), "run_id": "manual__x"}


@pytest.fixture
def connection(monkeypatch):
    def use(url: str, token: str = "s3cret"):
        monkeypatch.setenv(
            "AIRFLOW_CONN_DQGATE_DEFAULT", json.dumps({"conn_type": "dqgate", "host": url, "password": token})
        )

    return use


def gate_op(**kw) -> DqgateGateOperator:
    with DAG("deftunes", schedule=None, start_date=DAY, render_template_as_native_obj=True):
        return DqgateGateOperator(task_id="gate_landing", dataset="sessions", ruleset="rs", stage="landing", **kw)


def test_parameters_and_run_id_are_templated_into_native_values():
    op = gate_op(
        parameters={
            "start_date": "{{ ds }}",
            "end_date": "{{ macros.ds_add(ds, 1) }}",
            "snapshot": "{{ ti.xcom_pull(task_ids='t') }}",
        },
        run_id="{{ dag.dag_id }}-{{ ds }}",
    )
    ctx = {**context(FakeTI(pulled=42)), "dag": op.dag}
    op.render_template_fields(ctx)
    assert op.parameters == {"start_date": "2026-01-03", "end_date": "2026-01-04", "snapshot": 42}
    assert op.gate_run_id(ctx) == "deftunes-2026-01-03"


def test_a_whole_parameters_template_renders_to_a_dict():
    op = gate_op(parameters="{{ ti.xcom_pull(task_ids='transform') }}")
    ctx = {**context(FakeTI(pulled={"snapshot_id": 7, "since_snapshot_id": 6})), "dag": op.dag}
    op.render_template_fields(ctx)
    assert op.parameters == {"snapshot_id": 7, "since_snapshot_id": 6}


def test_the_default_run_id_is_the_same_for_every_try():
    op = gate_op()
    assert op.gate_run_id(context()) == "deftunes.gate_landing.2026-01-03T00:00:00+00:00"
    assert op.gate_run_id(context()) == op.gate_run_id(context())


def test_a_decided_gate_goes_to_xcom_and_maps_to_the_task(connection):
    script = {"POST /v1/gate": [(200, run_view("pass")), (200, run_view("fail"))]}
    with FakeDqgate(script) as fake:
        connection(fake.url)
        ti = FakeTI()
        assert gate_op(parameters={"start_date": "2026-01-03"}).execute(context(ti))["decision"] == "pass"
        assert ti.pushed[ANSWER_KEY]["decision"] == "pass"
        _, _, body, headers = fake.requests[0]
        assert body == {
            "dataset": "sessions",
            "ruleset": "rs",
            "stage": "landing",
            "run_id": "deftunes.gate_landing.2026-01-03T00:00:00+00:00",
            "parameters": {"start_date": "2026-01-03"},
            "aliases": {},
            "wait": True,
        }
        assert headers["Authorization"] == "Bearer s3cret"
        ti = FakeTI()
        with pytest.raises(AirflowFailException):
            gate_op().execute(context(ti))
        # The answer is in XCom even though the task failed, for a branch to route on.
        assert ti.pushed[ANSWER_KEY]["decision"] == "fail"


def test_deferrable_sends_no_wait_and_defers_to_the_trigger(connection):
    script = {"POST /v1/gate": [(202, run_view(None, status="queued", id="r-9"))]}
    with FakeDqgate(script) as fake:
        connection(fake.url)
        with pytest.raises(TaskDeferred) as deferred:
            gate_op(deferrable=True, poll_interval=3, timeout=60).execute(context())
        assert fake.requests[0][2]["wait"] is False
    trigger = deferred.value.trigger
    assert isinstance(trigger, DqgateRunTrigger)
    assert trigger.serialize() == (
        "dqgate_airflow.triggers.DqgateRunTrigger",
        {"dqgate_run_id": "r-9", "dqgate_conn_id": "dqgate_default", "poll_interval": 3, "timeout": 60},
    )
    assert deferred.value.method_name == "execute_complete"


def test_execute_complete_maps_the_trigger_event():
    op = gate_op()
    ti = FakeTI()
    assert op.execute_complete(context(ti), {"status": "done", "run": run_view("warn")})["decision"] == "warn"
    assert ti.pushed[ANSWER_KEY]["decision"] == "warn"
    with pytest.raises(AirflowException, match="did not finish"):
        op.execute_complete(context(), {"status": "error", "message": "dqgate run r-1 did not finish within 5 s"})


def test_without_deferral_an_accepted_run_is_polled(connection):
    script = {
        "POST /v1/gate": [(202, run_view(None, status="running"))],
        "GET /v1/runs/r-1": [(200, run_view(None, status="running")), (200, run_view("pass"))],
    }
    with FakeDqgate(script) as fake:
        connection(fake.url)
        assert gate_op(poll_interval=0.05).execute(context())["decision"] == "pass"
        assert [p for _, p, _, _ in fake.requests] == ["/v1/gate", "/v1/runs/r-1", "/v1/runs/r-1"]


def test_busy_server_is_retried_with_the_same_run_id(connection):
    busy = (503, {"code": "store_unavailable", "detail": "retry"})
    script = {"POST /v1/gate": [busy, (429, {"code": "queue_full", "detail": "full"}), (200, run_view("pass"))]}
    with FakeDqgate(script) as fake:
        connection(fake.url)
        assert gate_op().execute(context())["decision"] == "pass"
        ids = {r[2]["run_id"] for r in fake.requests}
        assert len(fake.requests) == 3 and len(ids) == 1


def test_a_refusal_is_an_error_with_the_problem_detail(connection):
    script = {"POST /v1/gate": [(404, {"code": "dataset_not_found", "detail": "no dataset `sessions`"})]}
    with FakeDqgate(script) as fake:
        connection(fake.url)
        with pytest.raises(DqgateError, match="404 dataset_not_found: no dataset `sessions`") as e:
            gate_op().execute(context())
        assert type(e.value).__mro__[1] is AirflowException


def test_a_gate_call_with_no_answer_in_time_is_not_repeated(connection):
    script = {"POST /v1/gate": [(200, run_view("pass"), 1.0)] * 3}
    with FakeDqgate(script) as fake:
        connection(fake.url)
        with pytest.raises(DqgateError, match="no answer within 0.2 s"):
            DqgateHook(request_timeout=0.2).gate("sessions", "rs", "landing", "k")
        assert len(fake.requests) == 1


def test_trigger_serialize_round_trip():
    trigger = DqgateRunTrigger(dqgate_run_id="r-1", dqgate_conn_id="other", poll_interval=2.5, timeout=99)
    path, kwargs = trigger.serialize()
    module, _, name = path.rpartition(".")
    rebuilt = getattr(__import__(module, fromlist=[name]), name)(**kwargs)
    assert rebuilt.serialize() == (path, kwargs)
    assert "password" not in json.dumps(kwargs) and "s3cret" not in json.dumps(kwargs)


async def _first_event(trigger: DqgateRunTrigger):
    async for event in trigger.run():
        return event.payload


def test_trigger_polls_until_the_run_is_finished(connection):
    script = {
        "GET /v1/runs/r-1": [
            (200, run_view(None, status="queued")),
            (200, run_view(None, status="running")),
            (200, run_view("fail")),
        ]
    }
    with FakeDqgate(script) as fake:
        connection(fake.url)
        event = asyncio.run(_first_event(DqgateRunTrigger(dqgate_run_id="r-1", poll_interval=0.05, timeout=30)))
        assert event["status"] == "done" and event["run"]["decision"] == "fail"
        assert len(fake.requests) == 3


def test_trigger_reports_a_timeout_and_a_refusal(connection):
    script = {"GET /v1/runs/r-1": [(200, run_view(None, status="running"))] * 50}
    with FakeDqgate(script) as fake:
        connection(fake.url)
        event = asyncio.run(_first_event(DqgateRunTrigger(dqgate_run_id="r-1", poll_interval=0.05, timeout=0.2)))
        assert event["status"] == "error" and "did not finish within 0.2 s" in event["message"]
        event = asyncio.run(_first_event(DqgateRunTrigger(dqgate_run_id="nope", poll_interval=0.05, timeout=5)))
        assert event["status"] == "error" and "404" in event["message"]


def test_sensor_waits_then_applies_the_decision(connection):
    script = {
        "GET /v1/runs/r-1": [
            (200, run_view(None, status="running")),
            (200, run_view("pass")),
            (200, run_view("error", status="error")),
        ]
    }
    with FakeDqgate(script) as fake:
        connection(fake.url)
        sensor = DqgateRunSensor(task_id="wait", dqgate_run_id="r-1")
        ti = FakeTI()
        assert sensor.poke(context(ti)) is False
        assert sensor.poke(context(ti)) is True
        assert ti.pushed[ANSWER_KEY]["decision"] == "pass"
        with pytest.raises(AirflowException):
            sensor.poke(context(ti))


@pytest.mark.parametrize(
    "host, port, url",
    [
        ("http://dqgate:8080", None, "http://dqgate:8080"),
        ("https://dq.example/", None, "https://dq.example"),
        ("dqgate", 9000, "http://dqgate:9000"),
        ("http://dqgate", 9000, "http://dqgate:9000"),
    ],
)
def test_base_url_from_the_connection(host, port, url):
    assert DqgateHook.base_url_of(host, port) == url


def test_provider_is_registered_through_the_entry_point():
    points = [p for p in entry_points(group="apache_airflow_provider") if p.value.startswith("dqgate_airflow")]
    assert len(points) == 1
    info = points[0].load()()
    assert info == get_provider_info()
    assert info["package-name"] == "airflow-provider-dqgate"
    assert info["connection-types"] == [
        {"connection-type": "dqgate", "hook-class-name": "dqgate_airflow.hooks.DqgateHook"}
    ]
    assert DqgateHook.default_conn_name == "dqgate_default" and DqgateHook.conn_type == "dqgate"
    # Airflow's own provider manager accepts it and finds the connection type.
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert manager.providers["airflow-provider-dqgate"].version == "0.1.0"
    assert manager.hooks["dqgate"].hook_class_name == "dqgate_airflow.hooks.DqgateHook"
