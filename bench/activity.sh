#!/usr/bin/env bash
# The activity log's and the sign-in events' benchmark, in one run:
#  1. ports: what the activity record adds to a control-plane write's transaction, and
#     listing 100 of 1,000,000 events with each filter (cargo bench -p berth-infra --bench
#     activity, on a SQLite file and on PostgreSQL at $BERTH_TEST_POSTGRES_URL); goal for the
#     list: p99 < 50 ms;
#  2. a registry PATCH (its tags, one of 64 registries at random, as the bootstrap owner)
#     through berthd's API, against the same berthd built without the activity log
#     (examples/unrecorded.rs), alternated three times each, on SQLite and on PostgreSQL:
#     throughput at 16 connections and latency at one; goal: >= 0.9x;
#     then, in the same run, what the record's SQL alone costs each database
#     (bench/sqlite-floor.py on CPU 0, bench/postgres-floor.sh), and the PATCH ratio that
#     cost alone would leave: the ceiling of any berthd that writes those rows in the change's
#     transaction (see the README);
#  3. the token path (GET /oauth2/token with Basic, as docker login sends it) and the
#     issuer's sign-in (a client_credentials grant, as az sends it) of a berthd writing every
#     sign-in event to its daily file, against the same berthd with BERTH_AUDIT_SINK=off,
#     alternated three times each; goal: >= 0.95x.
# Servers run on CPU 0 and wrk on CPU 1.
#
# Usage: bench/activity.sh [seconds per wrk run, default 10] [ports|patch|tokens: one part]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
only="${2:-}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
pg="${BERTH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
part() { [ -z "$only" ] || [ "$only" = "$1" ]; }

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
# Built first on both cores; the measurements run pinned.
cargo build --release -q -p berth-api --bin berthd --example unrecorded
part ports && cargo bench -q -p berth-infra --bench activity --no-run 2>/dev/null
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
pids=()
schemas=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for s in "${schemas[@]}"; do psql "$pg" -qc "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true; done
    rm -rf "$work"
}
trap cleanup EXIT
source bench/lib.sh

# One row of a ratio table: the runs of the baseline and of the measured ("a b c"), their
# medians' ratio, and the goal.
ratios() { # title, baseline label, baseline runs, measured label, measured runs, unit, goal, lower is better (1/0)
    python3 - "$@" <<'PY'
import statistics, sys
title, base_label, base, label, runs, unit, goal, lower = sys.argv[1:]
base = [float(x) for x in base.split()]
runs = [float(x) for x in runs.split()]
b, m = statistics.median(base), statistics.median(runs)
ratio = b / m if lower == "1" else m / b
print(f"| {title} | {base_label}: {' / '.join(f'{x:g}' for x in base)} {unit} | {label}: {' / '.join(f'{x:g}' for x in runs)} {unit} | {ratio:.2f} (goal >= {goal}) |")
PY
}

if part ports; then
    echo "# 1. The activity record in a write's transaction, and the 1,000,000-event list"
    BERTH_BENCH_POSTGRES_URL="$pg" taskset -c 0 cargo bench -q -p berth-infra --bench activity 2>/dev/null
fi

# A berthd on CPU 0 with the data directory $work/<name>, plain HTTP; its base URL in
# ${base[name]}. Called in this shell, not in $( ), so that its pid is kept for the cleanup.
declare -A base
start() { # name, binary, extra env...
    local name=$1 binary=$2 port; shift 2
    port=$(free_port)
    base[$name]="http://127.0.0.1:$port"
    mkdir -p "$work/$name"
    env BERTH_LISTEN="127.0.0.1:$port" BERTH_TRUST_LISTEN=127.0.0.1:0 BERTH_DATA_DIR="$work/$name/data" \
        BERTH_TLS=off BERTH_REGISTRY_BACKEND=none RUST_LOG=warn "$@" \
        taskset -c 0 "$binary" >"$work/$name/berthd.log" 2>&1 &
    pids+=($!)
    wait_up "${base[$name]}/readyz"
}

