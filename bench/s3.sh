#!/usr/bin/env bash
# The same check over the same files read locally and through a loopback S3
# server (examples/s3_server.rs, s3s-fs), alternating, N times each; then a
# daily slice against the whole table, both through S3.
#
#   bench/s3.sh DATA_DIR [RUNS]
#
# DATA_DIR comes from ../shared/bench/gen_data.py. Build first:
#   cargo build --release --bin dqgate --example s3_server
set -euo pipefail
data=$(cd "$1" && pwd)
runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DQGATE_BENCH_KIT:-$root/../shared/bench}
target=${CARGO_TARGET_DIR:-$root/target}/release
bin=${DQGATE_BIN:-$target/dqgate}
server=${DQGATE_S3_SERVER:-$target/examples/s3_server}
now=${BENCH_NOW:-2026-11-26T12:00:00}Z
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1
tmp=$(mktemp -d)
"$server" "$(dirname "$data")" "$port" 2> "$tmp/server.log" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1
bucket=$(basename "$data")
s3="--s3-endpoint http://127.0.0.1:$port"

measure() { # name, command...
    local name=$1; shift
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || true
    cat "$tmp/t" >> "$tmp/$name.times"
}
for i in $(seq "$runs"); do
    measure local "$bin" check --ruleset "$shared/sessions.dqdl" --data "$data/sessions" \
        --data "users=$data/users.parquet" --data "songs=$data/songs.parquet" --now "$now" --format json
    measure s3 "$bin" check --ruleset "$shared/sessions.dqdl" --data "s3://$bucket/sessions" \
        --data "users=s3://$bucket/users.parquet" --data "songs=s3://$bucket/songs.parquet" \
        $s3 --now "$now" --format json
    measure s3_day "$bin" check --ruleset "$shared/sessions.dqdl" --data "s3://$bucket/sessions" \
        --data "users=s3://$bucket/users.parquet" --data "songs=s3://$bucket/songs.parquet" \
        $s3 --slice-column ingestion_date --start-date 2026-11-25 --end-date 2026-11-26 \
        --now "$now" --format json
done
python3 - "$tmp" <<'PY'
import json, statistics, sys
tmp = sys.argv[1]
def times(name):
    rows = [l.split() for l in open(f"{tmp}/{name}.times")]
    return statistics.median(float(r[0]) for r in rows), statistics.median(float(r[1]) for r in rows) / 1024
def essence(name):
    r = json.load(open(f"{tmp}/{name}.out"))
    return [(x["rule"], x["outcome"], x["message"]) for x in r["rules"]]
for name in ["local", "s3", "s3_day"]:
    wall, rss = times(name)
    print(f"{name:8} wall {wall:7.2f} s   peak RSS {rss:7.0f} MiB")
lw, _ = times("local"); sw, _ = times("s3"); dw, _ = times("s3_day")
print(f"S3 / local wall: {sw / lw:.2f}; daily slice / whole table (S3): {dw / sw:.2f}")
print("reports identical (local vs S3):", essence("local") == essence("s3"))
day = json.load(open(f"{tmp}/s3_day.out"))
print("slice:", day["sources"]["primary"].get("slice"), "rows:",
      [x["metrics"].get("Dataset.*.RowCount") for x in day["rules"] if x["rule"].startswith("RowCount")])
PY
