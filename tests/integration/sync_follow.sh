#!/usr/bin/env bash
# Follow mode while the source writes: B follows A, C follows B (a chain
# A -> B -> C). A reader on B checks, between commits, that every state it
# sees (root and entries, read in one snapshot) is one A published at that
# root. NOTIFY sends caught_up; sync_finish ends following, and the
# database stays a replica.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
start_node C c
# A records the root and the entries of every commit it publishes.
q "$A" -c "CREATE TABLE published (root text PRIMARY KEY, entries text)" >/dev/null
record() {
	q "$A" -c "INSERT INTO published SELECT encode(qmdb.root('d'), 'hex'),
		(SELECT md5(coalesce(string_agg(key::text || value::text, ',' ORDER BY key), '')) FROM qmdb.entries('d'))
		ON CONFLICT DO NOTHING" >/dev/null
}
fill "$A" d 30
record
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"follow\": true, \"fetch_batch_size\": 7" "$(peer "$A")"
wait_for "$B" d "caught up"
expect_eq "$(q "$B" -c "SELECT state || ' ' || phase || ' ' || ops_behind FROM qmdb.sync_status")" "following caught up 0" "following"
# C follows B: a replica serves while it follows.
read -r rootb startb endb < <(target "$B" d)
sync_start "$C" d "$rootb" "$startb" "$endb" "$FIXED32, \"follow\": true, \"fetch_batch_size\": 11" "$(peer "$B")"
wait_for "$C" d "caught up"

# The reader: one snapshot per read, root and entries together.
scratch reads
reads=$SCRATCH_DIR/reads
(
	for _ in $(seq 1 200); do
		cluster_psql "$B" -d postgres -At -F' ' -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
			-c "SELECT encode(qmdb.root('d'), 'hex'), (SELECT md5(coalesce(string_agg(key::text || value::text, ',' ORDER BY key), '')) FROM qmdb.entries('d'))" \
			-c "COMMIT" | grep -v '^BEGIN\|^COMMIT' >>"$reads"
	done
) &
reader=$!

# The source writes; each commit's target goes to B, and B's to C.
for round in $(seq 1 12); do
	for _ in 1 2 3; do # one commit at a time, each recorded: B may publish any of them
		fill "$A" d 1
		record
	done
	read -r root start end < <(target "$A" d)
	q "$B" -c "SELECT qmdb.sync_update_target('d', decode('$root', 'hex'), $start, $end)" >/dev/null
	if [ $((round % 3)) = 0 ]; then
		wait_for "$B" d "caught up"
		read -r rootb startb endb < <(target "$B" d)
		q "$C" -c "SELECT qmdb.sync_update_target('d', decode('$rootb', 'hex'), $startb, $endb)" >/dev/null
	fi
done
wait "$reader"
wait_for "$B" d "caught up"
wait_for "$C" d "caught up"
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "B at A's newest root"
expect_eq "$(q "$C" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "C at A's newest root, through B"

# Every state the reader saw is one A published, with its entries.
bad=0 seen=0
while read -r r e; do
	seen=$((seen + 1))
	want=$(q "$A" -c "SELECT entries FROM published WHERE root = '$r'")
	[ "$want" = "$e" ] || { echo "B showed root $r with entries $e (A published: '${want:-nothing}')"; bad=$((bad + 1)); }
done <"$reads"
expect_eq "$bad" 0 "states the reader saw"
distinct=$(sort -u "$reads" | wc -l)

# A caught_up event for each target applied, with its size and root.
fill "$A" d 2
read -r root start end < <(target "$A" d)
events=$(cluster_psql "$B" -d postgres -At -c "LISTEN qmdb_sync" \
	-c "SELECT qmdb.sync_update_target('d', decode('$root', 'hex'), $start, $end)" \
	-c "SELECT qmdb.sync_wait('d', '120 seconds')" -c "SELECT 1" 2>&1)
caught=$(grep -c "\"size\": $end, \"event\": \"caught_up\"" <<<"$events" || true)
expect_eq "$caught" 1 "caught_up events at $end: $events"
expect_eq "$(grep -c "\"root\": \"$root\"" <<<"$events" || true)" 1 "the caught_up event's root"
# What the event and sync_wait said survives a crash: the turn that caught
# up commits durably (its WAL is written, as a standby streams it), though
# the worker's other turns commit asynchronously.
bdir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$bdir/data" -m immediate -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$bdir/data" -l "$bdir/server.log" -w start >/dev/null
expect_eq "$(q "$B" -c "SELECT size || ' ' || encode(root, 'hex') FROM qmdb.databases WHERE name = 'd'")" "$end $root" \
	"the published root after an immediate shutdown"
wait_for "$B" d "caught up"


# lag and ops_behind while behind: pause, move the target, look, resume.
q "$B" -c "SELECT qmdb.sync_pause('d')" >/dev/null
fill "$A" d 2
read -r root start end < <(target "$A" d)
q "$B" -c "SELECT qmdb.sync_update_target('d', decode('$root', 'hex'), $start, $end)" >/dev/null
expect_eq "$(q "$B" -c "SELECT (ops_behind = $end - published_size AND ops_behind > 0 AND lag > interval '0')::text FROM qmdb.sync_status")" true "lag while behind"
q "$B" -c "SELECT qmdb.sync_resume('d')" >/dev/null
poll "$B" "SELECT state = 'following' AND phase = 'caught up' AND ops_behind = 0 AND lag = interval '0' FROM qmdb.sync_status"

# finish ends following; the database stays a replica, verified.
q "$B" -c "SELECT qmdb.sync_finish('d')" >/dev/null
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT role || ' ' || encode(root, 'hex') FROM qmdb.databases WHERE name = 'd'")" "replica $root" "after finish"
all_ok "$B" d
all_ok "$C" d
echo "sync_follow: B followed A through $(q "$A" -c "SELECT count(*) FROM published") commits, C followed B; the reader saw $seen states ($distinct distinct), each one A published"
