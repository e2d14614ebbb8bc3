#!/usr/bin/env bash
# The portal's benchmark, in one run against one berthd (SQLite, plain HTTP on loopback):
#  1. the registry list with N registries (default 1,000) in the portal (its first page of
#     100, rendered as HTML for a signed-in Reader) against the JSON list API's same first
#     page (GET .../registries) as the baseline, both loaded by wrk at 1 and 16 connections;
#     goal: the portal takes at most 2x the API's time;
#  2. the weight of a first visit to the list (HTML, CSS, JS, icon) as sent to a browser
#     that takes gzip; goal: under 100 KB;
#  3. what the portal adds to the release binary: the size of its functions (symbols under
#     berth_api::portal) and of the static files it embeds.
# berthd runs on CPU 0 and wrk on CPU 1.
#
# Usage: bench/portal.sh [seconds per run, default 10] [registries, default 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
count="${2:-1000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p berth-api --bin berthd
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

port=$(free_port)
base="http://127.0.0.1:$port"
env BERTH_LISTEN="127.0.0.1:$port" BERTH_TRUST_LISTEN=127.0.0.1:0 BERTH_DATA_DIR="$work/data" \
    BERTH_TLS=off BERTH_REGISTRY_BACKEND=none RUST_LOG=warn taskset -c 0 "$bin/berthd" >"$work/berthd.log" 2>&1 &
pids+=($!)
wait_up "$base/readyz"
echo "setting up $count registries..."
python3 bench/portal.py setup "$base" "$work/data/bootstrap-owner.json" "$count" "$work"

cat >"$work/json.lua" <<'LUA'
wrk.headers["Authorization"] = "Bearer " .. io.open(os.getenv("BERTH_TOKEN_FILE")):read("*l")
LUA
cat >"$work/portal.lua" <<'LUA'
wrk.headers["Cookie"] = "__Host-berth-session=" .. io.open(os.getenv("BERTH_TOKEN_FILE")):read("*l")
LUA
json_url=$(cat "$work/json.url")
portal_url=$(cat "$work/portal.url")
results=()
for conns in 1 16; do
    results+=("$(run "JSON list, $conns conn" "$conns" "$json_url" "$work/json.lua" "$work/token")")
    results+=("$(run "portal list, $conns conn" "$conns" "$portal_url" "$work/portal.lua" "$work/session")")
done

echo
echo "## 1. The registry list, first page of 100 out of $count ($secs s runs)"
echo "| run | req/s | p50 ms | p99 ms | time vs JSON (goal <= 2.0) |"
echo "|---|---|---|---|---|"
field() { awk -v n="$2" '{print $(NF - n)}' <<<"$1"; }   # n: 2 rps, 1 p50, 0 p99
label() { awk '{NF -= 3; print}' <<<"$1"; }
for i in 0 2; do
    j=${results[$i]} p=${results[$((i + 1))]}
    echo "| $(label "$j") | $(field "$j" 2) | $(field "$j" 1) | $(field "$j" 0) | 1.00 |"
    echo "| $(label "$p") | $(field "$p" 2) | $(field "$p" 1) | $(field "$p" 0) | $(python3 -c "print(f'{$(field "$j" 2) / $(field "$p" 2):.2f}')") |"
done

echo
echo "## 2. First visit to the list (goal < 100 KB)"
python3 bench/portal.py weight "$base" "$work"

echo
echo "## 3. What the portal adds to the release binary ($(stat -c %s "$bin/berthd") bytes in all)"
code=$(nm -S --size-sort -C "$bin/berthd" 2>/dev/null | awk '/berth_api::portal::/ { s += strtonum("0x" $2) } END { print s + 0 }')
assets=$(cat api/static/berth.css api/static/icon.svg api/static/portal.js api/static/vendor/htmx-*.min.js api/static/vendor/htmx-*.min.js.gz | wc -c)
echo "functions under berth_api::portal (templates compiled in): $code bytes"
echo "embedded static files (CSS, icon, portal.js, htmx and its gzip): $assets bytes"
echo "together: $((code + assets)) bytes, $(python3 -c "print(f'{($code + $assets) / $(stat -c %s "$bin/berthd") * 100:.1f}')") % of the binary"
