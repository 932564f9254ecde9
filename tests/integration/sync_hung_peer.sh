#!/usr/bin/env bash
# A peer that never answers (its qmdb.serve sleeps for an hour): the worker
# still answers sync_cancel and SIGTERM (a fast shutdown) without waiting on
# the network, and a job whose peer hangs past request_timeout moves on.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill "$A" d 50
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$A" -U postgres slow
as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$A" -U postgres -Fc postgres |
	as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$A" -U postgres -d slow
# It hangs while hang.yes holds (section 5 lets it answer).
cluster_psql "$A" -d slow -q -c "ALTER FUNCTION qmdb.serve(text, bytea) RENAME TO serve_honest" \
	-c "CREATE TABLE hang (yes boolean); INSERT INTO hang VALUES (true)" \
	-c "CREATE FUNCTION qmdb.serve(db text, request bytea) RETURNS bytea LANGUAGE sql AS
	    \$\$ SELECT qmdb.serve_honest(db, request)
	       FROM pg_catalog.pg_sleep(CASE WHEN (SELECT yes FROM public.hang) THEN 3600 ELSE 0 END) \$\$"
read -r root start end < <(target "$A" d)

# 1. sync_cancel while a request hangs: the worker leaves.
sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"request_timeout\": 3600" "$(peer "$A" slow)"
poll "$B" "SELECT in_flight > 0 FROM qmdb.sync_peers WHERE db = 'd'"
# What the worker is doing shows where PostgreSQL's tools look: its query
# and application_name here, and the job's name in its sessions on the peer.
poll "$B" "SELECT query LIKE 'qmdb sync of \"d\": fetching, % of $end operations' AND application_name = 'qmdb sync worker: d'
	FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker'"
expect_eq "$(q "$A" -c "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'qmdb sync of d'")" t \
	"the job's name on the peer"
q "$B" -c "SELECT qmdb.sync_cancel('d')" >/dev/null
poll "$B" "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker')"

# 2. A fast shutdown while a request hangs: pg_ctl stop returns (it would
#    time out if the worker ignored SIGTERM while waiting on its peer).
sync_start "$B" e "$root" "$start" "$end" "$FIXED32, \"request_timeout\": 3600, \"source_db\": \"d\"" "$(peer "$A" slow)"
poll "$B" "SELECT in_flight > 0 FROM qmdb.sync_peers WHERE db = 'e'"
dir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null

# 3. With a short request_timeout and an honest peer beside it, the job
#    gives up on the hung requests and completes.
q "$B" -c "SELECT qmdb.sync_cancel('e', drop_data => true)" >/dev/null
sync_start "$B" f "$root" "$start" "$end" "$FIXED32, \"request_timeout\": 2, \"source_db\": \"d\"" \
	"$(peer "$A" slow)" "$(peer "$A")"
wait_for "$B" f complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('f'), 'hex')")" "$root" "root with a hung peer beside an honest one"

# 4. DROP DATABASE ... WITH (FORCE) of the PostgreSQL database a worker is
#    connected to, while its request hangs: the drop's SIGTERM ends the
#    worker at once (the drop waits for it, and fails after 5 s if it
#    lingers), and nothing starts it again.
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$B" -U postgres other
qo() { cluster_psql "$B" -d other -At "$@"; }
qo -c "CREATE EXTENSION pg_qmdb" >/dev/null
qo -c "SELECT qmdb.sync_start('g', ARRAY['$(peer "$A" slow)'], decode('$root', 'hex'), $start, $end,
	'{$FIXED32, \"request_timeout\": 3600, \"source_db\": \"d\"}')" >/dev/null
poll "$B" "SELECT in_flight > 0 FROM qmdb.sync_peers WHERE db = 'g'" other
q "$B" -c "DROP DATABASE other WITH (FORCE)" >/dev/null
expect_eq "$(q "$B" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker'")" 0 \
	"workers left after DROP DATABASE WITH (FORCE)"
# 5. A target update that comes while every operation left is asked for
#    waits in the engine until the current target is reached. Its queued
#    row stays until then: a later update must still advance it, and a
#    crash does not lose it.
cluster_psql "$A" -d slow -q -c "SELECT count(*) FROM (SELECT qmdb.apply_batch('d', ARRAY[sha256(int8send(b))],
	ARRAY[sha256(int8send(-b))]) FROM generate_series(1, 30) b) t"
read -r root2 start2 end2 < <(cluster_psql "$A" -d slow -At -F' ' -c "SELECT encode(root, 'hex'), range_start, range_end FROM qmdb.target('d')")
sync_start "$B" h "$root" "$start" "$end" "$FIXED32, \"request_timeout\": 3600, \"source_db\": \"d\", \"fetch_batch_size\": 10000" \
	"$(peer "$A" slow)"
poll "$B" "SELECT in_flight > 0 FROM qmdb.sync_peers WHERE db = 'h'"
q "$B" -c "SELECT qmdb.sync_update_target('h', decode('$root2', 'hex'), $start2, $end2)" >/dev/null
queued_at=$(q "$B" -c "SELECT clock_timestamp()")
poll "$B" "SELECT updated_at > '$queued_at' FROM qmdb.sync_jobs WHERE db_name = 'h'" # a worker turn saw it
expect_eq "$(q "$B" -c "SELECT range_end FROM qmdb.sync_status WHERE db = 'h'")" "$end" "the current target while the update waits"
expect_eq "$(q "$B" -c "SELECT qmdb.sync_update_target('h', sha256('older'), $start, $((end2 - 1)))" 2>&1 | grep -o 'does not advance')" \
	"does not advance" "an update behind the waiting one"
dir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
cluster_psql "$A" -d slow -q -c "UPDATE hang SET yes = false" \
	-c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'qmdb sync of h'" >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
wait_for "$B" h complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('h'), 'hex') || ' ' || size FROM qmdb.databases WHERE name = 'h'")" \
	"$root2 $end2" "the update that waited, reached after a crash"
echo "sync_hung_peer: cancel, shutdown and DROP DATABASE WITH (FORCE) did not wait on a hung peer; timeouts moved requests elsewhere; an update that waited survived a crash"
