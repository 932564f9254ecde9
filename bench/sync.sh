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
# SYNC_LOGICAL=0 leaves out the logical replication baseline (bench/scale.sh);
# SYNC_VERIFY=1 also times qmdb.verify on the replica, with its peak memory.
SYNC_LOGICAL=${SYNC_LOGICAL:-1}
SYNC_VERIFY=${SYNC_VERIFY:-0}
# SYNC_KIND: the kind of database synced (any, immutable, keyless), each
# filled with 1000-write batches of new 32-byte keys and values (keyless:
# values only) at floor 0, so every operation is synced.
SYNC_KIND=${SYNC_KIND:-any}
# wal_level=logical for the publisher of the logical replication baseline.
# The replica keeps the default (replica): a subscriber needs no more, and
# under logical a sync's state rebuild takes the slower, decodable way
# (rows inserted for logical decoding; docs/operations.md).
start_node S source "wal_level = logical" "${BENCH_CONF[@]}"
# The first round runs each method on a replica cluster of its own, as fresh
# as a user's: the first sync on a new server also creates its WAL segment
# files (later ones recycle them) and meets cold caches, and a method run
# after another on one cluster would inherit what the first paid for. Later
# rounds run all three on the first cluster.
start_node R1 replica "${BENCH_CONF[@]}"
start_node R2 replica2 "${BENCH_CONF[@]}"
[ "$SYNC_LOGICAL" = 0 ] || start_node R3 replica3 "${BENCH_CONF[@]}"
R=$R1

echo "    writing $SYNC_OPS operations of a $SYNC_KIND database on the source..." >&2
case $SYNC_KIND in
any) fill_keys "$S" d "$SYNC_OPS" ; FORMAT=$FIXED32 ;;
immutable)
	FORMAT="$FIXED32, \"kind\": \"immutable\""
	q "$S" -c "SELECT count(*) FROM qmdb.create_database('d', 'fixed', 32, 32, 'immutable')" \
		-c "SELECT count(*) FROM (SELECT qmdb.set_batch('d',
			ARRAY(SELECT sha256(int8send(b * 1000 + i)) FROM generate_series(1, 1000) i),
			ARRAY(SELECT sha256(int8send(-b * 1000 - i)) FROM generate_series(1, 1000) i))
			FROM generate_series(1, $SYNC_OPS / 1000) b) t" >/dev/null ;;
keyless)
	FORMAT='"kind": "keyless", "encoding": "fixed", "value_size": 32'
	q "$S" -c "SELECT count(*) FROM qmdb.create_database('d', 'fixed', NULL, 32, 'keyless')" \
		-c "SELECT count(*) FROM (SELECT qmdb.append_batch('d',
			ARRAY(SELECT sha256(int8send(b * 1000 + i)) FROM generate_series(1, 1000) i))
			FROM generate_series(1, $SYNC_OPS / 1000) b) t" >/dev/null ;;
*) echo "SYNC_KIND must be any, immutable or keyless" >&2; exit 1 ;;
esac
op_rows "$S" d journal_rows
read -r root start end < <(target "$S" d)
ops=$((end - start))
[ "$SYNC_LOGICAL" = 0 ] || q "$S" -c "CREATE TABLE journal_pub AS SELECT db_id, loc, op FROM journal_rows WHERE loc >= $start" \
	-c "ALTER TABLE journal_pub ADD PRIMARY KEY (db_id, loc)" -c "CREATE PUBLICATION bench FOR TABLE journal_pub" >/dev/null
# Settled before each measurement: autovacuum of the last method's fresh
# rows and the writeback of its dirty pages would otherwise land on the
# next one.
settle() {
	q "$S" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
	q "$R" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
	sync # and the kernel's dirty pages
}
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" -v e="$3" 'BEGIN { printf "%.0f", n / (e - s) }'; }
best() { [ "$2" -gt "$1" ] && echo "$2" || echo "$1"; }

