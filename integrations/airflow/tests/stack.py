"""The services the DeFtunes DAG runs against, all on loopback: the real
`dqgate serve` (SQLite in a temp dir), an S3 server (moto), a pyiceberg
SQL catalog in the lake bucket, and a PostgreSQL database for the songs.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, what: str, process: subprocess.Popen | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer at {url} within {seconds} s")


@dataclass
class Dqgate:
    """A running `dqgate serve`."""

    process: subprocess.Popen
    url: str
    admin: str
    log: Path

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token or self.admin}"}, timeout=60)

    def token(self, name: str, role: str) -> str:
        with self.client() as c:
            r = c.post("/v1/tokens", json={"name": name, "role": role})
            r.raise_for_status()
            return r.json()["token"]

    def runs(self) -> list[dict]:
        """Every run, newest first."""
        out: list[dict] = []
        path: str | None = "/v1/runs?limit=500"
        with self.client() as c:
            while path:
                page = c.get(path).raise_for_status().json()
                out.extend(page["runs"])
                path = page["next"] if len(page["runs"]) == 500 else None
        return out

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_dqgate(binary: str, root: Path, allowed: list[Path], endpoints: list[str]) -> Dqgate:
    port = free_port()
    admin = secrets.token_hex(16)
    log = root / "dqgate.log"
    env = {
        **os.environ,
        "DQGATE_ADMIN_TOKEN": admin,
        "DQGATE_LOG_FORMAT": "json",
    }
    env.pop("DQGATE_DATABASE_URL", None)
    process = subprocess.Popen(
        [
            binary,
            "serve",
            "--data-dir",
            str(root / "dqgate-data"),
            "--listen",
            f"127.0.0.1:{port}",
            "--allowed-paths",
            ",".join(str(p) for p in allowed),
            "--allowed-endpoints",
            ",".join(endpoints),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{url}/healthz", "dqgate serve", process)
    except RuntimeError:
        process.kill()
        raise
    return Dqgate(process, url, admin, log)


class Postgres:
    """A database of its own on the test cluster, dropped at the end."""

    def __init__(self, server_url: str):
        import psycopg

        self.server_url = server_url
        self.name = f"deftunes_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {self.name}")
        base, _, _ = server_url.rpartition("/")
        query = ""
        if "?" in server_url:
            query = "?" + server_url.split("?", 1)[1]
        self.url = f"{base}/{self.name}{query}"

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def airflow_connection(url: str, token: str) -> str:
    """An AIRFLOW_CONN_* value (JSON form) for a dqgate connection."""
    return json.dumps({"conn_type": "dqgate", "host": url, "password": token})
