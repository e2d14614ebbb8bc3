# Helpers shared by the benchmark scripts (sourced; they set $secs, $work and $pids).

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 1 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not up: $1" >&2; exit 1; }

# run label connections url [script [token file]] -> "label rps p50_ms p99_ms"
run() {
    local label=$1 conns=$2 url=$3 script=${4:-} tokens=${5:-/dev/null} threads=2 out
    [ "$conns" = 1 ] && threads=1
    out=$(BERTH_TOKEN_FILE=$tokens taskset -c 1 wrk -t"$threads" -c"$conns" -d"${secs}s" --latency ${script:+-s "$script"} "$url")
    if grep -q "Non-2xx" <<<"$out"; then echo "$label: non-2xx answers:" >&2; echo "$out" >&2; exit 1; fi
    awk -v label="$label" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec/ { rps = $2 }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        END { printf "%s %.0f %.3f %.3f\n", label, rps, p50, p99 }' <<<"$out"
}


# start_notary_server port schema realm_base service bundle [launcher...]: Debian's
# notary-server on 127.0.0.1:port, its metadata in a new schema of $pg, token auth trusting
# berthd at realm_base (issuer berth-token-server, certificates in bundle); run through the
# launcher when given (taskset -c 0). Sets $notary_pid.
start_notary_server() {
    local port=$1 schema=$2 realm=$3 service=$4 bundle=$5 sslmode="" sep="?"; shift 5
    psql -X -q -v ON_ERROR_STOP=1 "$pg" -c "SET client_min_messages TO warning" \
        -c "CREATE SCHEMA $schema" -c "SET search_path TO $schema" -f tests/notary/server-schema.sql
    [[ "$pg" == *sslmode=* ]] || sslmode="&sslmode=disable"
    [[ "$pg" == *\?* ]] && sep="&"
    cat >"$work/notary.json" <<EOF
{"server": {"http_addr": "127.0.0.1:$port"},
 "trust_service": {"type": "local", "key_algorithm": "ecdsa"},
 "storage": {"backend": "postgres", "db_url": "$pg${sep}search_path=$schema$sslmode"},
 "auth": {"type": "token", "options": {"realm": "$realm/oauth2/token", "service": "$service",
   "issuer": "berth-token-server", "rootcertbundle": "$bundle"}},
 "logging": {"level": "warn"}}
EOF
    "$@" notary-server -config "$work/notary.json" >"$work/notary.log" 2>&1 &
    notary_pid=$!
    pids+=("$notary_pid")
    wait_up "http://127.0.0.1:$port/_notary_server/health"
}
