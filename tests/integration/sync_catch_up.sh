#!/usr/bin/env bash
# Catch-up of an existing replica: sync_start on it fetches only what it
# lacks and applies it incrementally; reads work throughout; a kill -9 mid
# catch-up resumes; writes to the replica are refused until qmdb.promote.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill_keys "$A" d 5000
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "$FIXED32" "$(peer "$A")"
wait_for "$B" d complete
first_accepted=$(q "$B" -c "SELECT responses_accepted FROM qmdb.sync_status")

# 1. The source writes more (new keys, updates and deletes); the replica catches up.
fill_keys "$A" d 3000
fill "$A" d 40
read -r root2 start2 end2 < <(target "$A" d)
sync_start "$B" d "$root2" "$start2" "$end2" "\"fetch_batch_size\": 500" "$(peer "$A")"
# Readable while it runs: the old state until the new commits are in.
expect_eq "$(q "$B" -c "SELECT (qmdb.root('d') IS NOT NULL)::text")" true "readable during the catch-up"
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root2" "root after the catch-up"
expect_eq "$(q "$B" -c "SELECT role || ' ' || size FROM qmdb.databases WHERE name = 'd'")" "replica $end2" "still a replica"
# Only what the replica lacked was fetched: (end2 - end) operations in batches of 500.
want=$(((end2 - end + 499) / 500))
expect_eq "$(q "$B" -c "SELECT responses_accepted FROM qmdb.sync_status")" "$want" "catch-up requests"
all_ok "$B" d
expect_eq "$(q "$B" -c "SELECT md5(string_agg(key::text || value::text || loc, ',' ORDER BY key)) FROM qmdb.entries('d')")" \
	"$(q "$A" -c "SELECT md5(string_agg(key::text || value::text || loc, ',' ORDER BY key)) FROM qmdb.entries('d')")" \
	"entries after the catch-up"

# 2. A target that does not end beyond the replica is refused.
bad=$(q "$B" -c "SELECT qmdb.sync_start('d', ARRAY['$(peer "$A")'], decode('$root2', 'hex'), $start2, $end2)" 2>&1 || true)
case "$bad" in *"already holds $end2 operations"*) ;; *) echo "a stale catch-up was accepted: $bad"; exit 1 ;; esac

# 3. kill -9 the worker in the middle of a bigger catch-up.
fill_keys "$A" d 20000
read -r root3 start3 end3 < <(target "$A" d)
# The source's floor may have passed the replica (then sync_start resyncs);
# a lower range_start is as trusted (the root does not depend on it).
start3=$(q "$B" -c "SELECT least($start3, size) FROM qmdb.databases WHERE name = 'd'")
sync_start "$B" d "$root3" "$start3" "$end3" "\"fetch_batch_size\": 5, \"max_outstanding_requests\": 1" "$(peer "$A")"
third=$((end2 + (end3 - end2) / 3))
poll "$B" "SELECT journal_size > $third FROM qmdb.sync_status"
pid=$(q "$B" -c "SELECT worker_pid FROM qmdb.sync_status")
kill -9 "$pid"
poll "$B" "SELECT worker_pid IS DISTINCT FROM $pid AND state = 'running' AND journal_size > $third FROM qmdb.sync_status"
# Published commits survived the crash, and only those are readable.
expect_eq "$(q "$B" -c "SELECT (size > $end2 AND size <= $end3)::text FROM qmdb.databases WHERE name = 'd'")" true "published before the crash"
# An immediate shutdown too.
dir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root3" "root after the crashes"
all_ok "$B" d
# Grown by inserts, the state's index is not CREATE INDEX's page for page, but amcheck-clean.
id=$(q "$B" -c "SELECT id FROM qmdb.databases WHERE name = 'd'")
q "$B" -q -c "CREATE EXTENSION IF NOT EXISTS amcheck" \
	-c "SELECT bt_index_parent_check('qmdb.state_${id}_pkey', heapallindexed => true, rootdescend => true)" >/dev/null

# 4. A replica is read-only except through sync; promote makes it a source.
err=$(q "$B" -v VERBOSITY=verbose -c "SELECT qmdb.apply_batch('d', ARRAY['\\x01'::bytea], ARRAY['\\x02'::bytea])" 2>&1 || true)
case "$err" in *25006*"is a replica"*) ;; *) echo "a write to a replica was not refused: $err"; exit 1 ;; esac
q "$B" -c "SELECT qmdb.promote('d')" >/dev/null
expect_eq "$(q "$B" -c "SELECT role FROM qmdb.databases WHERE name = 'd'")" source "promoted"
k=$(printf '%064x' 7)
q "$B" -c "SELECT size FROM qmdb.apply_batch('d', ARRAY[decode('$k', 'hex')], ARRAY[decode('$k', 'hex')])" >/dev/null
all_ok "$B" d
echo "sync_catch_up: caught up $((end2 - end)) operations in $want requests (first sync: $first_accepted), survived kill -9 and an immediate shutdown, refused a write, promoted"
