#!/usr/bin/env bash
# What PostgreSQL alone (no Berth code) spends on the activity record of a write, the
# counterpart of bench/sqlite-floor.py: pgbench, 16 clients (as wrk's 16 connections), each
# transaction updating one row of 64 (a registry's tags), against the same with
#  - records: its two records (Started, Succeeded; 1.4 kB of JSON each) in a table with no
#    index but its primary key, and no chain;
#  - chained: the same rows, in the one statement that moves the chain's head (16 heads, one
#    per client, as berthd's 16 chains): what chaining in order of commit needs;
#  - indexed: that, into a table with the six list indexes: what berthd writes.
# Four cases alternated, three runs each; the median's transactions per second and its ratio
# to the bare update.
#
# Usage: bench/postgres-floor.sh [seconds per run, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-10}"
pg="${BERTH_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
command -v pgbench >/dev/null || {
    echo "bench/postgres-floor.sh: pgbench is missing (apt-get install postgresql-15)" >&2
    exit 1
}
schema="floor_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
work=$(mktemp -d)
cleanup() {
    psql "$pg" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

columns="seq bigserial primary key, chain int not null, position bigint not null,
    event_id varchar not null, event_time bigint not null, subscription varchar,
    resource_group varchar, resource_key text not null, provider varchar not null,
    correlation_id varchar not null, caller varchar not null, status varchar not null,
    data text not null, hash varchar not null"
psql "$pg" -v ON_ERROR_STOP=1 -q <<SQL
CREATE SCHEMA $schema;
SET search_path TO $schema;
CREATE TABLE registries (id int primary key, tags text not null);
INSERT INTO registries SELECT i, '{}' FROM generate_series(0, 63) i;
CREATE TABLE heads (id int primary key, seq bigint not null, hash varchar not null,
    head_mac varchar not null);
INSERT INTO heads SELECT i, 0, '', '' FROM generate_series(1, 16) i;
CREATE TABLE plain ($columns);
CREATE TABLE indexed ($columns);
CREATE INDEX ON indexed (subscription, event_time, seq);
CREATE INDEX ON indexed (subscription, resource_group, event_time, seq);
CREATE INDEX ON indexed (resource_key, event_time, seq);
CREATE INDEX ON indexed (subscription, provider, event_time, seq);
CREATE INDEX ON indexed (correlation_id, event_time);
CREATE INDEX ON indexed (subscription, caller, event_time, seq);
SQL

# One record's values: $1 the status, $2 the position expression.
row() {
    echo "(:chain::int, $2::bigint, gen_random_uuid()::text, (extract(epoch from clock_timestamp()) * 1000000)::bigint,
      '0b1f6471-1bf0-4dda-aec3-cb9272f09590', 'g' || (:r::int % 50),
      '/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourcegroups/g' || (:r::int % 50) || '/providers/microsoft.containerregistry/registries/r' || :r::int,
      'microsoft.containerregistry', :corr::text, 'admin@berth.local', '$1', repeat('x', 1400),
      md5(random()::text) || md5(random()::text))"
}
insert_columns="chain, position, event_id, event_time, subscription, resource_group, resource_key,
    provider, correlation_id, caller, status, data, hash"
prelude="\\set r random(0, 63)
\\set chain :client_id % 16 + 1
\\set corr random(1, 1000000000)
BEGIN;
UPDATE $schema.registries SET tags = :corr::text WHERE id = :r::int;"
printf '%s\nCOMMIT;\n' "$prelude" >"$work/bare.sql"
printf '%s\nINSERT INTO %s.plain (%s) VALUES %s, %s;\nCOMMIT;\n' "$prelude" "$schema" \
    "$insert_columns" "$(row Started 0)" "$(row Succeeded 0)" >"$work/records.sql"
for table in plain indexed; do
    printf '%s\nWITH head AS (UPDATE %s.heads SET seq = seq + 2, hash = md5(random()::text), head_mac = md5(random()::text) WHERE id = :chain::int RETURNING seq) INSERT INTO %s.%s (%s) SELECT v.* FROM head, (VALUES %s, %s) AS v(%s);\nCOMMIT;\n' \
        "$prelude" "$schema" "$schema" "$table" "$insert_columns" \
        "$(row Started 1)" "$(row Succeeded 2)" "$insert_columns" \
        >"$work/$([ "$table" = plain ] && echo chained || echo indexed).sql"
done
# Each script's statements are one line each for pgbench.
for f in "$work"/*.sql; do
    python3 - "$f" <<'PY'
import re, sys
path = sys.argv[1]
text = open(path).read()
lines, current = [], ""
for line in text.splitlines():
    if line.startswith("\\"):
        lines.append(line)
        continue
    current += " " + line.strip()
    if current.rstrip().endswith(";"):
        lines.append(current.strip())
        current = ""
open(path, "w").write("\n".join(lines) + "\n")
PY
done

cases=(bare records chained indexed)
declare -A tps
for round in 1 2 3; do
    for c in "${cases[@]}"; do
        out=$(pgbench "$pg" -n -M prepared -c 16 -j 2 -T "$secs" -f "$work/$c.sql" 2>&1) || {
            echo "$out" >&2
            exit 1
        }
        value=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
        tps[$c]="${tps[$c]:-} $value"
    done
done
echo "| PostgreSQL alone, 16 clients, ${secs} s runs | transactions/s (3 runs) | median | ratio to the bare update |"
echo "|---|---|---|---|"
python3 - "${tps[bare]}" "${tps[records]}" "${tps[chained]}" "${tps[indexed]}" <<'PY'
import statistics, sys
names = ["update one row (bare)", "+ two records, no index, no chain",
         "+ the chain's head moved in the same statement", "+ the six list indexes (what berthd writes)"]
runs = [[float(x) for x in arg.split()] for arg in sys.argv[1:]]
base = statistics.median(runs[0])
for name, r in zip(names, runs):
    m = statistics.median(r)
    print(f"| {name} | {' / '.join(f'{x:.0f}' for x in r)} | {m:.0f} | {m / base:.2f} |")
PY
