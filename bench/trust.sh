#!/usr/bin/env bash
# Benchmark of berthd's embedded trust server (Notary v1 API) against Debian's notary-server
# as the anchor, in one run, on the same machine and the same storage class:
# - anchor: notary-server on PostgreSQL (trust_service local, ECDSA), berthd A its token
#   server (external mode, as bench/wipe.sh wires them);
# - Berth: berthd B with the embedded trust server on PostgreSQL (a schema of its own), and
#   berthd C embedded on SQLite as an extra line;
# - on each, a Premium registry with content trust, the bootstrap owner given AcrPush and
#   AcrImageSigner, and one GUN published with the notary CLI with 10 tags;
# - GET timestamp.json and targets.json with a pull token at 64 connections (wrk);
# - publish of 100 signed tags: 100 offline `addhash` then one timed `publish`, and 100
#   sequential `addhash -p` (each its own publish), timed as a whole;
# - resident memory (VmRSS, its private part RssAnon, VmHWM) of each trust server after the
#   load, and of notary-server together with berthd A, the token server it cannot run without.
# notary-server has no connection-pool setting (Go's database/sql keeps 2 idle connections),
# so the GET table also shows how many connections PostgreSQL accepted during each run.
# Servers run on CPU 0, wrk and the notary CLI on CPU 1. Prints the figures and each Berth
# line's ratio to notary-server's.
#
# Usage: bench/trust.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/berth-target}"
pg="${BERTH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
for tool in notary-server notary psql curl wrk taskset; do
    command -v "$tool" >/dev/null || { echo "bench/trust.sh: $tool is missing (./scripts/test installs it)" >&2; exit 1; }
done
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
# The same targets as run.sh and tokens.sh: with the example, dev-dependencies join the
# feature resolution, so building a different set would rebuild the release crates.
cargo build --release -q -p berth-api --bin berthd --example hello
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d)
stamp="$(date +%s)_$$"
notary_schema="bench_trust_notary_$stamp"
berth_schema="bench_trust_berth_$stamp"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for s in "$notary_schema" "$berth_schema"; do
        psql -X -q "$pg" -c "DROP SCHEMA IF EXISTS $s CASCADE" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
source bench/lib.sh

# The three lines: notary-server (anchor), berthd embedded on PostgreSQL, on SQLite.
lines=(notary berth-pg berth-sqlite)
declare -A base trust service data pid label
label[notary]="notary-server (PostgreSQL)"
label[berth-pg]="berthd embedded (PostgreSQL)"
label[berth-sqlite]="berthd embedded (SQLite)"

start_berthd() { # name, extra env...
    local name=$1 port; shift
    port=$(free_port)
    env BERTH_LISTEN="127.0.0.1:$port" BERTH_DATA_DIR="$work/$name" BERTH_TLS=off RUST_LOG=warn "$@" \
        taskset -c 0 "$bin/berthd" >"$work/$name.log" 2>&1 &
    pids+=($!)
    pid[$name]=$!
    base[$name]="http://127.0.0.1:$port"
    data[$name]="$work/$name"
    wait_up "http://127.0.0.1:$port/readyz"
}

# Anchor: berthd A is the token server of notary-server on a fresh PostgreSQL schema.
notary_port=$(free_port)
service[notary]=bench-notary
start_berthd anchor BERTH_TRUST_LISTEN=off \
    BERTH_NOTARY_URL="http://127.0.0.1:$notary_port" BERTH_NOTARY_SERVICE="${service[notary]}"
base[notary]=${base[anchor]}
data[notary]=${data[anchor]}
start_notary_server "$notary_port" "$notary_schema" "${base[anchor]}" "${service[notary]}" \
    "${data[anchor]}/registry-token-certs.pem" taskset -c 0
pid[notary]=$notary_pid
trust[notary]="http://127.0.0.1:$notary_port"

# Berth: the embedded trust server, on PostgreSQL (a schema of its own) and on SQLite.
for name in berth-pg berth-sqlite; do
    trust_port=$(free_port)
    extra=()
    [ "$name" = berth-pg ] && extra=(BERTH_DATABASE_URL="$pg" BERTH_DATABASE_SCHEMA="$berth_schema")
    start_berthd "$name" BERTH_TRUST_LISTEN="127.0.0.1:$trust_port" "${extra[@]}"
    service[$name]=berth-notary
    trust[$name]="http://127.0.0.1:$trust_port"
    wait_up "${trust[$name]}/_notary_server/health"
done
for l in "${lines[@]}"; do
    # taskset and env exec the server: the PID is the server's own.
    comm=$(cat "/proc/${pid[$l]}/comm")
    [[ "$comm" == notary-server || "$comm" == berthd ]] || { echo "$l: PID ${pid[$l]} is $comm, not the server" >&2; exit 1; }
done

