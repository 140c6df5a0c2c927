"""Test setup shared by the unit and integration tests.

Airflow reads its home when first imported, so a throwaway AIRFLOW_HOME
(SQLite metadata database, no examples, the DeFtunes DAG folder) is set
here, before any test module imports Airflow.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DEFTUNES = REPO / "examples" / "deftunes"

_home = Path(tempfile.mkdtemp(prefix="dqgate-airflow-home-"))
os.environ["AIRFLOW_HOME"] = str(_home)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DEFTUNES)
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_home}/airflow.db"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ.setdefault("AWS_ACCESS_KEY_ID", "deftunes")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "deftunes")
os.environ.setdefault("AWS_REGION", "us-east-1")
sys.path.insert(0, str(DEFTUNES))


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(_home, ignore_errors=True)


def require(condition: object, why: str) -> None:
    """Skips when a prerequisite is missing, but fails under CI, where a
    skipped integration test would hide a broken setup."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"prerequisite missing under CI: {why}")
    pytest.skip(why)
