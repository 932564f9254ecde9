#!/usr/bin/env bash
# Catch-up across a source prune past the replica: the target starts beyond
# what the replica holds, so sync_start syncs [start, end) afresh into a new
# database while the replica stays readable (a reader checks every root it
# sees is the old or the new one), and the completion replaces it in one
# transaction. Then a lying peer during a catch-up: banned, and the catch-up
# completes from the honest one.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill_keys "$A" d 3000
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "$FIXED32" "$(peer "$A")"
wait_for "$B" d complete
old_root=$root

# The source rewrites enough for its floor to pass the replica's size, then prunes.
fill "$A" d 400
read -r root start end < <(target "$A" d)
[ "$start" -gt "$end" ] && exit 1
q "$A" -c "SELECT qmdb.prune('d', $start)" >/dev/null
[ "$start" -gt "$(q "$B" -c "SELECT size FROM qmdb.databases WHERE name = 'd'")" ] || { echo "the floor did not pass the replica"; exit 1; }

scratch reads
reads=$SCRATCH_DIR/reads
# Started paused (one transaction), so that the old state is surely read once.
notice=$(q "$B" -c "BEGIN" -c "SELECT qmdb.sync_start('d', ARRAY['$(peer "$A")'], decode('$root', 'hex'), $start, $end, '{\"fetch_batch_size\": 50, \"max_outstanding_requests\": 1}')" \
	-c "SELECT qmdb.sync_pause('d')" -c "COMMIT" 2>&1)
case "$notice" in *"syncing it afresh"*) ;; *) echo "no resync notice: $notice"; exit 1 ;; esac
# The reader: the replica's root, until the job ends.
q "$B" -c "SELECT encode(qmdb.root('d'), 'hex') || ' ' || (SELECT count(*) FROM qmdb.entries('d'))" >>"$reads"
q "$B" -c "SELECT qmdb.sync_resume('d')" >/dev/null
while [ "$(q "$B" -c "SELECT state FROM qmdb.sync_status")" = running ]; do
	q "$B" -c "SELECT encode(qmdb.root('d'), 'hex') || ' ' || (SELECT count(*) FROM qmdb.entries('d'))" >>"$reads"
done
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root after the resync"
expect_eq "$(q "$B" -c "SELECT string_agg(name || ' ' || role || ' ' || pruning_boundary, ',') FROM qmdb.databases")" "d replica $start" "one database, the new one"
all_ok "$B" d
seen=$(wc -l <"$reads")
others=$(awk -v a="$old_root" -v b="$root" '$1 != a && $1 != b' "$reads" | wc -l)
expect_eq "$others" 0 "roots the reader saw besides the old and the new ($seen reads)"
grep -q "^$old_root " "$reads" || { echo "the reader never saw the old state during the resync"; exit 1; }
expect_eq "$(q "$B" -c "SELECT md5(string_agg(key::text || value::text, ',' ORDER BY key)) FROM qmdb.entries('d')")" \
	"$(q "$A" -c "SELECT md5(string_agg(key::text || value::text, ',' ORDER BY key)) FROM qmdb.entries('d')")" \
	"entries after the resync"

# A lying peer during a catch-up: a copy of the source whose serve flips a byte.
lying_copy() { # lying_copy DB: a copy of A's databases whose qmdb.serve flips each answer's last byte
	as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$A" -U postgres "$1"
	as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$A" -U postgres -Fc postgres |
		as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$A" -U postgres -d "$1"
	cluster_psql "$A" -d "$1" -q -c "ALTER FUNCTION qmdb.serve(text, bytea) RENAME TO serve_honest" \
		-c "CREATE FUNCTION qmdb.serve(db text, request bytea) RETURNS bytea LANGUAGE sql AS
		    \$\$ SELECT set_byte(r, length(r) - 1, get_byte(r, length(r) - 1) # 1) FROM qmdb.serve_honest(db, request) r \$\$"
}
fill_keys "$A" d 2000
lying_copy bad
read -r root2 start2 end2 < <(target "$A" d)
sync_start "$B" d "$root2" "$(q "$B" -c "SELECT least($start2, size) FROM qmdb.databases WHERE name = 'd'")" "$end2" \
	"\"fetch_batch_size\": 20, \"max_outstanding_requests\": 4" "$(peer "$A" bad)" "$(peer "$A")"
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root2" "root after a catch-up with a liar"
expect_eq "$(q "$B" -c "SELECT state || ' ' || (ban_reason LIKE '%failed verification%') FROM qmdb.sync_peers WHERE peer = 1")" \
	"banned true" "the liar is banned"
all_ok "$B" d

# Only a liar: the catch-up fails, and the replica keeps its state.
fill_keys "$A" d 1000
lying_copy liar
read -r root3 start3 end3 < <(target "$A" d)
before=$(q "$B" -c "SELECT encode(root, 'hex') || ' ' || size FROM qmdb.databases WHERE name = 'd'")
sync_start "$B" d "$root3" "$(q "$B" -c "SELECT least($start3, size) FROM qmdb.databases WHERE name = 'd'")" "$end3" \
	"\"fetch_batch_size\": 20" "$(peer "$A" liar)"
wait_for "$B" d failed
expect_eq "$(q "$B" -c "SELECT encode(root, 'hex') || ' ' || size FROM qmdb.databases WHERE name = 'd'")" "$before" "the replica after a failed catch-up"
all_ok "$B" d
echo "sync_resync: resynced past a prune at $start (the reader saw $seen states, each the old or the new), banned a liar during a catch-up, kept the replica when only the liar answered"
