"""The three zones of the lake, one function per pipeline stage.

- `land`: extract the day from the sources and write it to the S3 landing
  zone as Parquet, one `ingestion_date=YYYY-MM-DD` folder per day.
- `transform`: type the landed day and append it to Iceberg tables
  (pyiceberg, SQL catalog, S3 warehouse); songs are overwritten with the
  day's catalogue. Returns the gate parameters that select exactly the
  day's snapshot.
- `serve`: build the star schema and the four BI views with DuckDB and
  write them to the serving zone as Parquet.

Every stage is idempotent: re-running a day overwrites its landing
folder, reuses the snapshot already appended for that day, and rewrites
its serving partition, so a retried or re-run day adds nothing twice.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from pyarrow import fs as pafs

from deftunes import generate
from deftunes.config import Config

#: Snapshot property naming the ingestion date a snapshot added.
DAY_PROPERTY = "deftunes.ingestion_date"

TS = pa.timestamp("us", tz="UTC")

LANDING_SCHEMAS = {
    "songs": pa.schema(
        [
            ("track_id", pa.string()),
            ("title", pa.string()),
            ("song_id", pa.string()),
            ("release", pa.string()),
            ("artist_id", pa.string()),
            ("artist_mbid", pa.string()),
            ("artist_name", pa.string()),
            ("duration", pa.float64()),
            ("artist_familiarity", pa.float64()),
            ("artist_hotttnesss", pa.float64()),
            ("year", pa.int32()),
            ("track_7digitalid", pa.int32()),
            ("shs_perf", pa.int32()),
            ("shs_work", pa.int32()),
        ]
    ),
    "users": pa.schema(
        [
            ("user_id", pa.string()),
            ("user_name", pa.string()),
            ("user_lastname", pa.string()),
            ("user_location", pa.list_(pa.string())),
            ("user_since", pa.string()),
        ]
    ),
    "sessions": pa.schema(
        [
            ("session_id", pa.string()),
            ("user_id", pa.string()),
            ("song_id", pa.string()),
            ("artist_name", pa.string()),
            ("price", pa.float64()),
            ("liked", pa.bool_()),
            ("liked_since", pa.string()),
            ("session_start_time", pa.string()),
        ]
    ),
}


def filesystem(cfg: Config) -> pafs.S3FileSystem:
    """pyarrow's S3 client for the lake bucket."""
    o = cfg.s3_options()
    scheme, _, host = cfg.s3_endpoint.partition("://")
    return pafs.S3FileSystem(
        endpoint_override=host,
        scheme=scheme,
        access_key=o["s3.access-key-id"],
        secret_key=o["s3.secret-access-key"],
        region=cfg.region,
        allow_bucket_creation=True,
    )


def _next_day(ds: str) -> str:
    return (date.fromisoformat(ds) + timedelta(days=1)).isoformat()


def landing_path(cfg: Config, name: str, ds: str) -> str:
    """The folder (bucket/key) of one day of a landing dataset."""
    return f"{cfg.bucket}/landing/{name}/ingestion_date={ds}"


# --- landing ---------------------------------------------------------------


def land(cfg: Config, ds: str) -> dict[str, int]:
    """Extracts day `ds` from PostgreSQL and the two APIs and lands it.
    Returns the rows landed per dataset."""
    end = _next_day(ds)
    rows = {
        "songs": generate.extract_songs(cfg.postgres_url),
        "users": json.loads(generate.users_api(ds, end, cfg.start_date))["users"],
        "sessions": json.loads(generate.sessions_api(ds, end, cfg.start_date, cfg.incidents))["sessions"],
    }
    s3 = filesystem(cfg)
    s3.create_dir(cfg.bucket)
    for name, records in rows.items():
        table = pa.Table.from_pylist(records, schema=LANDING_SCHEMAS[name])
        folder = landing_path(cfg, name, ds)
        s3.create_dir(folder)
        pq.write_table(table, f"{folder}/part-0.parquet", filesystem=s3)
    return {name: len(r) for name, r in rows.items()}


def _read_landed(cfg: Config, name: str, ds: str) -> pa.Table:
    return pq.read_table(f"{landing_path(cfg, name, ds)}/part-0.parquet", filesystem=filesystem(cfg))


# --- transform (Iceberg) ---------------------------------------------------


def catalog(cfg: Config):
    """The pyiceberg SQL catalog whose warehouse is in the lake bucket."""
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(
        cfg.catalog_name,
        uri=cfg.catalog_uri,
        warehouse=f"s3://{cfg.bucket}/warehouse",
        **cfg.s3_options(),
    )


