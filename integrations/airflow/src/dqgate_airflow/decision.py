"""What a gate answer means for an Airflow task, and the default run id.

Kept free of I/O so the mapping is tested on its own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException

#: Run statuses after which a run no longer changes.
FINISHED = frozenset({"done", "error", "interrupted"})


def is_finished(run: dict[str, Any]) -> bool:
    """Whether a run view (`GET /v1/runs/{id}` or the gate's answer) is final."""
    return run.get("decision") is not None or run.get("status") in FINISHED


def failing_rules(run: dict[str, Any], limit: int = 10) -> list[str]:
    """The rules that did not pass, as `outcome: rule — message` lines."""
    lines = [
        f"{r.get('outcome')}: {r.get('rule')} — {r.get('message')}"
        for r in run.get("rules") or []
        if r.get("outcome") != "Passed"
    ]
    if len(lines) > limit:
        lines = lines[:limit] + [f"… and {len(lines) - limit} more"]
    return lines


def summary(run: dict[str, Any]) -> str:
    """One line naming the run, its decision and its score."""
    return (
        f"dqgate run {run.get('id')} (key {run.get('run_key')}): dataset {run.get('dataset')}, "
        f"ruleset {run.get('ruleset')} v{run.get('ruleset_version')}, stage {run.get('stage')}: "
        f"{run.get('decision')} (score {run.get('score')})"
    )


def apply_decision(run: dict[str, Any], fail_on_warn: bool = False) -> str | None:
    """Maps a finished run to the task's outcome.

    Returns None on `pass`, a warning text on `warn` (the task succeeds and
    logs it), and raises `AirflowFailException` on `fail` (or `warn` with
    `fail_on_warn`): the data is bad and a retry would not change it; raises
    `AirflowException` on `error` or an unknown decision, which Airflow's
    retry policy may retry.
    """
    decision = run.get("decision")
    detail = "\n".join([summary(run), *failing_rules(run)])
    if decision == "pass":
        return None
    if decision == "warn":
        if fail_on_warn:
            raise AirflowFailException(f"warn treated as fail (fail_on_warn): {detail}")
        return detail
    if decision == "fail":
        raise AirflowFailException(f"the data failed the gate: {detail}")
    if decision == "error":
        message = run.get("message")
        raise AirflowException(f"the gate could not decide: {detail}" + (f"\n{message}" if message else ""))
    raise AirflowException(f"the gate answered no known decision ({decision!r}): {detail}")


def default_run_id(dag_id: str, task_id: str, logical_date: datetime | None, dag_run_id: str | None) -> str:
    """The idempotency key of a gate call: the same for every try of a task
    in a DAG run, so a retry gets the stored decision.

    Built from the DAG id, the task id and the logical date (UTC, ISO 8601);
    a DAG run without a logical date (Airflow 3 allows it) uses its run id.
    """
    if logical_date is not None:
        when = logical_date.isoformat()
    elif dag_run_id:
        when = dag_run_id
    else:
        raise AirflowException("no logical date and no DAG run id to derive the gate run id from")
    key = f"{dag_id}.{task_id}.{when}"
    if len(key) > 256:
        raise AirflowException(f"the derived gate run id is over 256 characters: {key[:80]}…; pass run_id")
    return key