# Ours: verified sync. One session waits for it on the server (sync_wait
# sleeps on its latch); the worker's memory is sampled from /proc, with no
# query while it runs (a psql every 0.1 s costs these 2 cores a few percent):
# the worker is found by its process title, a child of R's postmaster.
peak_kb=0
find_worker() {
	local postmaster
	postmaster=$(head -1 "$(node_dir "$R")/data/postmaster.pid")
	if command -v pgrep >/dev/null; then
		pgrep -P "$postmaster" -f "qmdb sync worker for" | head -1 || true
	else
		q "$R" -c "SELECT worker_pid FROM qmdb.sync_status WHERE worker_pid IS NOT NULL"
	fi
}
# The last round's database goes before the settle, so VACUUM clears its
# rows as DROP TABLE clears a baseline's (else the sync's inserts would
# land after a million dead journal rows).
clear_ours() {
	q "$R" -c "SELECT qmdb.drop_database('d') FROM qmdb.databases WHERE name = 'd'" >/dev/null
}
# watch_peak WAITER FINDER VAR: while WAITER runs, the RssAnon of the
# process FINDER prints, sampled every 0.1 s; the peak (KiB) into VAR.
watch_peak() {
	local waiter=$1 finder=$2 pid="" kb line peak=${!3}
	while kill -0 "$waiter" 2>/dev/null; do
		[ -n "$pid" ] || pid=$($finder)
		if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
			while read -r line; do
				case "$line" in RssAnon:*)
					kb=${line//[!0-9]/}
					[ "${kb:-0}" -gt "$peak" ] && peak=$kb ;;
				esac
			done <"/proc/$pid/status" 2>/dev/null || true
		fi
		sleep 0.1
	done
	printf -v "$3" '%s' "$peak"
}
run_ours() {
	local t0 t1 waiter
	t0=$(now)
	sync_start "$R" d "$root" "$start" "$end" "$FORMAT, \"fetch_batch_size\": 5000, \"max_outstanding_requests\": 8" "$(peer "$S")"
	q "$R" -c "SELECT qmdb.sync_wait('d', '3600 seconds')" >"$(node_dir "$R")/wait.out" &
	waiter=$!
	watch_peak "$waiter" find_worker peak_kb
	wait "$waiter"
	t1=$(now)
	[ "$(cat "$(node_dir "$R")/wait.out")" = complete ] || { q "$R" -c "SELECT state, last_error FROM qmdb.sync_status"; exit 1; }
	all_ok "$R" d
	result=$(rate "$ops" "$t0" "$t1")
}

# A baseline's empty table on R: one row per operation, a primary key.
empty_table() {
	q "$R" -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS $1" \
		-c "CREATE TABLE $1 (db_id int, loc bigint, op bytea, PRIMARY KEY (db_id, loc))" >/dev/null
}

# Baseline 1: binary COPY of the same rows into a table with a primary key.
run_copy() {
	empty_table journal_copy
	local t0 t1
	t0=$(now)
	cluster_psql "$S" -d postgres -c "\\copy (SELECT db_id, loc, op FROM journal_rows WHERE loc >= $start ORDER BY loc) TO STDOUT (FORMAT binary)" |
		cluster_psql "$R" -d postgres -c "\\copy journal_copy FROM STDIN (FORMAT binary)" >/dev/null
	t1=$(now)
	result=$(rate "$ops" "$t0" "$t1")
}

# Baseline 2: logical replication's initial table sync of the same rows.
run_logical() {
	empty_table journal_pub
	local t0 t1
	t0=$(now)
	q "$R" -c "CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=$S dbname=postgres user=postgres' PUBLICATION bench" >/dev/null 2>&1
	# Polled inside one session, not by a psql each time; every 20 ms, as
	# sync_wait polls the job.
	q "$R" -c "DO \$\$ BEGIN
		WHILE NOT (SELECT count(*) > 0 AND bool_and(srsubstate = 'r') FROM pg_subscription_rel) LOOP
			PERFORM pg_sleep(0.02);
		END LOOP; END \$\$" >/dev/null
	t1=$(now)
	q "$R" -c "DROP SUBSCRIPTION bench" >/dev/null 2>&1
	result=$(rate "$ops" "$t0" "$t1")
}