def _timestamps(values: list[str | None]) -> pa.Array:
    return pa.array([datetime.fromisoformat(v) if v else None for v in values], type=TS)


def _typed_sessions(raw: pa.Table, ds: str) -> pa.Table:
    d = raw.to_pydict()
    return pa.table(
        {
            "session_id": d["session_id"],
            "user_id": d["user_id"],
            "song_id": d["song_id"],
            "artist_name": d["artist_name"],
            "price": pa.array(d["price"], pa.float64()),
            "liked": pa.array(d["liked"], pa.bool_()),
            "liked_since": _timestamps(d["liked_since"]),
            "session_start_time": _timestamps(d["session_start_time"]),
            "ingestion_date": pa.array([date.fromisoformat(ds)] * raw.num_rows, pa.date32()),
        }
    )


def _typed_users(raw: pa.Table, ds: str) -> pa.Table:
    d = raw.to_pydict()
    loc = d["user_location"]
    return pa.table(
        {
            "user_id": d["user_id"],
            "user_name": d["user_name"],
            "user_lastname": d["user_lastname"],
            "city": [x[0] for x in loc],
            "country_name": [x[1] for x in loc],
            "country_code": [x[2] for x in loc],
            "latitude": pa.array([float(x[3]) for x in loc], pa.float64()),
            "longitude": pa.array([float(x[4]) for x in loc], pa.float64()),
            "user_since": _timestamps(d["user_since"]),
            "ingestion_date": pa.array([date.fromisoformat(ds)] * raw.num_rows, pa.date32()),
        }
    )


def _table(cat, cfg: Config, name: str, schema: pa.Schema):
    ident = f"{cfg.namespace}.{name}"
    cat.create_namespace_if_not_exists(cfg.namespace)
    if cat.table_exists(ident):
        return cat.load_table(ident)
    return cat.create_table(ident, schema=schema)


def _snapshot_of_day(table, ds: str):
    for snap in table.snapshots():
        if snap.summary is not None and snap.summary[DAY_PROPERTY] == ds:
            return snap
    return None


def _append_day(table, data: pa.Table, ds: str) -> dict[str, int]:
    """Appends the day once; returns the gate parameters of its snapshot."""
    snap = _snapshot_of_day(table, ds)
    if snap is None:
        table.append(data, snapshot_properties={DAY_PROPERTY: ds})
        snap = _snapshot_of_day(table.refresh(), ds)
    params = {"snapshot_id": snap.snapshot_id}
    if snap.parent_snapshot_id is not None:
        params["since_snapshot_id"] = snap.parent_snapshot_id
    return params


def transform(cfg: Config, ds: str) -> dict[str, dict[str, int]]:
    """Types the landed day and writes it to Iceberg. Returns, per table,
    the gate parameters selecting the day's snapshot (`snapshot_id`, and
    `since_snapshot_id` when the table had rows before)."""
    cat = catalog(cfg)
    sessions = _typed_sessions(_read_landed(cfg, "sessions", ds), ds)
    users = _typed_users(_read_landed(cfg, "users", ds), ds)
    songs = _read_landed(cfg, "songs", ds)
    out = {
        "sessions": _append_day(_table(cat, cfg, "sessions", sessions.schema), sessions, ds),
        "users": _append_day(_table(cat, cfg, "users", users.schema), users, ds),
    }
    songs_table = _table(cat, cfg, "songs", songs.schema)
    if _snapshot_of_day(songs_table, ds) is None:
        songs_table.overwrite(songs, snapshot_properties={DAY_PROPERTY: ds})
    return out


# --- serving (DuckDB) ------------------------------------------------------

#: The four BI views of DEFTUNES.md, over the star schema.
VIEWS = {
    "sales_by_artist_year": """
        SELECT a.artist_name, CAST(year(f.session_start_time) AS INTEGER) AS session_year,
               COUNT(*) AS sessions, ROUND(SUM(f.price), 2) AS total_sales
        FROM fact_session f JOIN dim_artists a USING (artist_id)
        GROUP BY ALL ORDER BY ALL""",
    "sales_by_country": """
        SELECT u.country_code, u.country_name, COUNT(*) AS sessions, ROUND(SUM(f.price), 2) AS total_sales
        FROM fact_session f JOIN dim_users u USING (user_id)
        GROUP BY ALL ORDER BY ALL""",
    "user_activity": """
        SELECT f.user_id, COUNT(*) AS sessions, ROUND(SUM(f.price), 2) AS total_spent,
               CAST(SUM(CASE WHEN f.liked THEN 1 ELSE 0 END) AS BIGINT) AS likes,
               MIN(f.session_start_time) AS first_session, MAX(f.session_start_time) AS last_session
        FROM fact_session f GROUP BY ALL ORDER BY ALL""",
    "music_preferences": """
        SELECT country_code, artist_name, listens, likes,
               CAST(rank() OVER (PARTITION BY country_code ORDER BY listens DESC, artist_name) AS INTEGER) AS rank
        FROM (SELECT u.country_code, a.artist_name, COUNT(*) AS listens,
                     CAST(SUM(CASE WHEN f.liked THEN 1 ELSE 0 END) AS BIGINT) AS likes
              FROM fact_session f JOIN dim_users u USING (user_id) JOIN dim_artists a USING (artist_id)
              GROUP BY ALL)
        QUALIFY rank <= 3 ORDER BY country_code, rank""",
}


