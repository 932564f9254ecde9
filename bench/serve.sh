#!/usr/bin/env bash
# Serving benchmark: proofs per second for random ranges of 1000 operations
# from a 1M-operation database, through qmdb.serve (read the range, build
# its proof, encode the response), against the plain PostgreSQL baseline of
# reading the same 1000 operations unverified, from a table of one row per
# operation with a primary key. pgbench, one client, same
# cluster, one run. Prints the rates and the ratio.
set -euo pipefail
source "$(dirname "$0")/../tests/integration/sync_lib.sh"

SERVE_OPS=${SERVE_OPS:-1000000}
RANGE=${RANGE:-1000}
REQUESTS=${REQUESTS:-1000}

start_node P serve "${BENCH_CONF[@]}"
work=$(node_dir "$P")
echo "    writing $SERVE_OPS operations..." >&2
fill_keys "$P" d "$SERVE_OPS"
read -r id size lo < <(q "$P" -F' ' -c "SELECT id, size, pruning_boundary FROM qmdb.databases WHERE name = 'd'")
hi=$((size - RANGE))
op_rows "$P" d journal_rows
q "$P" -c "VACUUM ANALYZE" >/dev/null

# Both scripts draw the same kind of range: [start, start + RANGE) with start uniform.
cat >"$work/serve.sql" <<SQL
\\set start random($lo, $hi)
SELECT length(qmdb.serve('d', qmdb.encode_request('operations', $size, :start, $RANGE)));
SQL
cat >"$work/read.sql" <<SQL
\\set start random($lo, $hi)
SELECT length(string_agg(op, '' ORDER BY loc)) FROM journal_rows WHERE db_id = $id AND loc >= :start AND loc < :start + $RANGE;
SQL
chmod 644 "$work"/*.sql
tps() { # tps SCRIPT: transactions per second of one client running SCRIPT
	as_pg "$PG_BIN/pgbench" -n -h 127.0.0.1 -p "$P" -U postgres -c 1 -t "$REQUESTS" -f "$1" postgres 2>&1 |
		sed -n 's/^tps = \([0-9.]*\).*/\1/p' | awk '{ printf "%.0f", $1 }'
}
tps "$work/serve.sql" >/dev/null # warm both paths' caches once
ours=$(tps "$work/serve.sql")
base=$(tps "$work/read.sql")
ratio=$(awk -v a="$ours" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
printf '%-34s %14s %14s %8s\n' "serve ${RANGE}-op proofs vs plain read" "$ours" "$base" "${ratio}x"
echo "  ($REQUESTS random ranges of $RANGE operations from a database of $size; one client)"
[ -n "${BENCH_CSV:-}" ] && echo "serve ${RANGE}-op proofs vs plain read (requests),$ours,$base,$ratio" >>"$BENCH_CSV"
exit 0
