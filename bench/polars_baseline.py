#!/usr/bin/env python3
"""Polars baseline: the 26 metrics of the bench ruleset as one lazy query.

    polars_baseline.py DATA_DIR [--json OUT]

Same CLI and JSON shape as the kit's duckdb_baseline.py, whose definitions it
follows (spec.py and the sessions.dqdl header): exclusive `between`, NULL rows
fail row-level rules, Completeness = non-NULL / all rows, Uniqueness = rows
whose value occurs exactly once / non-NULL rows, natural-log entropy,
population standard deviation, interpolated median, pairwise-complete Pearson
correlation, BENCH_NOW as the DataFreshness clock.

The plan is built on polars.scan_parquet and collected once: an aggregate over
sessions LEFT JOIN users (every count, ratio, moment, the median, the
correlation, referential integrity and the country check) placed side by side
with two group-bys over sessions (session_id for uniqueness, song_id for the
distinct count and entropy). Thresholds are judged by spec.assess, as for
DuckDB. spec.py is imported from the kit: DQGATE_BENCH_KIT, or ../shared/bench
beside the project root (as bench/run.sh resolves it). bench/compare.py
compares the JSON this writes with duckdb_baseline.py's.
"""
import math
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ.get("DQGATE_BENCH_KIT") or os.path.join(ROOT, "..", "shared", "bench"))

import polars as pl  # noqa: E402

import spec  # noqa: E402


def share(cond):
    """Number of rows where `cond` is true; a NULL condition counts as false."""
    return cond.fill_null(False).sum()


def aggregates(sessions, users, cutoff):
    """One row: every metric that needs no grouping, over sessions LEFT JOIN users."""
    joined = sessions.join(
        users.select("user_id", "country_code", pl.lit(True).alias("u_hit")),
        on="user_id",
        how="left",
    )
    price, listen = pl.col("price"), pl.col("listen_seconds")
    liked, since, start = pl.col("liked"), pl.col("liked_since"), pl.col("session_start_time")
    sid, uid, artist = pl.col("session_id"), pl.col("user_id"), pl.col("artist_name")
    hit = pl.col("u_hit").fill_null(False)
    pair = price.is_not_null() & listen.is_not_null()
    artist_len = artist.str.len_chars()
    return joined.select(
        pl.len().alias("n"),
        sid.count().alias("nn_session_id"),
        start.count().alias("nn_start"),
        uid.count().alias("nn_user_id"),
        price.count().alias("nn_price"),
        artist.count().alias("nn_artist"),
        price.mean().alias("mean_price"),
        price.sum().alias("sum_price"),
        price.std(ddof=0).alias("sd_price"),
        price.median().alias("median_price"),
        share((price > 0) & (price < 5)).alias("price_ok"),
        share(uid.str.contains(spec.UUID_RE_ANCHORED)).alias("uid_ok"),
        share(liked.is_in([True, False])).alias("liked_ok"),
        share(sid.str.len_chars() == 36).alias("sid_len_ok"),
        share((artist_len > 0) & (artist_len < 100)).alias("artist_len_ok"),
        pl.corr(price.filter(pair), listen.cast(pl.Float64).filter(pair)).alias("corr_price_listen"),
        share(start >= pl.lit(cutoff)).alias("fresh_ok"),
        share(since < start).alias("since_before_start"),
        share(hit & pl.col("country_code").is_in(spec.VALID_COUNTRIES)).alias("country_ok"),
        hit.sum().alias("ri_ok"),
        share(liked).alias("n_liked"),
        share(liked & since.is_not_null()).alias("nn_since_liked"),
        share(listen > 0).alias("listen_gt0"),
        share(listen <= 900).alias("listen_le900"),
    )


def session_id_groups(sessions):
    """One row: non-NULL session_id rows, and those whose value occurs once."""
    counts = sessions.filter(pl.col("session_id").is_not_null()).group_by("session_id").agg(pl.len().alias("c"))
    return counts.select(
        (pl.col("c") == 1).sum().alias("sid_unique_rows"),
        pl.col("c").sum().alias("sid_nonnull"),
    )


def song_id_groups(sessions):
    """One row: distinct non-NULL song_id values, their rows, and sum(c ln c)."""
    counts = sessions.filter(pl.col("song_id").is_not_null()).group_by("song_id").agg(pl.len().alias("c"))
    c = pl.col("c").cast(pl.Float64)
    return counts.select(
        pl.len().alias("song_distinct"),
        pl.col("c").sum().alias("song_nonnull"),
        (c * c.log()).sum().alias("song_c_ln_c"),
    )


def main():
    args = spec.cli()
    p = spec.paths(args.data_dir)
    rep = spec.Report("polars", pl.__version__, args.data_dir)
    sessions = pl.scan_parquet(p["sessions_glob"])
    users = pl.scan_parquet(p["users"])
    plan = pl.concat(
        [aggregates(sessions, users, spec.fresh_cutoff()), session_id_groups(sessions), song_id_groups(sessions)],
        how="horizontal",
    )
    m = plan.collect().row(0, named=True)

    n = m["n"]
    uniq = m["sid_unique_rows"] / m["sid_nonnull"]
    nn = m["song_nonnull"]
    metrics = {
        "R01": n,
        "R02": m["nn_session_id"] / n,
        "R03": m["nn_start"] / n,
        "R04": m["nn_user_id"] / n,
        "R05": m["nn_price"] / n,
        "R06": m["nn_artist"] / n,
        "R07": uniq,
        "R08": m["song_distinct"],
        "R09": math.log(nn) - m["song_c_ln_c"] / nn,  # -sum p ln p with p = c / nn
        "R10": m["mean_price"],
        "R11": m["sum_price"],
        "R12": m["sd_price"],
        "R13": m["median_price"],
        "R14": m["price_ok"] / n,
        "R15": m["uid_ok"] / n,
        "R16": m["liked_ok"] / n,
        "R17": m["sid_len_ok"] / n,
        "R18": m["artist_len_ok"] / n,
        "R19": m["corr_price_listen"],
        "R20": m["fresh_ok"] / n,
        "R21": m["since_before_start"],
        "R22": m["country_ok"] / m["ri_ok"] if m["ri_ok"] else None,
        "R23": m["ri_ok"] / n,
        "R24": m["nn_since_liked"] / m["n_liked"],
        "R25": [m["listen_gt0"] / n, m["listen_le900"] / n],
        "R26": [uniq, uniq],
    }
    for cid, v in metrics.items():
        rep.put(cid, spec.assess(cid, v), v, "custom-code")
    rep.finish(args.json_out)


if __name__ == "__main__":
    main()
