"""The decision mapping and the default run id, without a server."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException
from fake_dqgate import run_view

from dqgate_airflow.decision import apply_decision, default_run_id, failing_rules, is_finished


def test_pass_succeeds_quietly():
    assert apply_decision(run_view("pass")) is None


def test_warn_succeeds_with_the_failing_rules_as_warning():
    text = apply_decision(run_view("warn"))
    assert 'Failed: ColumnValues "price" > 0 — 97.00% of rows passed' in text
    assert "RowCount > 0" not in text


def test_warn_fails_without_retry_when_asked():
    with pytest.raises(AirflowFailException, match="fail_on_warn"):
        apply_decision(run_view("warn"), fail_on_warn=True)


def test_fail_raises_the_no_retry_exception():
    with pytest.raises(AirflowFailException) as e:
        apply_decision(run_view("fail"))
    assert 'ColumnValues "price" > 0' in str(e.value)


@pytest.mark.parametrize("decision", ["error", "maybe", None])
def test_error_raises_a_retryable_exception(decision):
    with pytest.raises(AirflowException) as e:
        apply_decision(run_view(decision, status="error", message="cannot read s3://lake/x"))
    assert type(e.value) is AirflowException
    if decision == "error":
        assert "cannot read s3://lake/x" in str(e.value)


def test_finished_runs_are_recognised():
    assert not is_finished(run_view(None, status="queued"))
    assert not is_finished(run_view(None, status="running"))
    assert is_finished(run_view(None, status="interrupted"))
    assert is_finished(run_view("pass"))


def test_failing_rules_are_capped():
    view = run_view("fail", rules=[{"rule": f"R{i}", "outcome": "Failed", "message": "m"} for i in range(15)])
    lines = failing_rules(view, limit=10)
    assert len(lines) == 11 and lines[-1] == "… and 5 more"


def test_default_run_id_is_dag_task_and_logical_date():
    when = datetime(2026, 1, 3, tzinfo=timezone.utc)
    assert (
        default_run_id("deftunes", "gate_landing", when, "manual__x")
        == "deftunes.gate_landing.2026-01-03T00:00:00+00:00"
    )


def test_default_run_id_without_logical_date_uses_the_dag_run():
    assert default_run_id("d", "t", None, "manual__2026-01-03") == "d.t.manual__2026-01-03"
    with pytest.raises(AirflowException):
        default_run_id("d", "t", None, None)


def test_default_run_id_over_256_characters_is_refused():
    with pytest.raises(AirflowException, match="over 256"):
        default_run_id("d" * 250, "t", datetime(2026, 1, 3, tzinfo=timezone.utc), None)
