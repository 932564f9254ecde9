#!/usr/bin/env bash
# Under wal_level = logical, a synced database's state reaches logical
# decoding (CDC consumers of qmdb.state): the rebuild inserts its rows
# instead of writing page images, and a test_decoding slot made before the
# sync sees one INSERT per live key. The state is still what the source has.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b "wal_level = logical" "max_replication_slots = 4"
fill "$A" d 40
read -r root start end < <(target "$A" d)
q "$B" -c "SELECT 'ok' FROM pg_create_logical_replication_slot('cdc', 'test_decoding')" >/dev/null
sync_start "$B" d "$root" "$start" "$end" "$FIXED32" "$(peer "$A")"
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root"
all_ok "$B" d
index_ok "$B" d
id=$(q "$B" -c "SELECT id FROM qmdb.databases WHERE name = 'd'")
live=$(q "$B" -c "SELECT count(*) FROM qmdb.entries('d')")
[ "$live" -gt 0 ] || { echo "FAIL: no live keys"; exit 1; }
expect_eq "$(q "$B" -c "SELECT count(*) FROM pg_logical_slot_get_changes('cdc', NULL, NULL)
	WHERE data LIKE 'table qmdb.state_$id: INSERT: %'")" "$live" "state rows seen by logical decoding"
expect_eq "$(q "$A" -c "SELECT md5(string_agg(key || value, '' ORDER BY key)) FROM qmdb.entries('d')")" \
	"$(q "$B" -c "SELECT md5(string_agg(key || value, '' ORDER BY key)) FROM qmdb.entries('d')")" "entries"
case "$(grep "qmdb sync of \"d\" complete" "$(node_dir "$B")/server.log")" in
*"wal_level = logical: rows inserted for logical decoding"*) ;;
*) echo "FAIL: the completion message does not say how the state was written"; exit 1 ;;
esac
echo "sync_logical_decoding: $live state rows decoded from a synced database"
