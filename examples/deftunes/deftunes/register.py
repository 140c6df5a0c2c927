"""A steward's one-time setup: the pipeline's rulesets and datasets in dqgate.

Rulesets come from `rulesets/deftunes/pipeline/*.dqdl`; every dataset is
registered with a `quarantine` prefix in the lake bucket, so a failing
gate run writes its failing rows there. Run it again after editing a
ruleset: an unchanged ruleset keeps its version.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from deftunes.config import Config

#: rulesets/deftunes/pipeline in the repository.
RULESETS = Path(__file__).resolve().parents[3] / "rulesets" / "deftunes" / "pipeline"

#: Registered ruleset name → file stem.
RULESET_FILES = {
    "deftunes-landing-songs": "landing_songs",
    "deftunes-landing-users": "landing_users",
    "deftunes-landing-sessions": "landing_sessions",
    "deftunes-transform-users": "transform_users",
    "deftunes-transform-sessions": "transform_sessions",
    "deftunes-serving": "serving",
}

SERVING_TABLES = [
    "fact_session",
    "dim_users",
    "dim_songs",
    "dim_artists",
    "sales_by_artist_year",
    "sales_by_country",
    "user_activity",
    "music_preferences",
]


def datasets(cfg: Config, quarantine: bool = True) -> dict[str, dict]:
    """Every dataset the DAG gates or names as an alias, by registry name;
    with `quarantine`, each names the lake's quarantine prefix."""
    s3 = {"endpoint": cfg.s3_endpoint, "region": cfg.region, "path_style": True}
    if quarantine:
        s3["quarantine"] = f"s3://{cfg.bucket}/quarantine"
    out: dict[str, dict] = {}
    for name in ("songs", "users", "sessions"):
        out[f"landing_{name}"] = {
            "format": "parquet",
            "location": f"s3://{cfg.bucket}/landing/{name}/",
            "options": {**s3, "slice_column": "ingestion_date"},
        }
        out[f"lake_{name}"] = {
            "format": "iceberg",
            "location": (
                f"iceberg:sqlite:{cfg.catalog_path}?name={cfg.catalog_name}"
                f"&warehouse=s3://{cfg.bucket}/warehouse#{cfg.namespace}.{name}"
            ),
            "options": {**s3},
        }
    for name in SERVING_TABLES:
        out[f"serving_{name}"] = {
            "format": "parquet",
            "location": f"s3://{cfg.bucket}/serving/{name}/",
            "options": {**s3},
        }
    return out


def register(cfg: Config, base_url: str, token: str, quarantine: bool = True) -> None:
    """PUTs every ruleset and dataset; raises on the first refusal."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        for name, stem in RULESET_FILES.items():
            text = (RULESETS / f"{stem}.dqdl").read_text()
            r = client.put(f"/v1/rulesets/{name}", content=text, headers={"Content-Type": "text/plain"})
            if r.status_code >= 300:
                raise RuntimeError(f"ruleset {name}: {r.status_code} {r.text}")
        for name, body in datasets(cfg, quarantine).items():
            r = client.put(f"/v1/datasets/{name}", json=body)
            if r.status_code >= 300:
                raise RuntimeError(f"dataset {name}: {r.status_code} {r.text}")


def setup(cfg: Config, base_url: str, token: str) -> None:
    """Everything a first run needs: the lake bucket, the operational songs
    table, and the rulesets and datasets in dqgate."""
    from deftunes import generate, lake

    lake.filesystem(cfg).create_dir(cfg.bucket)
    generate.seed_songs(cfg.postgres_url)
    register(cfg, base_url, token)


def main() -> None:
    """`python -m deftunes.register --server URL` (token from DQGATE_TOKEN)."""
    import argparse
    import os

    from deftunes import config

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", default=os.environ.get("DQGATE_SERVER"), help="dqgate base URL")
    args = parser.parse_args()
    token = os.environ.get("DQGATE_TOKEN")
    if not args.server or not token:
        parser.error("give --server (or DQGATE_SERVER) and a steward or admin token in DQGATE_TOKEN")
    setup(config.from_env(), args.server, token)


if __name__ == "__main__":
    main()