if part patch; then
    # Each berthd: a group of 64 Premium registries, and the owner's token for wrk.
    for db in sqlite postgres; do
        for kind in recorded unrecorded; do
            name="$db-$kind"
            env=()
            if [ "$db" = postgres ]; then
                schema="bench_activity_${kind}_$$"
                schemas+=("$schema")
                env=(BERTH_DATABASE_URL="$pg" BERTH_DATABASE_SCHEMA="$schema")
            fi
            binary="$bin/berthd"
            [ "$kind" = unrecorded ] && binary="$bin/examples/unrecorded"
            start "$name" "$binary" "${env[@]}"
            python3 bench/registries.py "${base[$name]}" "$work/$name/data/bootstrap-owner.json" \
                "$work/$name/token" "$work/$name/url"
            cat >"$work/$name/patch.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $(cat "$work/$name/token")"
wrk.headers["Content-Type"] = "application/json"
wrk.method = "PATCH"
local path = wrk.path:gsub("benchreg0", "benchreg%%d")
local n = 0
request = function()
    n = n + 1
    return wrk.format(nil, string.format(path, math.random(0, 63)), nil,
        string.format('{"tags":{"bench":"%d"}}', n))
end
LUA
        done
    done
    declare -A tput lat
    for round in 1 2 3; do
        for db in sqlite postgres; do
            for kind in unrecorded recorded; do
                name="$db-$kind"
                url=$(cat "$work/$name/url")
                r=$(run "$name" 16 "$url" "$work/$name/patch.lua")
                tput[$name]="${tput[$name]:-} $(awk '{print $2}' <<<"$r")"
                l=$(run "$name" 1 "$url" "$work/$name/patch.lua")
                lat[$name]="${lat[$name]:-} $(awk '{print $3}' <<<"$l")"
                echo "round $round, $name: 16 connections: $r; one: $l"
            done
        done
    done
    echo
    echo "# 2. A registry PATCH through the API, with and without its activity record (${secs} s runs)"
    echo "| measure | without the record | with it | ratio |"
    echo "|---|---|---|---|"
    for db in sqlite postgres; do
        ratios "$db, req/s at 16 connections" baseline "${tput[$db-unrecorded]}" recorded "${tput[$db-recorded]}" req/s 0.9 0
        ratios "$db, p50 ms at one connection" baseline "${lat[$db-unrecorded]}" recorded "${lat[$db-recorded]}" ms 0.9 1
    done
    echo
    echo "# 2b. The record's SQL alone, without Berth, and the PATCH ratio it leaves"
    taskset -c 0 python3 bench/sqlite-floor.py 10000 | tee "$work/sqlite-floor"
    bash bench/postgres-floor.sh "$secs" | tee "$work/postgres-floor"
    echo
    echo "| database: rows in the change's transaction | SQL per write, over the bare update | PATCH req/s without the record | ceiling of the ratio |"
    echo "|---|---|---|---|"
    python3 - "$work/sqlite-floor" "$work/postgres-floor" "${tput[sqlite-unrecorded]}" "${tput[postgres-unrecorded]}" <<'PY'
import re, statistics, sys
sqlite, postgres = open(sys.argv[1]).read(), open(sys.argv[2]).read()
u_sqlite = statistics.median(float(x) for x in sys.argv[3].split())
u_pg = statistics.median(float(x) for x in sys.argv[4].split())
# SQLite runs in berthd's process, on its core: the SQL's extra microseconds add to the
# microseconds a PATCH takes there (1/req/s).
rows = re.findall(r"^\| (update[^|]*) \| ([0-9.]+) µs", sqlite, re.M)
bare = float(rows[0][1])
for label, us in rows[1:]:
    extra = float(us) - bare
    print(f"| SQLite: {label.replace('update + ', '')} | +{extra:.1f} µs | {u_sqlite:.0f} | {1 / (1 + u_sqlite * extra / 1e6):.2f} |")
