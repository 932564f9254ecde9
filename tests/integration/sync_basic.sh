#!/usr/bin/env bash
# A pruned source A syncs to B (range start > 0: boundary with pins); B is a
# normal replica that serves C (chain A -> B -> C); pause/resume and cancel.
# B and C rebuild their state the key-set way (a variable-encoding
# database too, with TOASTed values); a database of 30k keys, too many for
# C's maintenance_work_mem, C rebuilds in ranges of keys that each fit;
# one of 30k variable keys sharing a prefix, C first tries in one set,
# then in ranges cut at its keys' quantiles; all must equal A's.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
start_node C c "maintenance_work_mem = '1MB'"
fill "$A" d 300
floor=$(q "$A" -c "SELECT floor FROM qmdb.databases WHERE name = 'd'")
q "$A" -c "SELECT qmdb.prune('d', $floor)" >/dev/null
read -r root start end < <(target "$A" d)
[ "$start" -gt 0 ] || { echo "expected a floor above 0"; exit 1; }

sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"fetch_batch_size\": 100, \"max_outstanding_requests\": 4" "$(peer "$A")"
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(root, 'hex') || ' ' || size || ' ' || role FROM qmdb.databases WHERE name = 'd'")" \
	"$root $end replica" "B's catalog after sync"
all_ok "$B" d
expect_eq "$(q "$B" -c "SELECT percent FROM qmdb.sync_status")" "100.0" "percent"
# State equals the source's.
expect_eq "$(q "$B" -c "SELECT md5(string_agg(key::text || value::text, ',' ORDER BY key)) FROM qmdb.entries('d')")" \
	"$(q "$A" -c "SELECT md5(string_agg(key::text || value::text, ',' ORDER BY key)) FROM qmdb.entries('d')")" "entries"

# How many key ranges the rebuild took (0: the keys fit one set).
rebuilt_by() { grep -o "qmdb sync of \"$2\" complete: .*" "$(node_dir "$1")/server.log" | sed -n 's/.*(in \([0-9]*\) key ranges.*/\1/p;t;s/.*/0/p'; }
expect_eq "$(rebuilt_by "$B" d)" 0 "B's state rebuilt by the key set"
index_ok "$B" d

# Chain: C syncs from B, the replica.
sync_start "$C" d "$root" "$start" "$end" "$FIXED32, \"fetch_batch_size\": 64" "$(peer "$B")"
wait_for "$C" d complete
expect_eq "$(q "$C" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "C's root"
all_ok "$C" d
entries() { q "$1" -c "SELECT md5(string_agg(key::text || value::text || loc, ',' ORDER BY key)) FROM qmdb.entries('$2')"; }
expect_eq "$(rebuilt_by "$C" d)" 0 "C's state rebuilt by the key set"
expect_eq "$(entries "$C" d)" "$(entries "$B" d)" "C's entries"
index_ok "$C" d
fill_keys "$A" g 30000
q "$A" -c "SELECT count(*) FROM qmdb.apply_batch('g', ARRAY[sha256(int8send(2001))], ARRAY[NULL::bytea])" >/dev/null # a delete too
read -r groot gstart gend < <(target "$A" g)
sync_start "$C" g "$groot" "$gstart" "$gend" "$FIXED32" "$(peer "$A")"
wait_for "$C" g complete
all_ok "$C" g
expect_eq "$(rebuilt_by "$C" g)" 3 "C's state of 30k keys rebuilt in ranges"
expect_eq "$(entries "$C" g)" "$(entries "$A" g)" "C's entries of g"
index_ok "$C" g
# Keys "account:000001"..., all in one even range (their first 8 bytes are
# the same), updated and some deleted, one value of 160 kB: the range is
# cut by a sample.
q "$A" -c "SELECT count(*) FROM qmdb.create_database('p')" \
	-c "SELECT count(*) FROM (SELECT qmdb.apply_batch('p', ARRAY(SELECT convert_to('account:' || lpad((b * 1000 + i)::text, 6, '0'), 'UTF8')
		FROM generate_series(1, 1000) i), ARRAY(SELECT int8send(b * 1000 + i) FROM generate_series(1, 1000) i)) FROM generate_series(0, 29) b) t" \
	-c "SELECT count(*) FROM qmdb.apply_batch('p', ARRAY(SELECT convert_to('account:' || lpad((i * 7)::text, 6, '0'), 'UTF8')
		FROM generate_series(1, 4000) i), ARRAY(SELECT CASE WHEN i % 3 = 0 THEN NULL ELSE '\x07'::bytea END FROM generate_series(1, 4000) i))" \
	-c "SELECT count(*) FROM qmdb.apply_batch('p', ARRAY[convert_to('account:big', 'UTF8')],
		ARRAY[(SELECT string_agg(sha256(int8send(i)), ''::bytea) FROM generate_series(1, 5000) i)])" >/dev/null # 160 kB, past a spill buffer
read -r proot pstart pend < <(target "$A" p)
sync_start "$C" p "$proot" "$pstart" "$pend" '"encoding": "variable"' "$(peer "$A")"
wait_for "$C" p complete
all_ok "$C" p
[ "$(rebuilt_by "$C" p)" -gt 1 ] || { echo "FAIL: C's state of p not rebuilt in ranges"; exit 1; }
expect_eq "$(entries "$C" p)" "$(entries "$A" p)" "C's entries of p"
index_ok "$C" p

