#!/usr/bin/env bash
# One launcher resumes sync jobs in every database after a crash
# (immediate shutdown), with nothing to configure: two databases with a job
# each get their workers back and complete; a database with the extension
# but no job, and one without it, get no worker; a dropped database's job
# is forgotten.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill "$A" d 40
read -r root start end < <(target "$A" d)
for db in one two idle plain; do as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$B" -U postgres "$db"; done
qd() { local db=$1; shift; cluster_psql "$B" -d "$db" -At "$@"; }
for db in one two idle; do qd "$db" -c "CREATE EXTENSION pg_qmdb" >/dev/null; done
# explicit_finish: each job stays running (at its target, waiting) until finished.
for db in one two; do
	qd "$db" -c "SELECT qmdb.sync_start('d', ARRAY['$(peer "$A")'], decode('$root', 'hex'), $start, $end,
		'{$FIXED32, \"explicit_finish\": true}')" >/dev/null
	expect_eq "$(qd "$db" -c "SELECT qmdb.sync_wait('d', '120 seconds')")" "at target" "the job in $db before the crash"
done
workers="SELECT string_agg(datname, ' ' ORDER BY datname) FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker'"

dir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
# The launcher scans each database once (a short scanner each), then starts
# the two jobs' workers; nothing stays behind in the others.
poll "$B" "SELECT ($workers) = 'one two'"
poll "$B" "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'qmdb sync scanner'"
expect_eq "$(q "$B" -c "$workers")" "one two" "workers after the crash"
for db in one two; do
	qd "$db" -c "SELECT qmdb.sync_finish('d')" >/dev/null
	expect_eq "$(qd "$db" -c "SELECT qmdb.sync_wait('d', '120 seconds')")" complete "the job in $db after the crash"
	expect_eq "$(qd "$db" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root in $db"
done
poll "$B" "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker'"
# A job in a database that is then dropped: its worker goes with it, and the
# launcher forgets the job instead of starting workers there.
qd one -c "SELECT qmdb.sync_start('e', ARRAY['host=127.0.0.1 port=1 user=postgres'], decode('$root', 'hex'), $start, $end,
	'{$FIXED32, \"source_db\": \"d\"}')" >/dev/null
poll "$B" "SELECT ($workers) = 'one'"
q "$B" -c "DROP DATABASE one WITH (FORCE)" >/dev/null
qd two -c "SELECT qmdb.sync_start('f', ARRAY['host=127.0.0.1 port=1 user=postgres'], decode('$root', 'hex'), $start, $end,
	'{$FIXED32, \"source_db\": \"d\"}')" >/dev/null
# (A worker the launcher started while the drop was under way may have
# failed on the vanishing database; after a restart, none is started there.)
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
logged=$(wc -c <"$dir/server.log")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
poll "$B" "SELECT ($workers) = 'two'"
poll "$B" "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'qmdb sync scanner'"
if tail -c +"$((logged + 1))" "$dir/server.log" | grep "FATAL:  database .* does not exist"; then
	echo "FAIL: a worker was started in a dropped database"
	exit 1
fi
echo "sync_every_database: jobs in two databases resumed after a crash and completed; idle databases got no worker"