# SYNC_PRETOUCH_GIB=N: right before each first-round run, write and delete
# an N GiB file. On a VM whose host takes back the memory its guest frees
# (free page reporting, as on these machines), a fresh server's first run
# otherwise pays a host fault for each page of new file data it writes;
# memory freed a moment ago is reused without one (docs/operations.md).
pretouch() {
	[ "${SYNC_PRETOUCH_GIB:-0}" -gt 0 ] || return 0
	local f
	f="$(node_dir "$R")/pretouch"
	dd if=/dev/zero of="$f" bs=1M count=$((SYNC_PRETOUCH_GIB * 1024)) status=none
	rm -f "$f"
}

# Rounds, each method once a round, in the same order, each after a
# settle: runs vary by a third or more on these shared machines. Every
# round is printed; the first round (each method's one run on a fresh
# server), the median and the best are compared.
ROUNDS=${SYNC_ROUNDS:-3}
O=() C=() L=()
for round in $(seq 1 "$ROUNDS"); do
	[ "$round" = 1 ] && R=$R1
	clear_ours && settle && { [ "$round" != 1 ] || pretouch; } && run_ours && o=$result
	[ "$round" = 1 ] && R=$R2
	settle && { [ "$round" != 1 ] || pretouch; } && run_copy && c=$result
	l=0
	if [ "$SYNC_LOGICAL" != 0 ]; then
		[ "$round" = 1 ] && R=$R3
		settle && run_logical && l=$result
	fi
	R=$R1
	echo "    round $round: ours $o, COPY pipe $c, logical replication $l ops/s" >&2
	O+=("$o") C+=("$c") L+=("$l")
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
maximum() { printf '%s\n' "$@" | sort -n | tail -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for stat in first median best; do
	case $stat in
	first) ours=${O[0]} copy=${C[0]} logical=${L[0]} ;;
	median) ours=$(median "${O[@]}") copy=$(median "${C[@]}") logical=$(median "${L[@]}") ;;
	best) ours=$(maximum "${O[@]}") copy=$(maximum "${C[@]}") logical=$(maximum "${L[@]}") ;;
	esac
	r_copy=$(ratio "$ours" "$copy") r_logical=$(ratio "$ours" "$((logical > 0 ? logical : 1))")
	what=sync
	[ "$SYNC_KIND" = any ] || what="sync $SYNC_KIND"
	printf '%-34s %14s %14s %8s\n' "$what vs COPY pipe ($stat, ops/s)" "$ours" "$copy" "${r_copy}x"
	[ "$SYNC_LOGICAL" = 0 ] || printf '%-34s %14s %14s %8s\n' "$what vs logical rep. ($stat, ops/s)" "$ours" "$logical" "${r_logical}x"
	if [ -n "${BENCH_CSV:-}" ]; then
		echo "$what vs COPY pipe ($stat ops/s),$ours,$copy,$r_copy" >>"$BENCH_CSV"
		[ "$SYNC_LOGICAL" = 0 ] || echo "$what vs logical replication ($stat ops/s),$ours,$logical,$r_logical" >>"$BENCH_CSV"
	fi
done
echo "  ($ops operations [$start, $end), $ROUNDS rounds; sync worker peak private memory $((peak_kb / 1024)) MiB)"
grep -o 'qmdb sync of .*' "$(node_dir "$R")/server.log" | sed 's/^/  (/; s/$/)/' || true
[ -z "${BENCH_CSV:-}" ] || echo "sync worker peak private memory (KiB),$peak_kb,," >>"$BENCH_CSV"

# qmdb.verify of the replica's database: its time and its backend's peak
# private memory (the backend found by its query, once).
if [ "$SYNC_VERIFY" = 1 ]; then
	find_verifier() { q "$R" -c "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT count(*) FILTER%qmdb.verify%' AND pid <> pg_backend_pid()"; }
	verify_kb=0
	t0=$(now)
	q "$R" -c "SELECT count(*) FILTER (WHERE NOT ok) FROM qmdb.verify('d')" >"$(node_dir "$R")/verify.out" &
	watch_peak $! find_verifier verify_kb
	wait $!
	t1=$(now)
	expect_eq "$(cat "$(node_dir "$R")/verify.out")" 0 "checks failed by qmdb.verify"
	verify_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	echo "  (qmdb.verify: $verify_s s, peak private memory $((verify_kb / 1024)) MiB)"
	[ -z "${BENCH_CSV:-}" ] || echo "qmdb.verify seconds and peak KiB,$verify_s,$verify_kb," >>"$BENCH_CSV"
fi
