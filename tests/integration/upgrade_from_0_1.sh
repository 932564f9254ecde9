#!/usr/bin/env bash
# The real upgrade from 0.1.0: the 0.1.0 library, built from the tree's
# history (tag-less: the commit recorded below), makes a source and a
# completed sync and leaves another sync interrupted; then the server gets
# this build, ALTER EXTENSION pg_qmdb UPDATE runs, and the replica verifies,
# reads and serves, a new sync completes, and the interrupted one resumes.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"
V010=1a8cdef # the last commit of 0.1.0 (before any 0.2.0 change)
LIB=$(as_pg "$PG_BIN/pg_config" --pkglibdir)/pg_qmdb.so
[ "$(id -u)" -eq 0 ] || { echo "upgrade_from_0_1: skipped (swapping the installed library needs root)"; exit 0; }
git -C "$REPO_ROOT" cat-file -e "$V010^{commit}" 2>/dev/null || { echo "upgrade_from_0_1: skipped (no history)"; exit 0; }

old=$(mktemp -d)
git -C "$REPO_ROOT" archive "$V010" | tar x -C "$old"
make -C "$old" -s -j2 all >"$old/build.log" 2>&1 || { tail -20 "$old/build.log"; exit 1; }
swap_library() { install -m 755 "$1" "$LIB.new" && mv "$LIB.new" "$LIB"; } # a new file: running servers keep theirs
current=$(mktemp)
cp "$REPO_ROOT/pg_qmdb.so" "$current"
restore() {
	local rc=$?
	swap_library "$current"
	rm -rf "$old" "$current"
	cleanup_nodes "$rc" # (under set -e a failing command here would skip it)
	exit "$rc"
}
trap restore EXIT

swap_library "$old/pg_qmdb.so"
# Nodes with the extension at 0.1.0 (start_node would create it at the newest version).
start_node_010() {
	local var=$1 dir port
	dir=$(make_workdir "$2")
	port=$(free_port)
	NODES+=("$dir")
	NODE_DIR[$port]=$dir
	cluster_start "$dir" "$port" "shared_preload_libraries = 'pg_qmdb'" >&2
	printf -v "$var" '%s' "$port"
}
start_node_010 A a
start_node_010 B b
for port in "$A" "$B"; do
	q "$port" -c "CREATE EXTENSION pg_qmdb VERSION '0.1.0'" >/dev/null
	expect_eq "$(q "$port" -c "SELECT qmdb.version()")" 0.1.0 "the 0.1.0 library"
done
fill "$A" d 30
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "$FIXED32" "$(peer "$A")"
wait_for "$B" d complete
sync_start "$B" e "$root" "$start" "$end" "$FIXED32, \"source_db\": \"d\"" "host=127.0.0.1 port=1 user=postgres"

# This build, then the update.
NEWEST=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO_ROOT/pg_qmdb.control")
swap_library "$current"
for port in "$A" "$B"; do
	dir=$(node_dir "$port")
	as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
	q "$port" -c "ALTER EXTENSION pg_qmdb UPDATE" >/dev/null
	expect_eq "$(q "$port" -c "SELECT qmdb.version() || ' ' || extversion FROM pg_extension WHERE extname = 'pg_qmdb'")" \
		"$NEWEST $NEWEST" "library and schema after the update"
done
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "the replica's root after the update"
all_ok "$B" d
expect_eq "$(q "$B" -c "SELECT qmdb.verify_response('d', qmdb.root('d'), r, qmdb.serve('d', r))
	FROM qmdb.encode_request('operations', $end, $start, 20) r")" t "the replica serves after the update"
# A new sync, from the upgraded replica.
start_node C c
sync_start "$C" d "$root" "$start" "$end" "$FIXED32" "$(peer "$B")"
wait_for "$C" d complete
# The interrupted job resumes, with a reachable peer.
q "$B" -c "UPDATE qmdb.sync_jobs SET peers = ARRAY['$(peer "$A")'] WHERE db_name = 'e'" >/dev/null
q "$B" -c "SELECT qmdb.sync_resume('e')" >/dev/null 2>&1
wait_for "$B" e complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('e'), 'hex')")" "$root" "the interrupted sync, resumed"
echo "upgrade_from_0_1: a 0.1.0 replica and an interrupted 0.1.0 sync came through ALTER EXTENSION UPDATE"
