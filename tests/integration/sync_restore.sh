#!/usr/bin/env bash
# A sync job restored from a dump (into the launcher's database of another
# cluster) does not resume behind the operator's back: it waits, says so in
# sync_status, and runs only after qmdb.sync_resume; jobs at home still
# resume by themselves after a restart.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill "$A" d 30
read -r root start end < <(target "$A" d)
# On A, a sync that cannot finish (its only peer is unreachable).
sync_start "$A" r "$root" "$start" "$end" "$FIXED32" "host=127.0.0.1 port=1 user=postgres"
scratch dump
dump=$SCRATCH_DIR/a.dump
as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$A" -U postgres -Fc -f "$dump" postgres
# Restored into B's launcher database (postgres).
q "$B" -c "DROP EXTENSION pg_qmdb" >/dev/null
as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$B" -U postgres -d postgres --exit-on-error "$dump"
expect_eq "$(q "$B" -c "SELECT state || ': ' || phase FROM qmdb.sync_status WHERE db = 'r'")" \
	"running: restored: waiting for qmdb.sync_resume" "the restored job"
expect_eq "$(q "$B" -c "SELECT qmdb.sync_wait('r')")" restored "sync_wait on a restored job"
# A job of B's own, running after a restart: the launcher starts its worker.
# Once it has, the launcher has passed over the restored job too.
sync_start "$B" m "$root" "$start" "$end" "$FIXED32" "host=127.0.0.1 port=1 user=postgres"
dir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
poll "$B" "SELECT worker_pid IS NOT NULL FROM qmdb.sync_status WHERE db = 'm'"
expect_eq "$(q "$B" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker'")" 1 \
	"workers after the launcher's pass (only B's own job)"
expect_eq "$(q "$B" -c "SELECT worker_pid IS NULL FROM qmdb.sync_status WHERE db = 'r'")" t "no worker for the restored job"
# sync_resume makes it B's: it runs (from A's source, reachable from here) and completes.
q "$B" -c "SELECT qmdb.sync_cancel('m', true)" >/dev/null
q "$B" -c "UPDATE qmdb.sync_jobs SET peers = ARRAY['$(peer "$A")'], options = options || '{\"source_db\": \"d\"}' WHERE db_name = 'r'" >/dev/null
q "$B" -c "SELECT qmdb.sync_resume('r')" >/dev/null
wait_for "$B" r complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('r'), 'hex')")" "$root" "the resumed restored sync"
echo "sync_restore: a restored job waited for sync_resume, then completed"
