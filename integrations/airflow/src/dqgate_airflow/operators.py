"""`DqgateGateOperator`: ask the gate whether a dataset may move on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from dqgate_airflow.decision import apply_decision, default_run_id, is_finished, summary
from dqgate_airflow.hooks import DqgateHook
from dqgate_airflow.triggers import DqgateRunTrigger

#: The XCom key the gate's answer is pushed under (also the return value).
ANSWER_KEY = "dqgate_answer"


class DqgateGateOperator(BaseOperator):
    """Calls `POST /v1/gate` and turns the decision into the task's outcome.

    `pass` succeeds; `warn` succeeds and logs the failing rules (fails with
    `fail_on_warn`); `fail` raises `AirflowFailException`, so the task is
    not retried; `error` raises `AirflowException`, which the task's retry
    policy may retry. The answer (the run view) is pushed to XCom under
    `dqgate_answer` before the outcome is applied, and returned on success.

    `run_id` is the gate's idempotency key; by default it is derived from
    the DAG id, the task id and the logical date, so every try of the task
    in a DAG run (and a re-run of the same date) gets the stored decision
    instead of a second evaluation. With `deferrable=True` the operator asks
    the gate not to wait and hands an unfinished run to `DqgateRunTrigger`.
    """

    template_fields: Sequence[str] = ("parameters", "run_id", "dataset", "ruleset", "stage", "aliases")
    template_fields_renderers: ClassVar[dict[str, str]] = {"parameters": "json"}
    ui_color = "#d7ecd9"

    def __init__(
        self,
        *,
        dataset: str,
        ruleset: str,
        stage: str,
        parameters: dict[str, Any] | str | None = None,
        run_id: str | None = None,
        deferrable: bool = False,
        poll_interval: float = 10,
        timeout: float = 3600,
        fail_on_warn: bool = False,
        dqgate_conn_id: str = DqgateHook.default_conn_name,
        aliases: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.ruleset = ruleset
        self.stage = stage
        self.parameters = parameters
        self.run_id = run_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.fail_on_warn = fail_on_warn
        self.dqgate_conn_id = dqgate_conn_id
        self.aliases = aliases

    def gate_run_id(self, context: Context) -> str:
        """The run id sent: `run_id` if given, else the derived one."""
        if self.run_id:
            return str(self.run_id)
        dag_run = context.get("dag_run")
        return default_run_id(
            self.dag_id,
            self.task_id,
            context.get("logical_date"),
            getattr(dag_run, "run_id", None) or context.get("run_id"),
        )

    def _parameters(self) -> dict[str, Any]:
        p = self.parameters
        if p is None or p == "":
            return {}
        if not isinstance(p, dict):
            raise AirflowException(
                f"parameters must render to a dict (use render_template_as_native_obj=True for a templated dict); got {type(p).__name__}: {p!r}"
            )
        return p

    def execute(self, context: Context) -> dict[str, Any]:
        # A waiting gate call lasts as long as the evaluation: allow the
        # task's whole timeout for the answer.
        hook = DqgateHook(dqgate_conn_id=self.dqgate_conn_id, request_timeout=float(self.timeout) + 30)
        run_id = self.gate_run_id(context)
        self.log.info(
            "dqgate gate: dataset %s, ruleset %s, stage %s, run id %s", self.dataset, self.ruleset, self.stage, run_id
        )
        status, answer = hook.gate(
            dataset=self.dataset,
            ruleset=self.ruleset,
            stage=self.stage,
            run_id=run_id,
            parameters=self._parameters(),
            aliases=self.aliases,
            wait=not self.deferrable,
        )
        if status == 202 and not is_finished(answer):
            if self.deferrable:
                self.log.info("dqgate run %s accepted; deferring until it finishes", answer.get("id"))
                self.defer(
                    trigger=DqgateRunTrigger(
                        dqgate_run_id=answer["id"],
                        dqgate_conn_id=self.dqgate_conn_id,
                        poll_interval=self.poll_interval,
                        timeout=self.timeout,
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.timeout),
                )
            answer = hook.wait_for_run(answer["id"], self.poll_interval, self.timeout)
        return self._finish(context, answer)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resumes after `DqgateRunTrigger` fired."""
        if event.get("status") != "done":
            raise AirflowException(event.get("message") or f"dqgate trigger ended without a run: {event}")
        return self._finish(context, event["run"])

    def _finish(self, context: Context, answer: dict[str, Any]) -> dict[str, Any]:
        context["ti"].xcom_push(key=ANSWER_KEY, value=answer)
        warning = apply_decision(answer, fail_on_warn=self.fail_on_warn)
        if warning:
            self.log.warning("%s", warning)
        else:
            self.log.info("%s", summary(answer))
        return answer
