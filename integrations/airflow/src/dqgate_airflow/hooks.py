"""`DqgateHook`: the dqgate HTTP API over an Airflow connection.

Connection type `dqgate`: host is the base URL (`http://dqgate:8080`, or a
bare host with the port in its own field), password is the bearer token.
Network errors, 429 and 503 are retried with backoff; the gate call keeps
its run id across those retries, so none of them evaluates twice.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx
from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowException

#: Statuses worth asking again: the queue is full or the store is busy.
RETRY_STATUSES = frozenset({429, 503})


class DqgateError(AirflowException):
    """The server refused a request or could not be reached."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


def _problem(response: httpx.Response) -> DqgateError:
    """A refusal as an error carrying the problem+json code and detail."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get("code") if isinstance(body, dict) else None
    detail = body.get("detail") if isinstance(body, dict) else None
    text = detail or response.reason_phrase or "no detail"
    return DqgateError(
        f"dqgate answered {response.status_code} {code or ''}: {text}".replace("  ", " "),
        status=response.status_code,
        code=code,
    )


def _delay(attempt: int, response: httpx.Response | None) -> float:
    """Seconds before the next try: Retry-After when given, else doubling."""
    if response is not None:
        after = response.headers.get("retry-after", "")
        if after.isdigit():
            return min(float(after), 30.0)
    return min(0.5 * 2**attempt, 10.0)


class DqgateHook(BaseHook):
    """Calls a dqgate server: the gate, runs and registries."""

    conn_name_attr = "dqgate_conn_id"
    default_conn_name = "dqgate_default"
    conn_type = "dqgate"
    hook_name = "dqgate"

    def __init__(self, dqgate_conn_id: str = default_conn_name, retries: int = 4, request_timeout: float = 300.0):
        super().__init__()
        self.dqgate_conn_id = dqgate_conn_id
        self.retries = retries
        self.request_timeout = request_timeout
        self._settings: tuple[str, dict[str, str]] | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form: only the base URL and the token matter."""
        return {
            "hidden_fields": ["schema", "login", "extra"],
            "relabeling": {"host": "Base URL", "password": "Token"},
            "placeholders": {"host": "http://dqgate:8080", "password": "a pipeline token"},
        }

    @staticmethod
    def base_url_of(host: str | None, port: int | None, schema: str | None = None) -> str:
        """The server's base URL from a connection's host and port."""
        if not host:
            raise AirflowException("the dqgate connection has no host (the server's base URL)")
        url = host.rstrip("/")
        if "://" not in url:
            scheme = schema if schema in ("http", "https") else "http"
            url = f"{scheme}://{url}"
        if port and url.count(":") < 2:
            url = f"{url}:{port}"
        return url

    def settings(self) -> tuple[str, dict[str, str]]:
        """Base URL and request headers (read from the connection once)."""
        if self._settings is None:
            conn = self.get_connection(self.dqgate_conn_id)
            self._settings = self._settings_of(conn)
        return self._settings

    async def asettings(self) -> tuple[str, dict[str, str]]:
        """`settings` for async code (the triggerer)."""
        if self._settings is None:
            conn = await self.aget_connection(self.dqgate_conn_id)
            self._settings = self._settings_of(conn)
        return self._settings

    def _settings_of(self, conn: Any) -> tuple[str, dict[str, str]]:
        headers = {"Accept": "application/json", "User-Agent": "airflow-provider-dqgate"}
        if conn.password:
            headers["Authorization"] = f"Bearer {conn.password}"
        return self.base_url_of(conn.host, conn.port, conn.schema), headers

    def get_conn(self) -> httpx.Client:
        """A client bound to the server (close it after use)."""
        base, headers = self.settings()
        return httpx.Client(base_url=base, headers=headers, timeout=self.request_timeout)

    def request(self, method: str, path: str, json: Any = None, params: dict | None = None) -> tuple[int, Any]:
        """One API call with retries; returns status and JSON body, raises
        `DqgateError` on a refusal or when the server stays unreachable."""
        response: httpx.Response | None = None
        with self.get_conn() as client:
            for attempt in range(self.retries + 1):
                try:
                    response = client.request(method, path, json=json, params=params)
                except httpx.ReadTimeout as e:
                    # The server took the request and is still working (a gate
                    # call waits for its evaluation): asking again only waits again.
                    raise DqgateError(
                        f"dqgate at {client.base_url} sent no answer within {self.request_timeout} s"
                    ) from e
                except httpx.TransportError as e:
                    if attempt == self.retries:
                        raise DqgateError(f"cannot reach dqgate at {client.base_url}: {e}") from e
                    self.log.warning("dqgate unreachable (%s); retrying", e)
                    time.sleep(_delay(attempt, None))
                    continue
                if response.status_code in RETRY_STATUSES and attempt < self.retries:
                    self.log.warning("dqgate answered %s; retrying", response.status_code)
                    time.sleep(_delay(attempt, response))
                    continue
                break
        if response is None:
            raise DqgateError(f"no request was sent (retries = {self.retries})")
        if response.status_code >= 400:
            raise _problem(response)
        return response.status_code, response.json() if response.content else None

    def gate(
        self,
        dataset: str,
        ruleset: str,
        stage: str,
        run_id: str,
        parameters: dict[str, Any] | None = None,
        aliases: dict[str, str] | None = None,
        wait: bool = True,
    ) -> tuple[int, dict[str, Any]]:
        """`POST /v1/gate`: 200 with the decision, or 202 with an unfinished run."""
        body = {
            "dataset": dataset,
            "ruleset": ruleset,
            "stage": stage,
            "run_id": run_id,
            "parameters": parameters or {},
            "aliases": aliases or {},
            "wait": wait,
        }
        return self.request("POST", "/v1/gate", json=body)

    def get_run(self, run: str) -> dict[str, Any]:
        """`GET /v1/runs/{id}`."""
        return self.request("GET", f"/v1/runs/{quote(run, safe='')}")[1]

    def wait_for_run(self, run: str, poll_interval: float, timeout: float) -> dict[str, Any]:
        """Polls a run until it is finished, at most `timeout` seconds."""
        from dqgate_airflow.decision import is_finished

        deadline = time.monotonic() + timeout
        while True:
            view = self.get_run(run)
            if is_finished(view):
                return view
            if time.monotonic() + poll_interval > deadline:
                raise AirflowException(
                    f"dqgate run {run} did not finish within {timeout} s (status {view.get('status')})"
                )
            time.sleep(poll_interval)

    async def aget_run(self, run: str) -> dict[str, Any]:
        """`GET /v1/runs/{id}` without blocking the event loop; transport
        errors, 429 and 503 are retried like the sync calls."""
        base, headers = await self.asettings()
        response: httpx.Response | None = None
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=self.request_timeout) as client:
            for attempt in range(self.retries + 1):
                try:
                    response = await client.get(f"/v1/runs/{quote(run, safe='')}")
                except httpx.TransportError as e:
                    if attempt == self.retries:
                        raise DqgateError(f"cannot reach dqgate at {base}: {e}") from e
                    await asyncio.sleep(_delay(attempt, None))
                    continue
                if response.status_code in RETRY_STATUSES and attempt < self.retries:
                    await asyncio.sleep(_delay(attempt, response))
                    continue
                break
        if response is None:
            raise DqgateError(f"no request was sent (retries = {self.retries})")
        if response.status_code >= 400:
            raise _problem(response)
        return response.json()

    def test_connection(self) -> tuple[bool, str]:
        """The connection form's Test button: `/healthz` and a read with the token."""
        try:
            self.request("GET", "/v1/runs", params={"limit": 1})
        except AirflowException as e:
            return False, str(e)
        return True, "dqgate answered with this token"
