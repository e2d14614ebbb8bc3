#!/usr/bin/env bash
# Benchmark of the login servers' data plane, in one run, against Distribution reached
# directly as the baseline (the same docker-registry binary and configuration, on plain
# HTTP over TCP, no auth):
# 1. a 256 MiB blob pushed (monolithic POST + PUT) and pulled with curl, through berthd's
#    login server (token checked, path rewritten, the upload streamed to the embedded
#    registry over its unix socket, the download read from its storage) and directly;
#    throughput ratio (goal >= 0.9);
# 2. GET of a small manifest at 64 connections (wrk), both ways; throughput ratio
#    (goal >= 0.8) and the p99 added (goal <= 1 ms). The login server answers it from the
#    embedded storage, so the tags list is measured too: it is always relayed to the
#    registry, and shows what the relay costs. And GET /v2/ at the login server, berthd's
#    token check alone;
# 3. berthd's RSS while a 1 GiB blob streams through it up and down (sampled every 50 ms);
#    goal: grows by < 16 MiB.
# berthd serves plain HTTP here (BERTH_TLS=off), so both sides pay for no TLS.
#
# Runs on a shared 2-core machine vary a lot from one to the next, so 1 and 2 are measured
# in $rounds rounds (default 3) that alternate direct and login server, and the medians
# are reported.
#
# Usage: bench/login-server.sh [seconds per wrk run, default 10] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
rounds="${2:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
command -v docker-registry >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-registry >/dev/null; }
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

# The baseline: Distribution on TCP, with the embedded one's settings.
direct_port=$(free_port)
cat >"$work/direct.yml" <<EOF
version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/direct }, delete: { enabled: true }, redirect: { disable: true } }
http: { addr: 127.0.0.1:$direct_port, relativeurls: true, secret: benchmark-secret-benchmark-secret }
health: { storagedriver: { enabled: false } }
EOF
docker-registry serve "$work/direct.yml" >"$work/direct.log" 2>&1 &
pids+=($!)
direct="http://127.0.0.1:$direct_port"
wait_up "$direct/v2/"

port=$(free_port)
base="http://127.0.0.1:$port"
env BERTH_LISTEN="127.0.0.1:$port" BERTH_LOGIN_SERVER_PORT="$port" BERTH_TRUST_LISTEN=127.0.0.1:0 \
    BERTH_DATA_DIR="$work/data" BERTH_TLS=off BERTH_REGISTRY_BACKEND=embedded RUST_LOG=warn \
    "$bin/berthd" >"$work/berthd.log" 2>&1 &
berthd_pid=$!
pids+=("$berthd_pid")
wait_up "$base/readyz"

# A registry, a service principal with AcrPush on it, its refresh token from the exchange
# at the login server (as az acr login), and an access token for the benchmark's repository.
python3 bench/pusher.py "$base" "$work/data/bootstrap-owner.json" "$work" \
    --at-login-server repository:bench/app:pull,push
login="http://$(cat "$work/service")"
auth="Authorization: Bearer $(cat "$work/access")"

