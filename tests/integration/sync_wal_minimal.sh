#!/usr/bin/env bash
# A replica with wal_level = minimal: the rebuilt state's table and index
# are written behind shared buffers and not WAL-logged (they are new in the
# rebuild's transaction); at commit PostgreSQL syncs their files, or logs a
# small one's pages whole, read back through shared buffers. After an
# immediate shutdown right after completion, recovery must leave both
# states (one of 20k keys, rebuilt in key ranges within M's 1MB of
# maintenance_work_mem, one of 40 keys) as they were. (The OS keeps its page
# cache across the shutdown: this checks the WAL side, not the fsync.)
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node M m "wal_level = minimal" "max_wal_senders = 0" "maintenance_work_mem = '1MB'"
fill_keys "$A" g 20000
# Variable encoding, values past the TOAST threshold: the TOAST table too.
q "$A" -c "SELECT count(*) FROM qmdb.create_database('v')" \
	-c "SELECT count(*) FROM qmdb.apply_batch('v', ARRAY(SELECT int8send(i) FROM generate_series(1, 40) i),
		ARRAY(SELECT convert_to(repeat(md5(i::text), i * 16), 'UTF8') FROM generate_series(1, 40) i))" >/dev/null
entries() { q "$1" -c "SELECT md5(string_agg(key::text || value::text || loc, ',' ORDER BY key)) FROM qmdb.entries('$2')"; }
for db in g v; do
	read -r root start end < <(target "$A" "$db")
	enc=$FIXED32
	[ "$db" = v ] && enc='"encoding": "variable"'
	sync_start "$M" "$db" "$root" "$start" "$end" "$enc" "$(peer "$A")"
	wait_for "$M" "$db" complete
done
grep -q 'qmdb sync of "g" complete: .* key ranges' "$(node_dir "$M")/server.log" || { echo "FAIL: g not rebuilt in key ranges"; exit 1; }
dir=$(node_dir "$M")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
for db in g v; do
	all_ok "$M" "$db"
	expect_eq "$(entries "$M" "$db")" "$(entries "$A" "$db")" "$db's entries after recovery"
	index_ok "$M" "$db"
done
echo "sync_wal_minimal: two states rebuilt without WAL (one in key ranges) came back whole after an immediate shutdown"
