"""Deterministic DeFtunes sources: the song catalogue (a PostgreSQL table),
and the users and sessions "API" responses (JSON) of one day.

Everything is drawn from `random.Random` seeded by the day, so the same
day always yields the same data. An incident, chosen per day, corrupts the
day's sessions the way real extractions go wrong.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

#: Incidents the generator can inject, and what each does to the day.
INCIDENTS = {
    "row_count_drop": "the sessions API returns under a third of the day's sessions",
    "price_bug": "5% of sessions carry prices in cents (99.0 instead of 0.99)",
    "orphan_sessions": "3% of sessions name a user the users API never returned",
    "late_data": "10% of the day's sessions started three days earlier (late arrivals)",
}

SONGS = 300
ARTISTS = 40
INITIAL_USERS = 200
NEW_USERS_PER_DAY = 25
SESSIONS_PER_DAY = 600

COUNTRIES = [
    ("New York", "United States", "US", 40.71, -74.0),
    ("London", "United Kingdom", "GB", 51.5, -0.12),
    ("Berlin", "Germany", "DE", 52.52, 13.4),
    ("Paris", "France", "FR", 48.85, 2.35),
    ("São Paulo", "Brazil", "BR", -23.55, -46.63),
    ("Toronto", "Canada", "CA", 43.65, -79.38),
    ("Tokyo", "Japan", "JP", 35.68, 139.69),
    ("Madrid", "Spain", "ES", 40.41, -3.7),
    ("Sydney", "Australia", "AU", -33.86, 151.2),
    ("Stockholm", "Sweden", "SE", 59.33, 18.06),
]
FIRST_NAMES = ["Ana", "Ben", "Chloé", "Dev", "Emi", "Femi", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lia"]
LAST_NAMES = ["Silva", "Smith", "Müller", "Martin", "Sato", "García", "Brown", "Nowak", "Rossi", "Berg"]
WORDS = ["Blue", "Night", "River", "Echo", "Gold", "Rain", "Fire", "Dream", "Stone", "Sky", "Home", "Run"]
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

SONG_COLUMNS = [
    ("track_id", "TEXT PRIMARY KEY"),
    ("title", "TEXT NOT NULL"),
    ("song_id", "TEXT NOT NULL"),
    ("release", "TEXT"),
    ("artist_id", "TEXT NOT NULL"),
    ("artist_mbid", "TEXT"),
    ("artist_name", "TEXT"),
    ("duration", "DOUBLE PRECISION"),
    ("artist_familiarity", "DOUBLE PRECISION"),
    ("artist_hotttnesss", "DOUBLE PRECISION"),
    ("year", "INTEGER"),
    ("track_7digitalid", "INTEGER"),
    ("shs_perf", "INTEGER"),
    ("shs_work", "INTEGER"),
]


def _rng(*key: object) -> random.Random:
    return random.Random("/".join(str(k) for k in key))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _code(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(ALNUM) for _ in range(16))


def songs() -> list[dict]:
    """The song catalogue (the same every day)."""
    rng = _rng("songs")
    artists = [
        {
            "artist_id": _code(rng, "AR"),
            "artist_mbid": _uuid(rng),
            "artist_name": f"The {rng.choice(WORDS)} {rng.choice(WORDS)}s {i}",
            "artist_familiarity": round(rng.random(), 4),
            "artist_hotttnesss": round(rng.random(), 4),
        }
        for i in range(ARTISTS)
    ]
    out = []
    for _ in range(SONGS):
        artist = rng.choice(artists)
        out.append(
            {
                "track_id": _code(rng, "TR"),
                "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)}",
                "song_id": _code(rng, "SO"),
                "release": f"{rng.choice(WORDS)} Sessions",
                **artist,
                "duration": round(rng.uniform(120, 420), 2),
                "year": rng.choice([0] + list(range(1965, 2026))),
                "track_7digitalid": rng.randrange(1, 10_000_000),
                "shs_perf": -1,
                "shs_work": 0,
            }
        )
    return out


def seed_songs(postgres_url: str) -> int:
    """Creates and fills the operational `songs` table if it is empty."""
    import psycopg

    rows = songs()
    names = [c for c, _ in SONG_COLUMNS]
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS songs (" + ", ".join(f"{c} {t}" for c, t in SONG_COLUMNS) + ")")
        (count,) = conn.execute("SELECT COUNT(*) FROM songs").fetchone()
        if count == 0:
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO songs ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))})",
                    [tuple(r[c] for c in names) for r in rows],
                )
        (count,) = conn.execute("SELECT COUNT(*) FROM songs").fetchone()
    return count


def extract_songs(postgres_url: str) -> list[dict]:
    """The catalogue as the extraction job reads it from PostgreSQL."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(postgres_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM songs ORDER BY track_id").fetchall()