# push base file [auth header] -> seconds; pull base digest [auth] -> seconds
push() {
    local at=$1 file=$2 digest=$3 header=${4:-X-None: 1} location
    location=$(curl -sf -X POST -H "$header" -D - -o /dev/null "$at/v2/bench/app/blobs/uploads/" \
        | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
    [[ "$location" == /v2/bench/app/* ]] || { echo "unexpected Location '$location' at $at" >&2; exit 1; }
    # -T streams the file (--data-binary would read it whole into memory).
    curl -sf -T "$file" -H "$header" -H "Content-Type: application/octet-stream" \
        -o /dev/null -w '%{time_total}\n' "$at$location&digest=$digest"
}
pull() {
    local at=$1 digest=$2 header=${3:-X-None: 1}
    curl -sf -H "$header" -o /dev/null -w '%{time_total}\n' "$at/v2/bench/app/blobs/$digest"
}
mib() { awk -v bytes="$1" -v s="$2" 'BEGIN { printf "%.0f", bytes / 1048576 / s }'; }

# 1. A 256 MiB blob, up and down, in alternating rounds.
head -c 256M /dev/urandom >"$work/blob"
digest="sha256:$(sha256sum "$work/blob" | cut -c1-64)"
size=$(stat -c %s "$work/blob")
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for _ in $(seq "$rounds"); do
    push "$direct" "$work/blob" "$digest" >>"$work/direct_push"
    push "$login" "$work/blob" "$digest" "$auth" >>"$work/login_push"
    pull "$direct" "$digest" >>"$work/direct_pull"
    pull "$login" "$digest" "$auth" >>"$work/login_pull"
done
direct_push=$(median <"$work/direct_push")
login_push=$(median <"$work/login_push")
direct_pull=$(median <"$work/direct_pull")
login_pull=$(median <"$work/login_pull")
rm -f "$work/blob"

# 2. A small manifest (a config blob, no layers), then GET at 64 connections.
printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}' >"$work/config"
config_digest="sha256:$(sha256sum "$work/config" | cut -c1-64)"
config_size=$(stat -c %s "$work/config")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%s},"layers":[]}' \
    "$config_digest" "$config_size" >"$work/manifest"
manifest_type="application/vnd.oci.image.manifest.v1+json"
for at in "$direct" "$login"; do
    header="X-None: 1"; [ "$at" = "$login" ] && header=$auth
    push "$at" "$work/config" "$config_digest" "$header" >/dev/null
    curl -sf -X PUT -H "$header" -H "Content-Type: $manifest_type" --data-binary "@$work/manifest" \
        -o /dev/null "$at/v2/bench/app/manifests/v1"
done
cat >"$work/direct.lua" <<LUA
wrk.headers["Accept"] = "$manifest_type"
LUA
cat >"$work/login.lua" <<LUA
wrk.headers["Accept"] = "$manifest_type"
wrk.headers["Authorization"] = "Bearer $(cat "$work/access")"
LUA
results="$work/results"
{
    for _ in $(seq "$rounds"); do
        run "manifest-GET-direct" 64 "$direct/v2/bench/app/manifests/v1" "$work/direct.lua"
        run "manifest-GET-login-server" 64 "$login/v2/bench/app/manifests/v1" "$work/login.lua"
        run "tags-GET-direct" 64 "$direct/v2/bench/app/tags/list" "$work/direct.lua"
        run "tags-GET-login-server" 64 "$login/v2/bench/app/tags/list" "$work/login.lua"
    done
    # berthd alone: the token check of GET /v2/, nothing read (where its time goes).
    run "v2-GET-login-server" 64 "$login/v2/" "$work/login.lua"
} >"$results"

# 3. berthd's RSS while 1 GiB streams up and down through it.
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$berthd_pid/status"; }
head -c 1G /dev/zero >"$work/big"
big_digest="sha256:$(sha256sum "$work/big" | cut -c1-64)"
before=$(rss)
(while kill -0 "$berthd_pid" 2>/dev/null; do rss; sleep 0.05; done) >"$work/rss" &
sampler=$!
pids+=("$sampler")
push "$login" "$work/big" "$big_digest" "$auth" >/dev/null
pull "$login" "$big_digest" "$auth" >/dev/null
kill "$sampler" 2>/dev/null || true
peak=$(sort -n "$work/rss" | tail -1)
rm -f "$work/big"

echo "login server data plane ($(nproc) CPUs; berthd and both registries unpinned, curl/wrk as clients; medians of $rounds rounds)"
printf '%-24s %12s %12s %8s\n' "256 MiB blob" "direct MiB/s" "login MiB/s" "ratio"
for what in push pull; do
    d=$([ $what = push ] && echo "$direct_push" || echo "$direct_pull")
    l=$([ $what = push ] && echo "$login_push" || echo "$login_pull")
    printf '%-24s %12s %12s %8.2f\n' "$what" "$(mib "$size" "$d")" "$(mib "$size" "$l")" "$(awk -v d="$d" -v l="$l" 'BEGIN { print d / l }')"
done
awk '
    function median(list,    n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return a[int((n + 1) / 2)]
    }
    { rps[$1] = rps[$1] " " $2; p50[$1] = p50[$1] " " $3; p99[$1] = p99[$1] " " $4; all[$1] = all[$1] " " int($2) }
    END {
        d = "manifest-GET-direct"; l = "manifest-GET-login-server"
        printf "%-28s %10s %9s %9s   %s\n", "manifest GET, 64 conns", "req/s", "p50 ms", "p99 ms", "(req/s of each round)"
        printf "%-28s %10d %9.3f %9.3f   (%s )\n", "direct", median(rps[d]), median(p50[d]), median(p99[d]), all[d]
        printf "%-28s %10d %9.3f %9.3f   (%s )\n", "login server", median(rps[l]), median(p50[l]), median(p99[l]), all[l]
        printf "ratio %.2f, p99 added %.3f ms\n", median(rps[l]) / median(rps[d]), median(p99[l]) - median(p99[d])
        d = "tags-GET-direct"; l = "tags-GET-login-server"
        printf "%-28s %10s %9s %9s\n", "tags list GET (relayed)", "", "", ""
        printf "%-28s %10d %9.3f %9.3f   (%s )\n", "direct", median(rps[d]), median(p50[d]), median(p99[d]), all[d]
        printf "%-28s %10d %9.3f %9.3f   (%s )\n", "login server", median(rps[l]), median(p50[l]), median(p99[l]), all[l]
        printf "ratio %.2f, p99 added %.3f ms\n", median(rps[l]) / median(rps[d]), median(p99[l]) - median(p99[d])
        v = "v2-GET-login-server"
        printf "%-28s %10d %9.3f %9.3f   (berthd alone: token check, nothing read)\n", "GET /v2/ at the login server", median(rps[v]), median(p50[v]), median(p99[v])
    }' "$results"
echo "berthd RSS streaming 1 GiB up and down: ${before} KiB before, ${peak} KiB peak, grew $(( (peak - before) / 1024 )) MiB"
