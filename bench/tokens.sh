#!/usr/bin/env bash
# Benchmark of the registry token server, in one run:
# 1. the cryptography on one core (cargo bench --bench registry_tokens): raw jsonwebtoken
#    ES256 sign and verify, the ceiling 1/(t_verify + t_sign), and Berth's own primitives;
# 2. berthd (SQLite, plain HTTP) on CPU 0 under wrk on CPU 1: POST /oauth2/token
#    (refresh token -> access token) and GET /oauth2/token with Basic (the null-GUID user
#    and a refresh token, as docker login stores it), at 64 connections and at 1, for a
#    service principal holding AcrPush on the registry, next to a minimal axum server.
# Prints throughput against the ceiling and the baseline, and latencies.
#
# Usage: bench/tokens.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
crypto=$(taskset -c 0 cargo bench -q -p berth-infra --bench registry_tokens 2>/dev/null)
ceiling=$(awk '/ceiling/ { print $5 }' <<<"$crypto")
cargo build --release -q -p berth-api --bin berthd --example hello
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

hello_port=$(free_port)
taskset -c 0 "$bin/examples/hello" "127.0.0.1:$hello_port" >/dev/null &
pids+=($!)
wait_up "http://127.0.0.1:$hello_port/hello"

port=$(free_port)
base="http://127.0.0.1:$port"
# The embedded trust server on a free port: other berthd processes may hold the default 4443.
env BERTH_LISTEN="127.0.0.1:$port" BERTH_TRUST_LISTEN=127.0.0.1:0 BERTH_DATA_DIR="$work/data" \
    BERTH_TLS=off RUST_LOG=warn taskset -c 0 "$bin/berthd" >"$work/berthd.log" 2>&1 &
pids+=($!)
wait_up "$base/readyz"

# A registry, a service principal with AcrPush on it, and its refresh token from the
# exchange, as `az acr login` gets one.
python3 bench/pusher.py "$base" "$work/data/bootstrap-owner.json" "$work"
service=$(cat "$work/service")
scope="repository:team/app:pull,push"

cat >"$work/post.lua" <<LUA
local refresh = io.open("$work/refresh"):read("*l")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "grant_type=refresh_token&service=$service&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&refresh_token=" .. refresh
LUA
basic=$(printf '00000000-0000-0000-0000-000000000000:%s' "$(cat "$work/refresh")" | base64 -w0)
cat >"$work/get.lua" <<LUA
wrk.headers["Authorization"] = "Basic $basic"
LUA
# The answers must grant what was asked: a token without access would be cheaper.
granted=$(curl -sf -X POST --data-urlencode grant_type=refresh_token --data-urlencode "service=$service" \
    --data-urlencode "scope=$scope" --data-urlencode "refresh_token=$(cat "$work/refresh")" "$base/oauth2/token" \
    | python3 -c 'import base64,json,sys; t=json.load(sys.stdin)["access_token"].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(t+"=="))["access"])')
echo "access granted by the benchmarked token: $granted"

results="$work/results"
{
    run "hello-GET" 64 "http://127.0.0.1:$hello_port/hello"
    run "token-POST-refresh" 64 "$base/oauth2/token" "$work/post.lua"
    run "token-GET-basic" 64 "$base/oauth2/token?service=$service&scope=$scope" "$work/get.lua"
    run "hello-GET-unloaded" 1 "http://127.0.0.1:$hello_port/hello"
    run "token-POST-refresh-unloaded" 1 "$base/oauth2/token" "$work/post.lua"
    run "token-GET-basic-unloaded" 1 "$base/oauth2/token?service=$service&scope=$scope" "$work/get.lua"
} >"$results"

echo
echo "$crypto"
echo
echo "token server load: ${secs}s per run, server on CPU 0, wrk on CPU 1 ($(nproc) CPUs); ceiling $ceiling exchanges/s per core"
awk -v ceiling="$ceiling" '
    { rps[$1] = $2; p50[$1] = $3; p99[$1] = $4; order[NR] = $1 }
    END {
        printf "%-28s %10s %10s %8s %9s %9s\n", "run", "req/s", "x ceiling", "x hello", "p50 ms", "p99 ms"
        for (i = 1; i <= NR; i++) {
            k = order[i]; base = (k ~ /unloaded/) ? "hello-GET-unloaded" : "hello-GET"
            printf "%-28s %10d %10.2f %8.3f %9.3f %9.3f\n", k, rps[k], (k ~ /token/) ? rps[k] / ceiling : 0, rps[k] / rps[base], p50[k], p99[k]
        }
    }' "$results"
