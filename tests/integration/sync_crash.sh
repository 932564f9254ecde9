#!/usr/bin/env bash
# The worker killed with SIGKILL mid-sync, then the syncing server shut down
# immediately mid-sync and restarted: each time the job resumes by itself
# (the launcher) and completes with the source root; verified rows already
# committed are kept, not fetched again. Then one more immediate shutdown
# after completion: the rebuilt state comes back through recovery.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill_keys "$A" d 20000
read -r root start end < <(target "$A" d)
third=$((start + (end - start) / 3))
sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"fetch_batch_size\": 5, \"max_outstanding_requests\": 1" "$(peer "$A")"

# 1. kill -9 the worker once a third is in.
poll "$B" "SELECT journal_size > $third FROM qmdb.sync_status"
pid=$(q "$B" -c "SELECT worker_pid FROM qmdb.sync_status")
kill -9 "$pid"
# The postmaster restarts after a backend crash; the launcher resumes the job.
poll "$B" "SELECT worker_pid IS DISTINCT FROM $pid AND state = 'running' AND journal_size > $third FROM qmdb.sync_status"

# 2. Immediate shutdown two thirds in, then start again.
poll "$B" "SELECT journal_size > $((start + 2 * (end - start) / 3)) OR state = 'complete' FROM qmdb.sync_status"
kept=$(q "$B" -c "SELECT journal_size FROM qmdb.sync_status")
dir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root after crashes"
all_ok "$B" d
# 3. Immediate shutdown right after completion: recovery replays the
# state's pages (written behind shared buffers, logged as page images).
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
all_ok "$B" d
expect_eq "$(q "$B" -c "SELECT md5(string_agg(key::text || value::text, ',' ORDER BY key)) FROM qmdb.entries('d')")" \
	"$(q "$A" -c "SELECT md5(string_agg(key::text || value::text, ',' ORDER BY key)) FROM qmdb.entries('d')")" \
	"entries after recovery"
index_ok "$B" d
accepted=$(q "$B" -c "SELECT responses_accepted FROM qmdb.sync_status")
echo "sync_crash: completed after kill -9 and an immediate shutdown ($kept of $end kept across the restart)"