# A variable-encoding database, values from empty to past the TOAST
# threshold (near 20 kB), then updated and deleted: its state is rebuilt
# by decoding, with rows that must be TOASTed on the way into the new heap.
# Keys from 8 bytes to 1000 (the index compresses those past 512).
q "$A" -c "SELECT count(*) FROM qmdb.create_database('v')" \
	-c "SELECT count(*) FROM qmdb.apply_batch('v', ARRAY(SELECT int8send(i) FROM generate_series(1, 40) i),
		ARRAY(SELECT CASE WHEN i % 10 = 0 THEN ''::bytea ELSE convert_to(repeat(md5(i::text), i * 16), 'UTF8') END
		FROM generate_series(1, 40) i))" \
	-c "SELECT count(*) FROM qmdb.apply_batch('v', ARRAY[int8send(3), int8send(5), int8send(41)],
		ARRAY[convert_to(repeat('x', 9000), 'UTF8'), NULL, '\\x00'::bytea])" \
	-c "SELECT count(*) FROM qmdb.apply_batch('v', ARRAY[convert_to(repeat('k', 1000), 'UTF8'),
		(SELECT string_agg(sha256(int8send(i)), ''::bytea) FROM generate_series(1, 20) i)], ARRAY['\\x01'::bytea, '\\x02'])" >/dev/null
read -r vroot vstart vend < <(target "$A" v)
sync_start "$B" v "$vroot" "$vstart" "$vend" '"encoding": "variable"' "$(peer "$A")"
wait_for "$B" v complete
all_ok "$B" v
expect_eq "$(entries "$B" v)" "$(entries "$A" v)" "B's entries of the variable-encoding database"
expect_eq "$(q "$B" -c "SELECT count(*) || ' ' || max(length(value)) || ' ' || max(length(key)) FROM qmdb.entries('v')")" \
	"42 19968 1000" "B's live keys, longest value and key"
index_ok "$B" v
expect_eq "$(q "$B" -c "SELECT length(qmdb.get('v', int8send(3)))")" 9000 "B's get of a TOASTed value"

# Every key deleted: an empty state, and an index with no root.
q "$A" -c "SELECT count(*) FROM qmdb.create_database('z', 'fixed', 32, 32)" \
	-c "SELECT count(*) FROM qmdb.apply_batch('z', ARRAY[sha256('a'), sha256('b')], ARRAY[sha256('x'), sha256('y')])" \
	-c "SELECT count(*) FROM qmdb.apply_batch('z', ARRAY[sha256('a'), sha256('b')], ARRAY[NULL::bytea, NULL])" >/dev/null
read -r zroot zstart zend < <(target "$A" z)
sync_start "$B" z "$zroot" "$zstart" "$zend" "$FIXED32" "$(peer "$A")"
wait_for "$B" z complete
all_ok "$B" z
expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.entries('z')")" 0 "B's live keys of z"
index_ok "$B" z

# Promoted, the replica works as a source: the next batch gives the same root as on A.
q "$B" -c "SELECT qmdb.promote('d')" >/dev/null
next="SELECT encode(root, 'hex') FROM qmdb.apply_batch('d', ARRAY[sha256('k')], ARRAY[sha256('v')])"
expect_eq "$(q "$B" -c "$next")" "$(q "$A" -c "$next")" "next batch on replica and source"

# Pause, resume, cancel with and without data.
read -r root start end < <(target "$A" d)
# Started and paused in one transaction: the worker starts paused.
q "$C" -c "BEGIN" -c "SELECT qmdb.sync_start('e', ARRAY['$(peer "$A")'], decode('$root', 'hex'), $start, $end, '{$FIXED32, \"source_db\": \"d\"}')" \
	-c "SELECT qmdb.sync_pause('e')" -c "COMMIT" >/dev/null
poll "$C" "SELECT phase = 'paused' AND journal_size = range_start FROM qmdb.sync_status WHERE db = 'e'"
q "$C" -c "SELECT qmdb.sync_resume('e')" >/dev/null
wait_for "$C" e complete
all_ok "$C" e
sync_start "$C" f "$root" "$start" "$end" "$FIXED32, \"fetch_batch_size\": 1, \"source_db\": \"d\"" "$(peer "$A")"
q "$C" -c "SELECT qmdb.sync_cancel('f')" >/dev/null
wait_for "$C" f cancelled
q "$C" -c "SELECT qmdb.sync_cancel('f', drop_data => true)" >/dev/null
expect_eq "$(q "$C" -c "SELECT count(*) FROM qmdb.databases WHERE name = 'f'")" 0 "dropped database"
expect_eq "$(q "$C" -c "SELECT count(*) FROM qmdb.journal j WHERE NOT EXISTS (SELECT 1 FROM qmdb.databases d WHERE d.id = j.db_id)")" 0 "orphan rows"
# Forgetting a completed job keeps its replica; only the job goes.
q "$C" -c "SELECT qmdb.sync_cancel('e', drop_data => true)" >/dev/null
expect_eq "$(q "$C" -c "SELECT role || ' ' || (SELECT count(*) FROM qmdb.sync_status WHERE db = 'e') FROM qmdb.databases WHERE name = 'e'")" \
	"replica 0" "a completed job forgotten, its replica kept"
all_ok "$C" e
# Every database but a syncing one has its state partition, and no partition is left over.
expect_eq "$(q "$C" -c "SELECT count(*) FROM pg_inherits WHERE inhparent = 'qmdb.state'::regclass")" \
	"$(q "$C" -c "SELECT count(*) FROM qmdb.databases WHERE role <> 'syncing'")" "state partitions"
echo "sync_basic: pruned source -> replica -> chain, root $(echo "$root" | cut -c1-16)..., $((end - start)) operations; with 1MB, C rebuilt 30k keys in $(rebuilt_by "$C" g) key ranges and 30k prefixed keys in $(rebuilt_by "$C" p)"
