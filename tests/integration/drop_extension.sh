#!/usr/bin/env bash
# DROP EXTENSION pg_qmdb while syncs run (or are paused) is refused, naming
# them and how to stop them; once they are stopped it succeeds, and neither
# a worker nor the launcher fails on the tables that went with it.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node B b
unreachable="host=127.0.0.1 port=1 user=postgres"
sync_start "$B" x "$(printf '00%.0s' $(seq 1 32))" 0 10 "$FIXED32" "$unreachable"
sync_start "$B" y "$(printf '00%.0s' $(seq 1 32))" 0 10 "$FIXED32" "$unreachable"
q "$B" -c "SELECT qmdb.sync_pause('y')" >/dev/null
poll "$B" "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker'"
got=$(cluster_psql "$B" -d postgres -At -v VERBOSITY=verbose -c "DROP EXTENSION pg_qmdb" 2>&1 || true)
case "$got" in
*"55006: cannot drop extension pg_qmdb while syncs run here: 'x', 'y'"*"qmdb.sync_cancel"*) ;;
*) echo "FAIL: DROP EXTENSION during syncs: $got"; exit 1 ;;
esac
expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.sync_status WHERE state IN ('running', 'paused')")" 2 "jobs untouched"
q "$B" -c "SELECT qmdb.sync_cancel('x')" -c "SELECT qmdb.sync_cancel('y')" >/dev/null
poll "$B" "SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker'"
q "$B" -c "DROP EXTENSION pg_qmdb" >/dev/null
q "$B" -c "CREATE EXTENSION pg_qmdb" >/dev/null
expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.sync_status")" 0 "a fresh extension"
if grep -E 'relation "qmdb\.[a-z_]+" does not exist|deadlock detected' "$(node_dir "$B")/server.log"; then
	echo "FAIL: something failed on the dropped tables"
	exit 1
fi
echo "drop_extension: refused while two syncs ran, done once they were cancelled"
