"""`DqgateRunTrigger`: waits in the triggerer for a dqgate run to finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from dqgate_airflow.decision import is_finished
from dqgate_airflow.hooks import DqgateError, DqgateHook


class DqgateRunTrigger(BaseTrigger):
    """Polls `GET /v1/runs/{dqgate_run_id}` asynchronously every `poll_interval`
    seconds until the run is finished or `timeout` seconds have passed.

    Fires one event: `{"status": "done", "run": <run view>}`, or
    `{"status": "error", "message": ...}` when the server refused the
    request or the run did not finish in time. Carries only the run id and
    the connection id, never the token.
    """

    def __init__(
        self,
        dqgate_run_id: str,
        dqgate_conn_id: str = DqgateHook.default_conn_name,
        poll_interval: float = 10.0,
        timeout: float = 3600.0,
    ):
        super().__init__()
        self.dqgate_run_id = dqgate_run_id
        self.dqgate_conn_id = dqgate_conn_id
        self.poll_interval = poll_interval
        self.timeout = timeout

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Class path and the arguments that rebuild this trigger."""
        return (
            "dqgate_airflow.triggers.DqgateRunTrigger",
            {
                "dqgate_run_id": self.dqgate_run_id,
                "dqgate_conn_id": self.dqgate_conn_id,
                "poll_interval": self.poll_interval,
                "timeout": self.timeout,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = DqgateHook(dqgate_conn_id=self.dqgate_conn_id)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                view = await hook.aget_run(self.dqgate_run_id)
            except DqgateError as e:
                yield TriggerEvent({"status": "error", "run_id": self.dqgate_run_id, "message": str(e)})
                return
            if is_finished(view):
                yield TriggerEvent({"status": "done", "run_id": self.dqgate_run_id, "run": view})
                return
            if time.monotonic() + self.poll_interval > deadline:
                yield TriggerEvent(
                    {
                        "status": "error",
                        "run_id": self.dqgate_run_id,
                        "message": f"dqgate run {self.dqgate_run_id} did not finish within {self.timeout} s (status {view.get('status')})",
                    }
                )
                return
            await asyncio.sleep(self.poll_interval)