def _users_of(day: date, start: date) -> list[dict]:
    rng = _rng("users", day.isoformat())
    count = INITIAL_USERS if day == start else NEW_USERS_PER_DAY
    midnight = datetime.combine(day, time(), UTC)
    out = []
    for _ in range(count):
        city, country, code, lat, lon = rng.choice(COUNTRIES)
        out.append(
            {
                "user_id": _uuid(rng),
                "user_name": rng.choice(FIRST_NAMES),
                "user_lastname": rng.choice(LAST_NAMES),
                "user_location": [city, country, code, str(lat), str(lon)],
                "user_since": (midnight + timedelta(seconds=rng.randrange(86_400))).isoformat(),
            }
        )
    return out


def users_api(start_date: str, end_date: str, first_day: date) -> str:
    """The users endpoint: users who signed up in [start_date, end_date), as JSON."""
    day, end = date.fromisoformat(start_date), date.fromisoformat(end_date)
    out = []
    while day < end:
        out.extend(_users_of(day, first_day))
        day += timedelta(days=1)
    return json.dumps({"users": out})


def sessions_api(start_date: str, end_date: str, first_day: date, incidents: dict[str, str]) -> str:
    """The sessions endpoint: sessions of [start_date, end_date), as JSON,
    with the day's incident applied."""
    catalogue = songs()
    day, end = date.fromisoformat(start_date), date.fromisoformat(end_date)
    out = []
    while day < end:
        out.extend(_sessions_of(day, first_day, catalogue, incidents.get(day.isoformat())))
        day += timedelta(days=1)
    return json.dumps({"sessions": out})


def _sessions_of(day: date, first_day: date, catalogue: list[dict], incident: str | None) -> list[dict]:
    rng = _rng("sessions", day.isoformat())
    # Sessions name the initial population and the day's new users only, so
    # a day that stopped never leaves later days pointing at its users.
    known = [u["user_id"] for u in _users_of(first_day, first_day)]
    if day != first_day:
        known += [u["user_id"] for u in _users_of(day, first_day)]
    count = SESSIONS_PER_DAY + rng.randrange(-30, 31)
    midnight = datetime.combine(day, time(), UTC)
    out = []
    for _ in range(count):
        song = rng.choice(catalogue)
        started = midnight + timedelta(seconds=rng.randrange(86_400))
        liked = rng.random() < 0.4
        out.append(
            {
                "session_id": _uuid(rng),
                "user_id": rng.choice(known),
                "song_id": song["track_id"],
                "artist_name": song["artist_name"],
                "price": rng.choice([0.99, 1.29, 1.49, 0.69, 1.99]),
                "liked": liked,
                "liked_since": (started + timedelta(seconds=rng.randrange(1, 600))).isoformat() if liked else None,
                "session_start_time": started.isoformat(),
            }
        )
    return _inject(out, incident, _rng("incident", day.isoformat()))


def _inject(sessions: list[dict], incident: str | None, rng: random.Random) -> list[dict]:
    if incident is None:
        return sessions
    if incident == "row_count_drop":
        return sessions[: len(sessions) * 3 // 10]
    if incident == "price_bug":
        for s in rng.sample(sessions, len(sessions) // 20):
            s["price"] = round(s["price"] * 100, 2)
        return sessions
    if incident == "orphan_sessions":
        for s in rng.sample(sessions, len(sessions) * 3 // 100):
            s["user_id"] = _uuid(rng)
        return sessions
    if incident == "late_data":
        for s in rng.sample(sessions, len(sessions) // 10):
            for k in ("session_start_time", "liked_since"):
                if s[k] is not None:
                    s[k] = (datetime.fromisoformat(s[k]) - timedelta(days=3)).isoformat()
        return sessions
    raise ValueError(f"unknown incident {incident!r}")