def serving_path(cfg: Config, name: str) -> str:
    """The folder (bucket/key) of a serving table."""
    return f"{cfg.bucket}/serving/{name}"


def _read_serving(s3: pafs.S3FileSystem, cfg: Config, name: str) -> pa.Table | None:
    try:
        info = s3.get_file_info(serving_path(cfg, name))
        if info.type == pafs.FileType.NotFound:
            return None
        return pads.dataset(serving_path(cfg, name), filesystem=s3, format="parquet", partitioning="hive").to_table()
    except FileNotFoundError:
        return None


def _write(s3: pafs.S3FileSystem, folder: str, table: pa.Table) -> None:
    s3.create_dir(folder)
    pq.write_table(table, f"{folder}/part-0.parquet", filesystem=s3)


def serve(cfg: Config, ds: str, slices: dict[str, dict[str, int]]) -> dict[str, int]:
    """Builds the day's star-schema rows and rebuilds the BI views.

    Reads exactly the day's Iceberg snapshots (`slices` from `transform`),
    writes `fact_session` and `dim_users` partitions for the day,
    overwrites `dim_songs` and `dim_artists`, and recomputes the views
    over every published day. Returns row counts."""
    import duckdb
    from pyiceberg.expressions import EqualTo

    cat = catalog(cfg)
    s3 = filesystem(cfg)

    def day_rows(name: str) -> pa.Table:
        table = cat.load_table(f"{cfg.namespace}.{name}")
        return table.scan(row_filter=EqualTo("ingestion_date", ds), snapshot_id=slices[name]["snapshot_id"]).to_arrow()

    con = duckdb.connect()
    con.register("day_sessions", day_rows("sessions"))
    con.register("day_users", day_rows("users"))
    con.register("songs", cat.load_table(f"{cfg.namespace}.songs").scan().to_arrow())
    dim_songs = con.sql(
        "SELECT track_id AS song_id, song_id AS msd_song_id, title, release, duration, year, artist_id FROM songs ORDER BY song_id"
    ).to_arrow_table()
    dim_artists = con.sql(
        """SELECT artist_id, any_value(artist_mbid) AS artist_mbid, any_value(artist_name) AS artist_name,
                  any_value(artist_familiarity) AS artist_familiarity, any_value(artist_hotttnesss) AS artist_hotttnesss
           FROM songs GROUP BY artist_id ORDER BY artist_id"""
    ).to_arrow_table()
    con.register("dim_songs_new", dim_songs)
    fact_day = con.sql(
        """SELECT s.session_id, s.song_id, s.user_id, d.artist_id, s.session_start_time, s.price, s.liked, s.liked_since
           FROM day_sessions s LEFT JOIN dim_songs_new d USING (song_id) ORDER BY s.session_id"""
    ).to_arrow_table()
    users_day = con.sql(
        """SELECT user_id, user_name, user_lastname, city, country_name, country_code, latitude, longitude, user_since
           FROM day_users ORDER BY user_id"""
    ).to_arrow_table()
    _write(s3, f"{serving_path(cfg, 'fact_session')}/ingestion_date={ds}", fact_day)
    _write(s3, f"{serving_path(cfg, 'dim_users')}/ingestion_date={ds}", users_day)
    _write(s3, serving_path(cfg, "dim_songs"), dim_songs)
    _write(s3, serving_path(cfg, "dim_artists"), dim_artists)
    tables = {
        "fact_session": _read_serving(s3, cfg, "fact_session"),
        "dim_users": _read_serving(s3, cfg, "dim_users"),
        "dim_songs": dim_songs,
        "dim_artists": dim_artists,
    }
    for name, table in tables.items():
        con.register(name, table)
    counts = {"fact_session_day": fact_day.num_rows, "fact_session": tables["fact_session"].num_rows}
    for name, sql in VIEWS.items():
        view = con.sql(sql).to_arrow_table()
        _write(s3, serving_path(cfg, name), view)
        counts[name] = view.num_rows
    return counts
