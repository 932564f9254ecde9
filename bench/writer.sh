#!/usr/bin/env bash
# Writer benchmark: 200k writes over 100k keys in batches of 1000, each batch
# its own transaction, through qmdb.apply_batch (fixed 32-byte keys and
# values: commonware's Digest layout) against a plain
# INSERT ... ON CONFLICT DO UPDATE of the same batches into a (key, value)
# table. Same cluster, one run. Prints writes/s and the ratio; appends a
# CSV row to $BENCH_CSV if set.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

BATCHES=${BATCHES:-200}
BATCH_SIZE=${BATCH_SIZE:-1000}
KEYS=${KEYS:-100000}

work=$(make_workdir bench-writer)
trap 'cluster_stop "$work" immediate; rm -rf "$work"' EXIT
port=$(free_port)
cluster_start "$work" "$port" "shared_buffers = '512MB'" "max_wal_size = '4GB'" "checkpoint_timeout = '30min'"
q() { cluster_psql "$port" -d postgres "$@"; }

q -c "CREATE EXTENSION pg_qmdb" -c "SELECT qmdb.create_database('bench', 'fixed', 32, 32)" >/dev/null
q -c "CREATE TABLE kv (key bytea PRIMARY KEY, value bytea NOT NULL)"
# The same batches for both: distinct keys within a batch (an upsert cannot
# touch one row twice per statement), drawn from $KEYS keys.
q -c "SELECT setseed(0.5)" -c "CREATE TABLE batches AS
	SELECT n, ARRAY(SELECT sha256(int8send(k)) FROM (SELECT DISTINCT (random() * ($KEYS - 1))::int8 AS k
	                FROM generate_series(1, $BATCH_SIZE * 11 / 10) g WHERE n > 0) s LIMIT $BATCH_SIZE) AS keys,
	          ARRAY(SELECT sha256(int8send(n * 100000 + i)) FROM generate_series(1, $BATCH_SIZE) i) AS vals
	  FROM generate_series(1, $BATCHES) n" >/dev/null

script() { # one statement (and transaction) per batch
	for n in $(seq 1 "$BATCHES"); do printf "$1;\n" "$n"; done >"$work/$2.sql"
}
script "SELECT 1 FROM batches b, qmdb.apply_batch('bench', b.keys, b.vals) WHERE b.n = %s" ours
script "INSERT INTO kv SELECT k, v FROM batches b, unnest(b.keys, b.vals) AS t(k, v) WHERE b.n = %s ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value" baseline

run() {
	local start end
	start=$(date +%s.%N)
	q -o /dev/null -f "$work/$1.sql"
	end=$(date +%s.%N)
	awk -v s="$start" -v e="$end" -v n="$((BATCHES * BATCH_SIZE))" 'BEGIN { printf "%.0f", n / (e - s) }'
}
baseline=$(run baseline)
ours=$(run ours)
ratio=$(awk -v a="$ours" -v b="$baseline" 'BEGIN { printf "%.2f", a / b }')
ok=$(q -At -c "SELECT bool_and(ok) FROM qmdb.verify('bench')")
stats=$(q -At -c "SELECT size || ' ops, floor ' || floor || ', ' || active_keys || ' live keys' FROM qmdb.databases WHERE name = 'bench'")
printf '%-34s %14s %14s %8s\n' "writer: apply_batch vs upsert" "$ours" "$baseline" "${ratio}x"
echo "  ($((BATCHES * BATCH_SIZE)) writes in batches of $BATCH_SIZE over $KEYS keys; journal $stats; verify: $ok)"
[ -n "${BENCH_CSV:-}" ] && echo "writer apply_batch vs upsert (writes),$ours,$baseline,$ratio" >>"$BENCH_CSV"
[ "$ok" = t ]
