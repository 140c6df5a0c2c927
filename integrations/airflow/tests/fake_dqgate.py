"""A scripted stand-in for the dqgate API on loopback, for unit tests of
the HTTP paths: each request pops the next canned answer for its path,
`(status, body)` or `(status, body, seconds to wait first)`, and is
recorded."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeDqgate:
    def __init__(self, script: dict[str, list[tuple[int, dict]]]):
        self.script = {k: list(v) for k, v in script.items()}
        self.requests: list[tuple[str, str, dict | None, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                fake.requests.append((method, self.path, body, dict(self.headers)))
                answers = fake.script.get(f"{method} {self.path}") or []
                answer = answers.pop(0) if answers else (404, {"code": "not_found", "detail": "unscripted"})
                status, payload, delay = (*answer, 0.0)[:3]
                time.sleep(delay)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._answer("GET")

            def do_POST(self):
                self._answer("POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def run_view(decision: str | None, status: str = "done", **extra) -> dict:
    """A run view as `GET /v1/runs/{id}` serves it."""
    view = {
        "id": "r-1",
        "run": "/v1/runs/r-1",
        "run_key": "k",
        "dataset": "sessions",
        "ruleset": "rs",
        "ruleset_version": 1,
        "stage": "landing",
        "decision": decision,
        "status": status,
        "score": None if decision is None else 0.5,
        "rules": [
            {"rule": "RowCount > 0", "outcome": "Passed", "message": "ok"},
            {"rule": 'ColumnValues "price" > 0', "outcome": "Failed", "message": "97.00% of rows passed"},
        ],
    }
    view.update(extra)
    return view