owner() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "${data[$1]}/bootstrap-owner.json" "$2"; }
# notary line args...: the notary CLI on CPU 1 as the bootstrap owner (Basic appId:secret).
notary_cli() {
    local l=$1; shift
    HOME="$work" NOTARY_AUTH="$(printf '%s:%s' "$(owner "$l" appId)" "$(owner "$l" secret)" | base64 -w0)" \
        NOTARY_ROOT_PASSPHRASE=bench NOTARY_TARGETS_PASSPHRASE=bench NOTARY_SNAPSHOT_PASSPHRASE=bench \
        taskset -c 1 notary -s "${trust[$l]}" -d "$work/trust-$l" "$@" >>"$work/notary-cli-$l.log" 2>&1 ||
        { echo "$l: notary $* failed:" >&2; tail -5 "$work/notary-cli-$l.log" >&2; exit 1; }
}
addhash() { # line gun tag [-p]
    notary_cli "$1" addhash ${4:-} "$2" "$3" "${#3}" --sha256 "$(printf '%s' "$3" | sha256sum | cut -c1-64)"
}
tags_of() { # line gun -> number of tags the server holds (read with a fresh trust directory)
    local d; d=$(mktemp -d -p "$work")
    HOME="$work" NOTARY_AUTH="$(printf '%s:%s' "$(owner "$1" appId)" "$(owner "$1" secret)" | base64 -w0)" \
        notary -s "${trust[$1]}" -d "$d" list "$2" 2>/dev/null | awk '$NF == "targets"' | wc -l
}
pull_token() { # line gun
    curl -sf -u "$(owner "$1" appId):$(owner "$1" secret)" \
        "${base[$1]}/oauth2/token?service=${service[$1]}&scope=repository:$2:pull" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}

# On each: a registry with trust on, the owner a signer, one GUN with 10 published tags.
declare -A host
for l in "${lines[@]}"; do
    host[$l]=$(python3 bench/trust.py setup "${base[$l]}" "${data[$l]}" "benchtrust${l//-/}")
    gun="${host[$l]}/app"
    notary_cli "$l" init -p "$gun"
    for i in $(seq 1 10); do addhash "$l" "$gun" "v$i"; done
    notary_cli "$l" publish "$gun"
    [ "$(tags_of "$l" "$gun")" = 10 ] || { echo "$l: $gun does not hold 10 tags" >&2; exit 1; }
done

# wrk_run label url token -> "label rps p50_ms p99_ms"
wrk_run() {
    local out
    out=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" --latency -H "Authorization: Bearer $3" "$2")
    if grep -q "Non-2xx" <<<"$out"; then echo "$1: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
    awk -v label="$1" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%s %.0f %.3f %.3f\n", label, rps, p50, p99 }' <<<"$out"
}

# Connections PostgreSQL has accepted in the database so far (all clients: the SQLite line is the control).
pg_sessions() { psql -X -A -t "$pg" -c "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"; }

results="$work/results"
sizes="$work/sizes"
: >"$results"
: >"$sizes"
for file in timestamp targets; do
    for l in "${lines[@]}"; do
        gun="${host[$l]}/app"
        url="${trust[$l]}/v2/$gun/_trust/tuf/$file.json"
        token=$(pull_token "$l" "$gun")
        # The request must answer 200 with the metadata: a 401 would be cheaper.
        answer=$(curl -s -o "$work/body" -w '%{http_code} %{size_download}' -H "Authorization: Bearer $token" "$url")
        if [ "${answer%% *}" != 200 ]; then
            echo "$l: GET $url with a pull token answered ${answer%% *}:" >&2
            curl -s -i -H "Authorization: Bearer $token" "$url" >&2
            exit 1
        fi
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["signed"]["_type"].lower()==sys.argv[2], d' \
            "$work/body" "$file"
        before=$(pg_sessions)
        wrk_run "$l-$file" "$url" "$token" >>"$results"
        echo "$l-$file ${answer#* } $(($(pg_sessions) - before))" >>"$sizes"
    done
done

# Publish of 100 signed tags: (a) staged offline, one timed publish; (b) 100 `addhash -p`.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
for l in "${lines[@]}"; do
    gun="${host[$l]}/bulk"
    notary_cli "$l" init -p "$gun"
    start=$(now)
    for i in $(seq 1 100); do addhash "$l" "$gun" "t$i"; done
    echo "$l-stage $(since "$start")" >>"$results"
    start=$(now)
    notary_cli "$l" publish "$gun"
    echo "$l-publish $(since "$start")" >>"$results"
    [ "$(tags_of "$l" "$gun")" = 100 ] || { echo "$l: $gun does not hold 100 tags" >&2; exit 1; }

    gun="${host[$l]}/seq"
    notary_cli "$l" init -p "$gun"
    start=$(now)
    for i in $(seq 1 100); do addhash "$l" "$gun" "t$i" -p; done
    echo "$l-sequential $(since "$start")" >>"$results"
    [ "$(tags_of "$l" "$gun")" = 100 ] || { echo "$l: $gun does not hold 100 tags" >&2; exit 1; }
