#!/usr/bin/env bash
# Load benchmark of berthd: GET of a registry and PUT (update) of one of 64 registries at 64 connections, on SQLite and on
# PostgreSQL, next to a minimal axum "hello" server as the baseline, all measured by the same
# load generator (wrk) in the same run. Servers run on CPU 0, wrk on CPU 1, so the figures
# are per server core. Prints saturated throughput and latency (64 connections) and unloaded
# latency (1 connection), with each figure's ratio to the baseline.
#
# Usage: bench/run.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
pg_url="${BERTH_BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p berth-api --bin berthd --example hello
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
pids=()
schema="bench_$(date +%s)_$$"
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    psql "$pg_url" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
source bench/lib.sh

# The baseline.
hello_port=$(free_port)
taskset -c 0 "$bin/examples/hello" "127.0.0.1:$hello_port" >/dev/null &
pids+=($!)
wait_up "http://127.0.0.1:$hello_port/hello"

# berthd on SQLite and on PostgreSQL (a schema of its own), plain HTTP like the baseline; the
# embedded trust server on a free port, so that other berthd processes on this machine (on
# the default 4443) do not stop it. Called in this shell, not in $( ), so that its pid is
# kept for the cleanup; the URL to load is left in $work/<name>.url.
start_berthd() { # name, extra env...
    local name=$1 port; shift
    port=$(free_port)
    env BERTH_LISTEN="127.0.0.1:$port" BERTH_TRUST_LISTEN=127.0.0.1:0 BERTH_DATA_DIR="$work/$name" \
        BERTH_TLS=off RUST_LOG=warn "$@" taskset -c 0 "$bin/berthd" >"$work/$name.log" 2>&1 &
    pids+=($!)
    wait_up "http://127.0.0.1:$port/readyz"
    local base="http://127.0.0.1:$port"
    # The bootstrap owner's token (every request carries one) and 64 registries: GETs read
    # benchreg0, PUTs update one picked at random per request.
    python3 bench/registries.py "$base" "$work/$name/bootstrap-owner.json" "$work/$name.token" "$work/$name.url"
}
start_berthd sqlite
start_berthd postgres BERTH_DATABASE_URL="$pg_url" BERTH_DATABASE_SCHEMA="$schema"
sqlite_url=$(cat "$work/sqlite.url")
pg_url_reg=$(cat "$work/postgres.url")

# wrk sends the bootstrap owner's token on every request (the file holds it for each server).
cat >"$work/get.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer " .. io.open(os.getenv("BERTH_TOKEN_FILE")):read("*l")
LUA
cat >"$work/put.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer " .. io.open(os.getenv("BERTH_TOKEN_FILE")):read("*l")
wrk.method = "PUT"
wrk.body = '{"location":"westus","sku":{"name":"Premium"},"tags":{"bench":"yes"},"properties":{"adminUserEnabled":false}}'
wrk.headers["Content-Type"] = "application/json"
local base = wrk.path:gsub("benchreg0", "benchreg%%d")
request = function()
    return wrk.format(nil, string.format(base, math.random(0, 63)))
end
LUA

results="$work/results"
{
    run "hello-GET" 64 "http://127.0.0.1:$hello_port/hello"
    run "sqlite-GET" 64 "$sqlite_url" "$work/get.lua" "$work/sqlite.token"
    run "sqlite-PUT" 64 "$sqlite_url" "$work/put.lua" "$work/sqlite.token"
    run "postgres-GET" 64 "$pg_url_reg" "$work/get.lua" "$work/postgres.token"
    run "postgres-PUT" 64 "$pg_url_reg" "$work/put.lua" "$work/postgres.token"
    run "hello-GET-unloaded" 1 "http://127.0.0.1:$hello_port/hello"
    run "sqlite-GET-unloaded" 1 "$sqlite_url" "$work/get.lua" "$work/sqlite.token"
    run "sqlite-PUT-unloaded" 1 "$sqlite_url" "$work/put.lua" "$work/sqlite.token"
    run "postgres-GET-unloaded" 1 "$pg_url_reg" "$work/get.lua" "$work/postgres.token"
    run "postgres-PUT-unloaded" 1 "$pg_url_reg" "$work/put.lua" "$work/postgres.token"
} >"$results"

echo
echo "berthd benchmark: ${secs}s per run, server on CPU 0, wrk on CPU 1 ($(nproc) CPUs)"
awk '
    { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; order[NR] = $1 }
    END {
        printf "%-24s %10s %8s %9s %9s %9s %9s\n", "run", "req/s", "x hello", "p50 ms", "x hello", "p99 ms", "x hello"
        for (i = 1; i <= NR; i++) {
            k = order[i]; base = (k ~ /unloaded/) ? "hello-GET-unloaded" : "hello-GET"
            printf "%-24s %10d %8.3f %9.3f %9.1f %9.3f %9.1f\n", k, rps[k], rps[k] / rps[base], p50[k], p50[k] / p50[base], p99[k], p99[k] / p99[base]
        }
    }' "$results"
