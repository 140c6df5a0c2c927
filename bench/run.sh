#!/usr/bin/env bash
# dqgate against DuckDB on the same files, alternating, N times each.
# Reports the median wall time and peak RSS of each, and their ratio.
#
#   bench/run.sh DATA_DIR [RUNS]
#
# DATA_DIR comes from ../shared/bench/gen_data.py; .bench-venv must hold the
# packages of ../shared/bench/requirements.txt; dqgate is the release binary
# (cargo build --release). BENCH_NOW pins "now" for both tools.
set -euo pipefail
data=$1
runs=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DQGATE_BENCH_KIT:-$root/../shared/bench}
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
    measure dqgate "$bin" check --ruleset "$shared/sessions.dqdl" --data "$data/sessions" \
        --data "users=$data/users.parquet" --data "songs=$data/songs.parquet" \
        --now "${BENCH_NOW}Z" --format json
    cp "$tmp/dqgate.out" "$tmp/dq.json"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
dw=$(cut -d' ' -f1 < "$tmp/duckdb.times" | median); dm=$(cut -d' ' -f2 < "$tmp/duckdb.times" | median)
qw=$(cut -d' ' -f1 < "$tmp/dqgate.times" | median); qm=$(cut -d' ' -f2 < "$tmp/dqgate.times" | median)
echo "runs: $runs each, alternating; data: $data"
printf "%-8s %10s %14s\n" tool "wall s" "peak RSS MiB"
printf "%-8s %10s %14.0f\n" duckdb "$dw" "$(echo "$dm / 1024" | bc -l)"
printf "%-8s %10s %14.0f\n" dqgate "$qw" "$(echo "$qm / 1024" | bc -l)"
printf "ratio dqgate/duckdb: wall %.2f, RSS %.2f\n" "$(echo "$qw / $dw" | bc -l)" "$(echo "$qm / $dm" | bc -l)"
"$py" "$root/bench/compare.py" "$tmp/dq.json" "$tmp/duck.json" | tail -1
