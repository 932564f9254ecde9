#!/usr/bin/env bash
# One of two peers is shut down mid-sync: its requests go to the other, its
# connection errors show in qmdb.sync_peers, and the sync completes.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node P p
start_node B b
fill_keys "$A" d 20000
# P serves a copy of A: a whole-database dump (the state partitions are tables of their own).
q "$P" -c "DROP EXTENSION pg_qmdb" >/dev/null
as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$A" -U postgres -Fc postgres |
	as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$P" -U postgres -d postgres
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"fetch_batch_size\": 10, \"max_outstanding_requests\": 4, \"request_timeout\": 5" \
	"$(peer "$P")" "$(peer "$A")"
poll "$B" "SELECT journal_size > $((start + (end - start) / 4)) FROM qmdb.sync_status"
dir=$(node_dir "$P")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root after losing a peer"
all_ok "$B" d
expect_eq "$(q "$B" -c "SELECT last_error IS NOT NULL FROM qmdb.sync_peers WHERE peer = 1")" t "the lost peer's error is shown"
echo "sync_peer_lost: completed from the remaining peer ($(q "$B" -c "SELECT ops FROM qmdb.sync_peers WHERE peer = 2") ops from it)"
