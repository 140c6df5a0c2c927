"""Where the pipeline reads and writes, from `DEFTUNES_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Config:
    """Endpoints and names of one DeFtunes deployment."""

    #: S3 endpoint (an S3-compatible server), e.g. http://127.0.0.1:9000.
    s3_endpoint: str
    #: The data-lake bucket: landing/, warehouse/, serving/, quarantine/.
    bucket: str
    #: pyiceberg SQL catalog database URL (sqlite:///PATH).
    catalog_uri: str
    #: The operational database holding the `songs` table.
    postgres_url: str
    #: First day of the pipeline (the users API's initial population).
    start_date: date
    #: Day (YYYY-MM-DD) → incident name, from `DEFTUNES_INCIDENTS`.
    incidents: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    catalog_name: str = "deftunes"
    namespace: str = "deftunes"

    @property
    def catalog_path(self) -> str:
        """The SQLite file of the catalog (for dqgate's `iceberg:sqlite:` reference)."""
        prefix = "sqlite:///"
        if not self.catalog_uri.startswith(prefix):
            raise ValueError(f"DEFTUNES_CATALOG_URI must be sqlite:///PATH, got {self.catalog_uri}")
        return "/" + self.catalog_uri[len(prefix) :].lstrip("/")

    def s3_options(self) -> dict[str, str]:
        """pyiceberg / pyarrow S3 settings (any keys work with a test server)."""
        return {
            "s3.endpoint": self.s3_endpoint,
            "s3.region": self.region,
            "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID", "deftunes"),
            "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY", "deftunes"),
            "s3.path-style-access": "true",
        }


def parse_incidents(text: str) -> dict[str, str]:
    """`2026-01-03=price_bug,2026-01-04=late_data` → {day: incident}."""
    from deftunes.generate import INCIDENTS

    out: dict[str, str] = {}
    for item in filter(None, (t.strip() for t in text.split(","))):
        day, _, name = item.partition("=")
        date.fromisoformat(day)
        if name not in INCIDENTS:
            raise ValueError(f"unknown incident {name!r} (known: {', '.join(INCIDENTS)})")
        out[day] = name
    return out


def from_env() -> Config:
    """The configuration from the environment (the DAG's tasks call this)."""

    def need(name: str) -> str:
        value = os.environ.get(name)
        if not value:
            raise RuntimeError(f"{name} is not set; see examples/deftunes/README.md")
        return value

    return Config(
        s3_endpoint=need("DEFTUNES_S3_ENDPOINT"),
        bucket=os.environ.get("DEFTUNES_BUCKET", "deftunes-lake"),
        catalog_uri=need("DEFTUNES_CATALOG_URI"),
        postgres_url=need("DEFTUNES_POSTGRES_URL"),
        start_date=date.fromisoformat(os.environ.get("DEFTUNES_START_DATE", "2026-01-01")),
        incidents=parse_incidents(os.environ.get("DEFTUNES_INCIDENTS", "")),
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )
