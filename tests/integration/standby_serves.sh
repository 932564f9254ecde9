#!/usr/bin/env bash
# A physical standby of a pg_qmdb node serves: after the primary synced a
# database, a hot standby (pg_basebackup -R, streaming) answers reads,
# qmdb.verify, qmdb.hello and qmdb.serve, also under
# default_transaction_read_only, and a third node syncs from the standby.
# A sync cannot be started on the standby: a clear read-only error. Then the
# primary follows its source while the standby serves each verified commit
# it replays, and the third node follows the standby.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill "$A" d 60
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "$FIXED32" "$(peer "$A")"
wait_for "$B" d complete

# C: a hot standby of B, streaming.
cdir=$(make_workdir c)
NODES+=("$cdir")
C=$(free_port)
as_pg "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$B" -U postgres -D "$cdir/data" -R -X stream -c fast >/dev/null
printf "port = %s\nunix_socket_directories = '%s'\n" "$C" "$cdir" | as_pg tee -a "$cdir/data/postgresql.conf" >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$cdir/data" -l "$cdir/server.log" -w -t 60 start >/dev/null
NODE_DIR[$C]=$cdir
expect_eq "$(q "$C" -c "SELECT pg_is_in_recovery()")" t "C is a standby"
# It has replayed B's sync once B's current WAL position is replayed.
lsn=$(q "$B" -c "SELECT pg_current_wal_lsn()")
poll "$C" "SELECT pg_last_wal_replay_lsn() >= '$lsn'"

for ro in off on; do
	qc() { cluster_psql "$C" -d postgres -At -c "SET default_transaction_read_only = $ro" "$@"; }
	expect_eq "$(qc -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root on the standby (read_only $ro)"
	expect_eq "$(qc -c "SELECT bool_and(ok) FROM qmdb.verify('d')")" t "verify on the standby (read_only $ro)"
	expect_eq "$(qc -c "SELECT count(*) FROM qmdb.entries('d')")" "$(q "$B" -c "SELECT count(*) FROM qmdb.entries('d')")" \
		"entries on the standby (read_only $ro)"
	expect_eq "$(qc -c "SELECT size FROM qmdb.hello('d')")" "$end" "hello on the standby (read_only $ro)"
	expect_eq "$(qc -c "SELECT qmdb.verify_response('d', qmdb.root('d'), r, qmdb.serve('d', r))
		FROM qmdb.encode_request('operations', $end, $start, 50) r")" t "serve on the standby (read_only $ro)"
done
# No sync job on a standby: a clear error, nothing written.
case "$(q "$C" -c "SELECT qmdb.sync_start('x', ARRAY['$(peer "$A")'], decode('$root', 'hex'), $start, $end, '{$FIXED32}')" 2>&1 || true)" in
*"read-only transaction"*) ;; *) echo "FAIL: sync_start on a standby"; exit 1 ;;
esac
# D syncs from the standby alone.
start_node D dd
sync_start "$D" d "$root" "$start" "$end" "$FIXED32" "$(peer "$C")"
wait_for "$D" d complete
expect_eq "$(q "$D" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root synced from a standby"
all_ok "$D" d

# B follows A; C replays each commit B publishes; D follows C.
fill "$A" d 10
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "\"follow\": true" "$(peer "$A")"
wait_for "$B" d "caught up"
replayed() {
	local lsn
	lsn=$(q "$B" -c "SELECT pg_current_wal_lsn()")
	poll "$C" "SELECT pg_last_wal_replay_lsn() >= '$lsn'"
}
replayed
read -r croot cstart cend < <(target "$C" d)
expect_eq "$croot" "$root" "the standby's root while the primary follows"
sync_start "$D" d "$croot" "$cstart" "$cend" "\"follow\": true" "$(peer "$C")"
wait_for "$D" d "caught up"
for round in 1 2 3; do
	fill "$A" d 5
	read -r root start end < <(target "$A" d)
	q "$B" -c "SELECT qmdb.sync_update_target('d', decode('$root', 'hex'), $start, $end)" >/dev/null
	wait_for "$B" d "caught up"
	replayed
	expect_eq "$(cluster_psql "$C" -d postgres -At -c "SET default_transaction_read_only = on" \
		-c "SELECT bool_and(ok) FROM qmdb.verify('d')")" t "verify on the standby of a following primary (round $round)"
	read -r croot cstart cend < <(target "$C" d)
	q "$D" -c "SELECT qmdb.sync_update_target('d', decode('$croot', 'hex'), $cstart, $cend)" >/dev/null
	wait_for "$D" d "caught up"
	expect_eq "$(q "$D" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "D at A's root through the standby (round $round)"
done
all_ok "$D" d
echo "standby_serves: a hot standby served reads, verify, hello and serve (read-only too), a sync from it completed, and it served a follower while its primary followed the source"