# PostgreSQL: the machine's time per transaction (pgbench keeps both cores busy), added to
# the machine's time per PATCH.
rows = re.findall(r"^\| ([^|]+) \| [^|]+ \| ([0-9]+) \| [0-9.]+ \|$", postgres, re.M)
bare = 1e6 / float(rows[0][1])
for label, tps in rows[1:]:
    extra = 1e6 / float(tps) - bare
    print(f"| PostgreSQL: {label.strip().lstrip('+ ')} | +{extra:.1f} µs | {u_pg:.0f} | {1 / (1 + u_pg * extra / 1e6):.2f} |")
PY
    for name in sqlite-recorded sqlite-unrecorded postgres-recorded postgres-unrecorded; do
        count=$(curl -s -H "Authorization: Bearer $(cat "$work/$name/token")" \
            "$(sed 's|/resourceGroups/.*||' "$work/$name/url")/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01&\$filter=eventTimestamp%20ge%20%27$(date -u -d '-1 hour' +%FT%TZ)%27%20and%20eventTimestamp%20le%20%27$(date -u -d '+1 hour' +%FT%TZ)%27&\$top=1&\$select=eventTimestamp" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["value"]))')
        echo "$name: events listed with \$top=1: $count"
    done
fi

if part tokens; then
    # Two berthds, alike but for the sink, each with a registry and a pusher's refresh token.
    for sink in file off; do
        start "$sink" "$bin/berthd" BERTH_AUDIT_SINK="$sink"
        python3 bench/pusher.py "${base[$sink]}" "$work/$sink/data/bootstrap-owner.json" "$work/$sink"
        basic=$(printf '00000000-0000-0000-0000-000000000000:%s' "$(cat "$work/$sink/refresh")" | base64 -w0)
        cat >"$work/$sink/get.lua" <<LUA
wrk.headers["Authorization"] = "Basic $basic"
wrk.headers["User-Agent"] = "docker/20.10.24 go/go1.19"
LUA
        # The issuer's sign-in: the bootstrap owner's client_credentials grant, as az sends it.
        form=$(python3 -c 'import json, sys, urllib.parse; o = json.load(open(sys.argv[1])); print(urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": o["appId"], "client_secret": o["secret"], "scope": "https://management.berth.local/.default"}))' "$work/$sink/data/bootstrap-owner.json")
        cat >"$work/$sink/sign-in.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "$form"
LUA
    done
    declare -A rps issuer
    for round in 1 2 3; do
        for sink in off file; do
            # Each berthd's own login server is the service.
            path="/oauth2/token?service=$(cat "$work/$sink/service")&scope=repository%3Ateam%2Fapp%3Apull%2Cpush&client_id=docker"
            r=$(run "$sink" 16 "${base[$sink]}$path" "$work/$sink/get.lua")
            rps[$sink]="${rps[$sink]:-} $(awk '{print $2}' <<<"$r")"
            i=$(run "$sink" 16 "${base[$sink]}/organizations/oauth2/v2.0/token" "$work/$sink/sign-in.lua")
            issuer[$sink]="${issuer[$sink]:-} $(awk '{print $2}' <<<"$i")"
            echo "round $round, sink $sink: token server $r; issuer $i"
        done
    done
    lines=$(cat "$work"/file/data/audit/events-*.jsonl | wc -l)
    echo
    echo "# 3. The token path with sign-in events written (16 connections, ${secs} s runs)"
    echo "| measure | without events | with them | ratio |"
    echo "|---|---|---|---|"
    ratios "token requests, req/s" "sink off" "${rps[off]}" "daily file" "${rps[file]}" req/s 0.95 0
    ratios "issuer sign-ins (client_credentials), req/s" "sink off" "${issuer[off]}" "daily file" "${issuer[file]}" req/s 0.95 0
    echo
    echo "$lines sign-in events were written to the file."
fi
