#!/usr/bin/env bash
# dqgate against DuckDB and Polars on the same files, alternating, N times each.
# Reports the median wall time and peak RSS of each, dqgate's ratio against
# each, and whether dqgate's and Polars' metrics agree with DuckDB's on all 26
# rules (bench/compare.py; the exit status is 1 if either does not).
#
#   bench/run.sh DATA_DIR [RUNS]
#
# DATA_DIR comes from ../shared/bench/gen_data.py; .bench-venv must hold the
# packages of ../shared/bench/requirements.txt plus polars; dqgate is the
# release binary (cargo build --release), or DQGATE_BIN. DQGATE_BENCH_KIT is
# the kit (default ../shared/bench). BENCH_NOW pins "now" for all three tools.
# DuckDB runs the kit's duckdb_baseline.py, Polars bench/polars_baseline.py
# (the same 26 metrics as one lazy scan_parquet query). BENCH_POLARS=0 leaves
# Polars out (at 100M rows it needs more memory than the reference machine has).
set -euo pipefail
data=$1
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
export DQGATE_BENCH_KIT=${DQGATE_BENCH_KIT:-$root/../shared/bench}
shared=$DQGATE_BENCH_KIT
py=$root/.bench-venv/bin/python
bin=${DQGATE_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/dqgate}
export BENCH_NOW=${BENCH_NOW:-2026-11-26T12:00:00}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

measure() { # name, command...
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || true
    cat "$tmp/t" >> "$tmp/$name.times"
}

for i in $(seq "$runs"); do
    measure duckdb "$py" "$shared/duckdb_baseline.py" "$data" --json "$tmp/duck.json"
    if [ "${BENCH_POLARS:-1}" != 0 ]; then
        measure polars "$py" "$root/bench/polars_baseline.py" "$data" --json "$tmp/polars.json"
    fi
    measure dqgate "$bin" check --ruleset "$shared/sessions.dqdl" --data "$data/sessions" \
        --data "users=$data/users.parquet" --data "songs=$data/songs.parquet" \
        --now "${BENCH_NOW}Z" --format json
    cp "$tmp/dqgate.out" "$tmp/dq.json"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# /usr/bin/time writes "Command exited with non-zero status 1" before the
# figures when rules fail (dqgate exits 1 then): only figure lines count.
figures() { grep -v '^Command' "$tmp/$1.times"; }
wall() { figures "$1" | cut -d' ' -f1 | median; }
rss() { figures "$1" | cut -d' ' -f2 | median; }
echo "runs: $runs each, alternating; data: $data"
printf "%-8s %10s %14s\n" tool "wall s" "peak RSS MiB"
tools=(duckdb polars dqgate); others=(duckdb polars); pairs=(dqgate:dq polars:polars)
if [ "${BENCH_POLARS:-1}" = 0 ]; then tools=(duckdb dqgate); others=(duckdb); pairs=(dqgate:dq); fi
for t in "${tools[@]}"; do
    printf "%-8s %10s %14.0f\n" "$t" "$(wall $t)" "$(echo "$(rss $t) / 1024" | bc -l)"
done
for t in "${others[@]}"; do
    printf "ratio dqgate/%s: wall %.2f, RSS %.2f\n" "$t" \
        "$(echo "$(wall dqgate) / $(wall $t)" | bc -l)" "$(echo "$(rss dqgate) / $(rss $t)" | bc -l)"
done
status=0
for pair in "${pairs[@]}"; do
    agree=$("$py" "$root/bench/compare.py" "$tmp/${pair#*:}.json" "$tmp/duck.json" 2>&1 | tail -1) || status=1
    echo "${pair%:*} vs duckdb: $agree"
done
exit $status
