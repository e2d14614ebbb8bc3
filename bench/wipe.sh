#!/usr/bin/env bash
# Benchmark of the content-trust wipe, in one run, on the local notary-server (PostgreSQL
# storage) and a release berthd (SQLite):
# - four Premium registries with content trust, each with N trusted collections (one
#   published with the notary CLI, N-1 copied from it in notary-server's tables, with
#   their changefeed records, so that only the changefeed knows them);
# - baseline 1: a shell loop of `curl -X DELETE` over registry B's collections;
# - baseline 2: one keep-alive connection, DELETE after DELETE, over registry C's;
# - Berth: `PATCH trustPolicy disabled` on registry A, timed until its operation has
#   Succeeded (changefeed reconcile, DELETE with bounded parallelism, a check that each
#   collection is gone), with the default parallelism (16) and, after a restart, with 1 on
#   registry D.
# Every collection is verified gone afterwards. Prints wall times, collections/s and ratios.
#
# Usage: bench/wipe.sh [collections per registry, default 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
pg="${BERTH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
for tool in notary-server notary psql curl; do
    command -v "$tool" >/dev/null || { echo "bench/wipe.sh: $tool is missing (./scripts/test installs it)" >&2; exit 1; }
done
# The same targets as run.sh and tokens.sh: with the example, dev-dependencies join the
# feature resolution, so building a different set would rebuild the release crates.
cargo build --release -q -p berth-api --bin berthd --example hello
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
schema="bench_notary_$(date +%s)_$$"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    psql -X -q "$pg" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
source bench/lib.sh
service=bench-notary
notary_port=$(free_port)
port=$(free_port)
base="http://127.0.0.1:$port"

start_berthd() {
    env BERTH_LISTEN="127.0.0.1:$port" BERTH_DATA_DIR="$work/data" BERTH_TLS=off RUST_LOG=warn \
        BERTH_NOTARY_URL="http://127.0.0.1:$notary_port" BERTH_NOTARY_SERVICE="$service" \
        BERTH_TRUST_PUSH_TOKEN_SECS=1 BERTH_NOTARY_TOKEN_LEEWAY_SECS=0 \
        BERTH_TRUST_WIPE_PARALLELISM="$1" "$bin/berthd" >>"$work/berthd.log" 2>&1 &
    berthd_pid=$!
    pids+=("$berthd_pid")
    wait_up "$base/readyz"
}
start_berthd 16

start_notary_server "$notary_port" "$schema" "$base" "$service" "$work/data/registry-token-certs.pem"

# Registries A-D, a signer (AcrPush + AcrImageSigner on the group), its refresh tokens.
python3 bench/wipe.py setup "$base" "$work" "$n"
source "$work/setup.env"

# One collection per registry published with the notary CLI, then copied N-1 times.
for letter in A B C D; do
    host_var="HOST_$letter" refresh_var="REFRESH_$letter"
    host="${!host_var}"
    auth=$(printf '00000000-0000-0000-0000-000000000000:%s' "${!refresh_var}" | base64 -w0)
    for cmd in "init -p $host/app0000" "addhash -p $host/app0000 v1 4 --sha256 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; do
        # shellcheck disable=SC2086
        HOME="$work" NOTARY_AUTH="$auth" NOTARY_ROOT_PASSPHRASE=bench NOTARY_TARGETS_PASSPHRASE=bench \
            NOTARY_SNAPSHOT_PASSPHRASE=bench notary -s "http://127.0.0.1:$notary_port" -d "$work/trust" $cmd >/dev/null
    done
    psql -X -q -v ON_ERROR_STOP=1 "$pg" -c "SET search_path TO $schema" -c "
        INSERT INTO tuf_files (created_at, updated_at, gun, role, version, data, sha256)
            SELECT f.created_at, f.updated_at, '$host/app' || lpad(i::text, 4, '0'), f.role, f.version, f.data, f.sha256
            FROM tuf_files f, generate_series(1, $n - 1) i WHERE f.gun = '$host/app0000';
        INSERT INTO changefeed (created_at, gun, version, sha256, category)
            SELECT c.created_at, '$host/app' || lpad(i::text, 4, '0'), c.version, c.sha256, c.category
            FROM changefeed c, generate_series(1, $n - 1) i WHERE c.gun = '$host/app0000';"
done
count() { psql -X -A -t "$pg" -c "SELECT count(DISTINCT gun) FROM $schema.tuf_files WHERE gun LIKE '$1/%'"; }
for host in "$HOST_A" "$HOST_B" "$HOST_C" "$HOST_D"; do
    [ "$(count "$host")" = "$n" ] || { echo "setup: $host has $(count "$host") collections, not $n" >&2; exit 1; }
done

# Baseline 1: curl, one process and one connection per DELETE (tokens fetched before).
python3 bench/wipe.py tokens "$base" "$work" "$HOST_B" "$REFRESH_B" "$service" "$n" >"$work/tokens_b"
start=$(date +%s.%N)
while read -r gun token; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $token" \
        "http://127.0.0.1:$notary_port/v2/$gun/_trust/tuf/")
    [ "$code" = 200 ] || { echo "curl DELETE $gun: $code" >&2; exit 1; }
done <"$work/tokens_b"
curl_secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
[ "$(count "$HOST_B")" = 0 ] || { echo "curl loop left collections" >&2; exit 1; }

# Baseline 2: one keep-alive connection, sequential (timed inside, tokens fetched before).
python3 bench/wipe.py tokens "$base" "$work" "$HOST_C" "$REFRESH_C" "$service" "$n" >"$work/tokens_c"
one_secs=$(python3 bench/wipe.py sequential "$notary_port" "$work/tokens_c")
[ "$(count "$HOST_C")" = 0 ] || { echo "one-connection loop left collections" >&2; exit 1; }

# Berth: the wipe of a whole registry, parallelism 16, then 1 (after a restart).
sleep 2 # every push token of the publishes has expired: no final-sweep wait
berth16=$(python3 bench/wipe.py wipe "$base" "$work" benchwipea)
[ "$(count "$HOST_A")" = 0 ] || { echo "Berth's wipe left collections of $HOST_A" >&2; exit 1; }
kill "$berthd_pid"; wait "$berthd_pid" 2>/dev/null || true
start_berthd 1
berth1=$(python3 bench/wipe.py wipe "$base" "$work" benchwiped)
[ "$(count "$HOST_D")" = 0 ] || { echo "Berth's wipe left collections of $HOST_D" >&2; exit 1; }

awk -v n="$n" -v c="$curl_secs" -v o="$one_secs" -v b="$berth16" -v b1="$berth1" 'BEGIN {
    printf "collections per registry: %d (notary-server on PostgreSQL, loopback)\n", n
    printf "%-52s %8.2f s %8.0f /s\n", "baseline: curl loop, one DELETE per process", c, n / c
    printf "%-52s %8.2f s %8.0f /s\n", "baseline: one keep-alive connection, sequential", o, n / o
    printf "%-52s %8.2f s %8.0f /s   %.2fx curl, %.2fx one connection\n", "Berth wipe, parallelism 16 (reconcile+delete+check)", b, n / b, c / b, o / b
    printf "%-52s %8.2f s %8.0f /s   %.2fx curl, %.2fx one connection\n", "Berth wipe, parallelism 1 (reconcile+delete+check)", b1, n / b1, c / b1, o / b1
}'
