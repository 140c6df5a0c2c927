"""`DqgateRunSensor`: wait for a dqgate run started elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseSensorOperator, Context

from dqgate_airflow.decision import apply_decision, is_finished, summary
from dqgate_airflow.hooks import DqgateHook


class DqgateRunSensor(BaseSensorOperator):
    """Waits until the run `dqgate_run_id` (the server's run id, e.g. the `id` that
    `dqgate gate --no-wait --format json` printed) is finished, then applies
    the same decision mapping as `DqgateGateOperator`: pass and warn
    succeed, fail raises `AirflowFailException`, error `AirflowException`.
    """

    template_fields: Sequence[str] = ("dqgate_run_id",)

    def __init__(
        self,
        *,
        dqgate_run_id: str,
        fail_on_warn: bool = False,
        dqgate_conn_id: str = DqgateHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dqgate_run_id = dqgate_run_id
        self.fail_on_warn = fail_on_warn
        self.dqgate_conn_id = dqgate_conn_id

    def poke(self, context: Context) -> bool:
        view = DqgateHook(dqgate_conn_id=self.dqgate_conn_id).get_run(self.dqgate_run_id)
        if not is_finished(view):
            self.log.info("dqgate run %s is %s", self.dqgate_run_id, view.get("status"))
            return False
        context["ti"].xcom_push(key="dqgate_answer", value=view)
        warning = apply_decision(view, fail_on_warn=self.fail_on_warn)
        if warning:
            self.log.warning("%s", warning)
        else:
            self.log.info("%s", summary(view))
        return True
