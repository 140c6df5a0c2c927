#!/usr/bin/env bash
# S3 against local reads, and a daily slice against the whole table.
#
#   bench/s3.sh DATA_DIR DAILY_DIR DAY [RUNS]
#
# DATA_DIR comes from ../shared/bench/gen_data.py. DAILY_DIR holds the same
# sessions partitioned by ingestion_date, plus users.parquet and
# songs.parquet; one DuckDB statement makes it (from their parent folder):
#   COPY (SELECT *, CAST(session_start_time AS DATE) AS ingestion_date
#         FROM 'DATA/sessions/*.parquet')
#   TO 'DAILY/sessions' (FORMAT parquet, PARTITION_BY (ingestion_date))
# Both must sit in the same parent folder, which a loopback S3 server
# (examples/s3_server.rs, s3s-fs) serves, one bucket per folder. Runs alternate; medians are printed.
# Build first:  cargo build --release --bin dqgate --example s3_server
# Each S3 run's requests are counted from the server's request log.
set -euo pipefail
data=$(cd "$1" && pwd)
daily=$(cd "$2" && pwd)
day=$3
runs=${4:-3}
[ "$(dirname "$data")" = "$(dirname "$daily")" ] || { echo "DATA_DIR and DAILY_DIR must share a parent folder" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DQGATE_BENCH_KIT:-$root/../shared/bench}
target=${CARGO_TARGET_DIR:-$root/target}/release
bin=${DQGATE_BIN:-$target/dqgate}
server=${DQGATE_S3_SERVER:-$target/examples/s3_server}
now=${BENCH_NOW:-2026-11-26T12:00:00}Z
next=$(date -u -d "$day + 1 day" +%F)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench-secret-key AWS_REGION=us-east-1
tmp=$(mktemp -d)
S3_SERVER_LOG_REQUESTS=1 "$server" "$(dirname "$data")" "$port" 2> "$tmp/server.log" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1
b=$(basename "$data"); d=$(basename "$daily")
s3=(--s3-endpoint "http://127.0.0.1:$port")
rules=(--ruleset "$shared/sessions.dqdl" --now "$now" --format json)

requests() { grep -c '^request ' "$tmp/server.log" || true; }
measure() { # name, command...
    local name=$1; shift
    local before; before=$(requests)
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" || true
    cat "$tmp/t" >> "$tmp/$name.times"
    # The S3 requests this run made, by kind (GET with a range, whole GET, HEAD, LIST).
    { grep '^request ' "$tmp/server.log" || true; } | tail -n +"$((before + 1))" | awk '
        $3 ~ /list-type=/ {l++; next} $2 == "HEAD" {h++; next}
        $2 == "GET" && $4 != "-" {r++; next} $2 == "GET" {g++}
        END {printf "%d %d %d %d\n", r, g, h, l}' >> "$tmp/$name.requests"
}
for i in $(seq "$runs"); do
    measure local "$bin" check "${rules[@]}" --data "$data/sessions" \
        --data "users=$data/users.parquet" --data "songs=$data/songs.parquet"
    measure s3 "$bin" check "${rules[@]}" "${s3[@]}" --data "s3://$b/sessions" \
        --data "users=s3://$b/users.parquet" --data "songs=s3://$b/songs.parquet"
    measure s3_table "$bin" check "${rules[@]}" "${s3[@]}" --data "s3://$d/sessions" \
        --data "users=s3://$d/users.parquet" --data "songs=s3://$d/songs.parquet"
    measure s3_day "$bin" check "${rules[@]}" "${s3[@]}" --data "s3://$d/sessions" \
        --data "users=s3://$d/users.parquet" --data "songs=s3://$d/songs.parquet" \
        --slice-column ingestion_date --start-date "$day" --end-date "$next"
done
python3 - "$tmp" <<'PY'
import json, statistics, sys
tmp = sys.argv[1]
def times(name):
    # /usr/bin/time adds "Command exited with non-zero status 1" when rules fail.
    rows = [l.split() for l in open(f"{tmp}/{name}.times") if not l.startswith("Command")]
    return statistics.median(float(r[0]) for r in rows), statistics.median(float(r[1]) for r in rows) / 1024
def report(name):
    return json.load(open(f"{tmp}/{name}.out"))
def essence(name):
    return [(x["rule"], x["outcome"], x["message"]) for x in report(name)["rules"]]
def requests(name):
    runs = [list(map(int, l.split())) for l in open(f"{tmp}/{name}.requests")]
    return [statistics.median(r[k] for r in runs) for k in range(4)]
for name in ["local", "s3", "s3_table", "s3_day"]:
    wall, rss = times(name)
    line = f"{name:9} wall {wall:7.2f} s   peak RSS {rss:7.0f} MiB"
    if name != "local":
        r, g, h, l = requests(name)
        line += f"   requests: {r + g + h + l:.0f} ({r:.0f} ranged GET, {g:.0f} GET, {h:.0f} HEAD, {l:.0f} LIST)"
    print(line)
lw, lm = times("local"); sw, sm = times("s3"); tw, _ = times("s3_table"); dw, _ = times("s3_day")
print(f"S3 / local: wall {sw / lw:.2f}, RSS {sm / lm:.2f}; reports identical: {essence('local') == essence('s3')}")
print(f"daily slice / whole partitioned table (S3): wall {dw / tw:.3f}")
print("slice:", report("s3_day")["sources"]["primary"].get("slice"))
PY