done

# Resident memory after the load, of the trust servers and of berthd A (context only).
mem() { awk '/^VmRSS/ { rss = $2 } /^RssAnon/ { anon = $2 } /^VmHWM/ { hwm = $2 } /^Threads/ { t = $2 } END { printf " %.1f %.1f %d %.1f", rss / 1024, hwm / 1024, t, anon / 1024 }' "/proc/$1/status"; }
for l in "${lines[@]}" anchor; do echo "$l-mem$(mem "${pid[$l]}")" >>"$results"; done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

echo
echo "trust server benchmark: ${secs}s per run, servers on CPU 0, wrk and the notary CLI on CPU 1 ($(nproc) CPUs)"
echo "load average (1/5/15 min) before the build: $load_start; at the end: $load_end"
echo "GUNs: <loginServer>/app (10 tags) for GETs; /bulk and /seq (100 tags each) for publishes"
awk -v names="notary berth-pg berth-sqlite" -v labels="${label[notary]}|${label[berth-pg]}|${label[berth-sqlite]}" '
    FNR == NR { size[$1] = $2; sessions[$1] = $3; next }
    { v1[$1] = $2; v2[$1] = $3; v3[$1] = $4; v4[$1] = $5 }
    END {
        n = split(names, line, " "); split(labels, lab, "|")
        printf "\nGET at 64 connections (wrk -t1 -c64, Bearer pull token)\n"
        printf "%-16s %-30s %6s %9s %9s %8s %8s %12s %11s\n", "file", "server", "bytes", "req/s", "x notary", "p50 ms", "p99 ms", "p99 x notary", "PG sessions"
        for (f = 1; f <= 2; f++) {
            file = (f == 1) ? "timestamp" : "targets"; a = "notary-" file
            for (i = 1; i <= n; i++) {
                k = line[i] "-" file
                printf "%-16s %-30s %6d %9d %9.3f %8.2f %8.2f %12.3f %11d\n", file ".json", lab[i], size[k], v1[k], v1[k] / v1[a], v2[k], v3[k], v3[k] / v3[a], sessions[k]
            }
        }
        printf "(PG sessions: connections PostgreSQL accepted during the run, from any client)\n"
        printf "\npublish of 100 signed tags (seconds; x notary = Berth time / notary time, lower is better)\n"
        printf "%-30s %14s %14s %9s %16s %9s\n", "server", "100 addhash", "1 publish", "x notary", "100 addhash -p", "x notary"
        for (i = 1; i <= n; i++) {
            l = line[i]
            printf "%-30s %14.3f %14.3f %9.3f %16.3f %9.3f\n", lab[i], v1[l "-stage"], v1[l "-publish"], v1[l "-publish"] / v1["notary-publish"], v1[l "-sequential"], v1[l "-sequential"] / v1["notary-sequential"]
        }
        printf "(100 addhash: offline staging, notary CLI only, for context; 1 publish: its single upload)\n"
        printf "\nresident memory after the load (MiB; x notary = Berth / notary, lower is better)\n"
        printf "%-48s %9s %9s %9s %9s %9s %9s %8s\n", "process", "VmRSS", "x notary", "RssAnon", "x notary", "VmHWM", "x notary", "threads"
        for (i = 1; i <= n; i++) {
            k = line[i] "-mem"
            printf "%-48s %9.1f %9.3f %9.1f %9.3f %9.1f %9.3f %8d\n", lab[i], v1[k], v1[k] / v1["notary-mem"], v4[k], v4[k] / v4["notary-mem"], v2[k], v2[k] / v2["notary-mem"], v3[k]
        }
        printf "%-48s %9.1f %9s %9.1f %9s %9.1f %9s %8d\n", "berthd A (the anchor'"'"'s token server, context)", v1["anchor-mem"], "-", v4["anchor-mem"], "-", v2["anchor-mem"], "-", v3["anchor-mem"]
        d = v1["notary-mem"] + v1["anchor-mem"]; da = v4["notary-mem"] + v4["anchor-mem"]
        printf "%-48s %9.1f %9s %9.1f\n", "notary-server + berthd A (a working deployment)", d, "", da
        for (i = 2; i <= n; i++) {
            k = line[i] "-mem"
            printf "  %-46s %9.3f %9s %9.3f\n", lab[i] " / that", v1[k] / d, "", v4[k] / da
        }
        printf "(berthd B and C run the whole control plane besides the trust server; notary-server is only the trust server,\n"
        printf " and needs a token server beside it. VmRSS counts the executable'"'"'s mapped pages: berthd'"'"'s carry the control plane)\n"
    }' "$sizes" "$results"
