#!/usr/bin/env bash
# dqgate in-process against dqgate on a loopback Apache DataFusion Ballista
# cluster (a scheduler and two executors from examples/ballista_node.rs),
# alternating, N times each, on the sessions ruleset of ../shared/bench.
# Reports the median wall time of each, the ratio, the executors' peak RSS,
# and whether both reports agree (every outcome; metrics within 1e-9
# relative). The cluster shares this machine's cores: the figure is the
# overhead of distribution (planning round trips, shuffles through files
# and Flight), not a speed-up.
#
#   bench/distributed.sh DATA_DIR [RUNS]
#
# DQGATE_BIN is a release dqgate built with `--features distributed`
# (default: $CARGO_TARGET_DIR/release/dqgate), DQGATE_BALLISTA_NODE the
# release example (cargo build --release --features distributed --example
# ballista_node). BENCH_PORT is the scheduler's port (default 50150; the
# executors take the next four).
set -euo pipefail
data=$1
runs=${2:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
kit=${DQGATE_BENCH_KIT:-$root/../shared/bench}
target=${CARGO_TARGET_DIR:-$root/target}
bin=${DQGATE_BIN:-$target/release/dqgate}
node=${DQGATE_BALLISTA_NODE:-$target/release/examples/ballista_node}
port=${BENCH_PORT:-50150}
now=${BENCH_NOW:-2026-11-26T12:00:00}Z
tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

export RUST_LOG=warn
"$node" scheduler "$port" 2> "$tmp/scheduler.log" & pids+=($!)
sleep 1
for i in 1 2; do
    RUST_LOG=info "$node" executor $((port + 2 * i - 1)) "$port" 2> "$tmp/executor$i.log" & pids+=($!)
done
for i in 1 2; do
    for _ in $(seq 100); do grep -q Connected "$tmp/executor$i.log" && break; sleep 0.1; done
    grep -q Connected "$tmp/executor$i.log" || { echo "executor $i did not register" >&2; cat "$tmp/executor$i.log" >&2; exit 1; }
done

measure() { # name, engine
    /usr/bin/time -f "%e %M" -o "$tmp/t" "$bin" check --ruleset "$kit/sessions.dqdl" \
        --data "$data/sessions" --data "users=$data/users.parquet" \
        --data "songs=$data/songs.parquet" --now "$now" --format json --engine "$2" \
        > "$tmp/$1.json" 2> "$tmp/$1.err" || true
    grep -v '^Command' "$tmp/t" >> "$tmp/$1.times"
}
for _ in $(seq "$runs"); do
    measure local local
    measure cluster "df://127.0.0.1:$port"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
wall() { cut -d' ' -f1 "$tmp/$1.times" | median; }
rss_mib() { echo "$(cut -d' ' -f2 "$tmp/$1.times" | median) / 1024" | bc -l; }
executor_rss() { # the executors' peak RSS now (they live across runs)
    for p in "${pids[@]:1}"; do awk '/VmHWM/ {print $2}' "/proc/$p/status"; done |
        awk '{s += $1} END {printf "%.0f", s / 1024}'
}
echo "runs: $runs each, alternating; data: $data"
printf "%-8s %10s %24s\n" engine "wall s" "dqgate peak RSS MiB"
printf "%-8s %10s %24.0f\n" local "$(wall local)" "$(rss_mib local)"
printf "%-8s %10s %24.0f\n" cluster "$(wall cluster)" "$(rss_mib cluster)"
printf "ratio cluster/local: wall %.2f\n" "$(echo "$(wall cluster) / $(wall local)" | bc -l)"
echo "executors' peak RSS, both together: $(executor_rss) MiB"
echo "tasks run: $(cat "$tmp"/executor*.log | grep -c 'Received task')"
python3 - "$tmp/local.json" "$tmp/cluster.json" <<'EOF'
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = []
for x, y in zip(a["rules"], b["rules"]):
    if x["outcome"] != y["outcome"]:
        bad.append(f'{x["rule"]}: {x["outcome"]} vs {y["outcome"]}')
    for k, v in x.get("metrics", {}).items():
        w = y.get("metrics", {}).get(k)
        if w is None or not math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-12):
            bad.append(f'{x["rule"]} {k}: {v} vs {w}')
print(f'{len(a["rules"])} rules: ' + ("all agree" if not bad else f"{len(bad)} differ"))
for line in bad:
    print("  " + line)
sys.exit(1 if bad else 0)
EOF
