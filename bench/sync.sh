#!/usr/bin/env bash
# Sync benchmark: a verified sync of SYNC_OPS operations between two local
# clusters, against (1) the unverified baseline, a binary COPY pipe of the
# same operations, one row each, into a table with a primary key, and (2)
# built-in logical replication's initial table sync of those rows. (Our
# journal stores up to 120 operations a row; the baselines get the plain
# layout a PostgreSQL user would pick, made on the source before any
# timing.) Same clusters, one run, SYNC_ROUNDS rounds of the three (each
# method's result in $result). Prints ops/s, the ratios, and the sync
# worker's peak private memory (sampled from /proc while it runs).
set -euo pipefail
source "$(dirname "$0")/../tests/integration/sync_lib.sh"

SYNC_OPS=${SYNC_OPS:-1000000}
# wal_level=logical for the publisher of the logical replication baseline.
start_node S source "wal_level = logical" "${BENCH_CONF[@]}"
start_node R replica "wal_level = logical" "${BENCH_CONF[@]}"

echo "    writing $SYNC_OPS operations on the source..." >&2
fill_keys "$S" d "$SYNC_OPS"
op_rows "$S" d journal_rows
# Settle before measuring: autovacuum of the fresh rows and the writeback
# of dirty pages would otherwise land on whichever method runs first.
q "$S" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
q "$R" -c "CHECKPOINT" >/dev/null
sync # and the kernel's dirty pages from the fill
read -r root start end < <(target "$S" d)
ops=$((end - start))
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.0f", n / (e - s) }'; }
best() { [ "$2" -gt "$1" ] && echo "$2" || echo "$1"; }

# Ours: verified sync, sampling the worker's memory while it runs.
peak_kb=0
run_ours() {
	q "$R" -c "SELECT qmdb.drop_database('d') FROM qmdb.databases WHERE name = 'd'" >/dev/null
	local t0 t1 state pid kb
	t0=$(now)
	sync_start "$R" d "$root" "$start" "$end" "$FIXED32, \"fetch_batch_size\": 5000, \"max_outstanding_requests\": 8" "$(peer "$S")"
	while :; do
		state=$(q "$R" -c "SELECT state || ' ' || coalesce(worker_pid, 0) FROM qmdb.sync_status")
		pid=${state#* }
		if [ "$pid" != 0 ] && [ -r "/proc/$pid/status" ]; then
			kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
			[ "${kb:-0}" -gt "$peak_kb" ] && peak_kb=$kb
		fi
		case "$state" in complete*) break ;; failed*) q "$R" -c "SELECT last_error FROM qmdb.sync_status"; exit 1 ;; esac
		sleep 0.1
	done
	t1=$(now)
	all_ok "$R" d
	result=$(rate "$ops" "$t0" "$t1")
}

# Baseline 1: binary COPY of the same rows into a table with a primary key.
run_copy() {
	q "$R" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS journal_copy" \
		-c "CREATE TABLE journal_copy (db_id int, loc bigint, op bytea, PRIMARY KEY (db_id, loc))" >/dev/null
	local t0 t1
	t0=$(now)
	cluster_psql "$S" -d postgres -c "\\copy (SELECT db_id, loc, op FROM journal_rows WHERE loc >= $start ORDER BY loc) TO STDOUT (FORMAT binary)" |
		cluster_psql "$R" -d postgres -c "\\copy journal_copy FROM STDIN (FORMAT binary)" >/dev/null
	t1=$(now)
	result=$(rate "$ops" "$t0" "$t1")
}

# Baseline 2: logical replication's initial table sync of the same rows.
q "$S" -c "CREATE TABLE journal_pub AS SELECT db_id, loc, op FROM journal_rows WHERE loc >= $start" \
	-c "ALTER TABLE journal_pub ADD PRIMARY KEY (db_id, loc)" -c "CREATE PUBLICATION bench FOR TABLE journal_pub" >/dev/null
run_logical() {
	q "$R" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS journal_pub" \
		-c "CREATE TABLE journal_pub (db_id int, loc bigint, op bytea, PRIMARY KEY (db_id, loc))" >/dev/null
	local t0 t1
	t0=$(now)
	q "$R" -c "CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=$S dbname=postgres user=postgres' PUBLICATION bench" >/dev/null 2>&1
	poll "$R" "SELECT count(*) > 0 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel" >&2
	t1=$(now)
	q "$R" -c "DROP SUBSCRIPTION bench" >/dev/null 2>&1
	result=$(rate "$ops" "$t0" "$t1")
}

# Rounds, each method once a round, in the same order: the first run on a
# fresh cluster pays for memory the kernel has never handed out (first
# touches are slow on these VMs), and ours runs first. The best of the
# rounds is compared; every round is printed.
ROUNDS=${SYNC_ROUNDS:-2}
ours=0 copy=0 logical=0
for round in $(seq 1 "$ROUNDS"); do
	run_ours && o=$result
	run_copy && c=$result
	run_logical && l=$result
	echo "    round $round: ours $o, COPY pipe $c, logical replication $l ops/s" >&2
	ours=$(best "$ours" "$o") copy=$(best "$copy" "$c") logical=$(best "$logical" "$l")
done

r_copy=$(awk -v a="$ours" -v b="$copy" 'BEGIN { printf "%.2f", a / b }')
r_logical=$(awk -v a="$ours" -v b="$logical" 'BEGIN { printf "%.2f", a / b }')
printf '%-34s %14s %14s %8s\n' "sync vs COPY pipe (ops)" "$ours" "$copy" "${r_copy}x"
printf '%-34s %14s %14s %8s\n' "sync vs logical replication (ops)" "$ours" "$logical" "${r_logical}x"
echo "  ($ops operations [$start, $end); sync worker peak private memory $((peak_kb / 1024)) MiB)"
grep -o 'qmdb sync of .*' "$(node_dir "$R")/server.log" | sed 's/^/  (/; s/$/)/' || true
if [ -n "${BENCH_CSV:-}" ]; then
	echo "sync vs COPY pipe (ops),$ours,$copy,$r_copy" >>"$BENCH_CSV"
	echo "sync vs logical replication (ops),$ours,$logical,$r_logical" >>"$BENCH_CSV"
	echo "sync worker peak private memory (KiB),$peak_kb,," >>"$BENCH_CSV"
fi
