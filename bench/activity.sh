#!/usr/bin/env bash
# The activity log's and the sign-in events' benchmark, in one run:
#  1. what the activity record adds to a control-plane write, and listing 100 of 1,000,000
#     events with each filter (cargo bench -p berth-infra --bench activity, on a SQLite file
#     and on PostgreSQL at $BERTH_TEST_POSTGRES_URL); goals: >= 0.9x, p99 < 50 ms;
#  2. the token path (GET /oauth2/token with Basic, as docker login sends it) of a berthd
#     writing every sign-in event to its daily file, against the same berthd with
#     BERTH_AUDIT_SINK=off, alternated three times each; goal: >= 0.95x.
# berthd runs on CPU 0 and wrk on CPU 1.
#
# Usage: bench/activity.sh [seconds per wrk run, default 10] [tokens: part 2 only]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
only="${2:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
pg="${BERTH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# Built first on both cores; the measurements run pinned.
cargo build --release -q -p berth-api --bin berthd
cargo bench -q -p berth-infra --bench activity --no-run 2>/dev/null
if [ "$only" != tokens ]; then
    echo "# 1. The activity record and the 1,000,000-event list"
    BERTH_BENCH_POSTGRES_URL="$pg" taskset -c 0 cargo bench -q -p berth-infra --bench activity 2>/dev/null
fi
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
source bench/lib.sh

# Two berthds, alike but for the sink, each with a registry and a pusher's refresh token.
declare -A base
for sink in file off; do
    port=$(free_port)
    base[$sink]="http://127.0.0.1:$port"
    mkdir -p "$work/$sink"
    env BERTH_LISTEN="127.0.0.1:$port" BERTH_TRUST_LISTEN=127.0.0.1:0 BERTH_DATA_DIR="$work/$sink/data" \
        BERTH_TLS=off BERTH_REGISTRY_BACKEND=none BERTH_AUDIT_SINK="$sink" RUST_LOG=warn \
        taskset -c 0 "$bin/berthd" >"$work/$sink/berthd.log" 2>&1 &
    pids+=($!)
    wait_up "${base[$sink]}/readyz"
    python3 bench/pusher.py "${base[$sink]}" "$work/$sink/data/bootstrap-owner.json" "$work/$sink"
    basic=$(printf '00000000-0000-0000-0000-000000000000:%s' "$(cat "$work/$sink/refresh")" | base64 -w0)
    cat >"$work/$sink/get.lua" <<LUA
wrk.headers["Authorization"] = "Basic $basic"
wrk.headers["User-Agent"] = "docker/20.10.24 go/go1.19"
LUA
done

declare -A rps
for round in 1 2 3; do
    for sink in off file; do
        # Each berthd's own login server is the service.
        path="/oauth2/token?service=$(cat "$work/$sink/service")&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&client_id=docker"
        r=$(run "$sink" 16 "${base[$sink]}$path" "$work/$sink/get.lua")
        rps[$sink]="${rps[$sink]:-} $(awk '{print $2}' <<<"$r")"
        echo "round $round, sink $sink: $r"
    done
done
lines=$(cat "$work"/file/data/audit/events-*.jsonl | wc -l)
echo
echo "# 2. The token path with sign-in events written (16 connections, ${secs} s runs)"
python3 - "${rps[off]}" "${rps[file]}" "$lines" <<'PY'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
print("| sink | req/s (3 runs) | median | vs off (goal >= 0.95) |")
print("|---|---|---|---|")
print(f"| off (baseline) | {' / '.join(f'{x:.0f}' for x in off)} | {statistics.median(off):.0f} | 1.00 |")
print(f"| daily file | {' / '.join(f'{x:.0f}' for x in on)} | {statistics.median(on):.0f} | {statistics.median(on) / statistics.median(off):.2f} |")
print(f"\n{sys.argv[3]} sign-in events were written to the file.")
PY
