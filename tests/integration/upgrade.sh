#!/usr/bin/env bash
# ALTER EXTENSION pg_qmdb UPDATE from 0.1.0 (through 0.2.0 and 0.3.0 to 0.4.0): a source database keeps its
# root and verifies; a database whose sync was interrupted by the upgrade
# loses the root it had claimed unverified, and its job resumes and completes;
# verify_response is no longer PUBLIC's; the synced replica then catches up
# (0.3.0) from the job row the update carried over; every database so far is
# of kind any, and the other kinds (0.4.0) can be made.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
fill "$A" d 30
read -r root start end < <(target "$A" d)
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$A" -U postgres old
qo() { cluster_psql "$A" -d old -At "$@"; }
qo -c "CREATE EXTENSION pg_qmdb VERSION '0.1.0'" >/dev/null
fill_old() { qo -c "SELECT count(*) FROM qmdb.apply_batch('src', ARRAY[sha256('a'), sha256('b')], ARRAY[sha256('1'), sha256('2')])" >/dev/null; }
qo -c "SELECT count(*) FROM qmdb.create_database('src', 'fixed', 32, 32)" >/dev/null
fill_old
src_root=$(qo -c "SELECT encode(qmdb.root('src'), 'hex')")
# This library refuses to start a sync on the old schema, naming the fix.
case "$(qo -c "SELECT qmdb.sync_start('x', ARRAY['$(peer "$A")'], decode('$root', 'hex'), $start, $end, '{$FIXED32}')" 2>&1 || true)" in
*"run ALTER EXTENSION pg_qmdb UPDATE"*) ;; *) echo "FAIL: sync_start on the 0.1.0 schema"; exit 1 ;;
esac
# A sync that 0.1.0 started and the upgrade interrupted: its rows as 0.1.0's
# sync_start left them, the target's root claimed before anything was verified.
qo -c "WITH d AS (INSERT INTO qmdb.databases (name, encoding, key_size, value_size, size, floor, pruning_boundary, root, role)
		VALUES ('d', 'fixed', 32, 32, $start, $start, $start, decode('$root', 'hex'), 'syncing') RETURNING id),
	j AS (INSERT INTO qmdb.sync_jobs (db_id, db_name, peers, root, range_start, range_end, options, journal_start, journal_size)
		SELECT id, 'd', ARRAY['$(peer "$A")'], decode('$root', 'hex'), $start, $end, '{$FIXED32}', $start, $start FROM d)
	INSERT INTO qmdb.sync_peer_stats (db_id, peer, conninfo_masked, state) SELECT id, 1, 'peer', 'idle' FROM d" >/dev/null
qo -c "ALTER EXTENSION pg_qmdb UPDATE" >/dev/null
expect_eq "$(qo -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_qmdb'")" 0.4.0 "version after the update"
expect_eq "$(qo -c "SELECT string_agg(DISTINCT kind, ',') FROM qmdb.databases")" any "the kind of the databases before 0.4.0"
expect_eq "$(qo -c "SELECT root IS NULL FROM qmdb.databases WHERE name = 'd'")" t "no unverified root after the update"
# \dx names schema qmdb, and the objects match a fresh install's exactly.
expect_eq "$(qo -c "SELECT extnamespace::regnamespace FROM pg_extension WHERE extname = 'pg_qmdb'")" qmdb "the extension's schema"
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$A" -U postgres fresh
cluster_psql "$A" -d fresh -q -c "CREATE EXTENSION pg_qmdb"
# (Objects only: not the databases' state partitions, pg_dump's session
# tokens, or the schema's USAGE grant, which a fresh install records as its
# initial privilege and an updated one dumps; restores grant it either way.)
schema_of() {
	as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$A" -U postgres -s --exclude-table='qmdb.state_*' "$1" |
		grep -v -e '^--' -e '^$' -e '^\\restrict' -e '^\\unrestrict' -e '^GRANT USAGE ON SCHEMA qmdb TO PUBLIC;$' \
			-e '^SET default_tablespace' -e '^SET default_table_access_method'
}
diff <(schema_of old) <(schema_of fresh) || { echo "FAIL: the updated schema differs from a fresh install's"; exit 1; }
expect_eq "$(qo -c "SELECT encode(qmdb.root('src'), 'hex')")" "$src_root" "the source's root"
expect_eq "$(qo -c "SELECT bool_and(ok) FROM qmdb.verify('src')")" t "verify after the update"
# Reads and serving after the update.
expect_eq "$(qo -c "SELECT qmdb.get('src', sha256('a')) = sha256('1')")" t "a read after the update"
src_size=$(qo -c "SELECT size FROM qmdb.hello('src')")
expect_eq "$(qo -c "SELECT qmdb.verify_response('src', qmdb.root('src'), r, qmdb.serve('src', r))
	FROM qmdb.encode_request('operations', $src_size, 0, 10) r")" t "serving after the update"
expect_eq "$(qo -c "SELECT has_function_privilege('public', 'qmdb.verify_response(text, bytea, bytea, bytea)', 'EXECUTE')")" f \
	"verify_response for PUBLIC"
# The interrupted sync resumes and completes with the source's root.
qo -c "SELECT qmdb.sync_resume('d')" >/dev/null
expect_eq "$(qo -c "SELECT qmdb.sync_wait('d', '120 seconds')")" complete "the resumed sync"
expect_eq "$(qo -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "the synced root"
fill_old
expect_eq "$(qo -c "SELECT bool_and(ok) FROM qmdb.verify('src')")" t "writes after the update"
# The replica catches up (a 0.3.0 capability) after its source moved on.
fill "$A" d 10
read -r root2 start2 end2 < <(target "$A" d)
qo -c "SELECT qmdb.sync_start('d', ARRAY['$(peer "$A")'], decode('$root2', 'hex'), $start2, $end2)" >/dev/null
expect_eq "$(qo -c "SELECT qmdb.sync_wait('d', '120 seconds')")" complete "the catch-up"
expect_eq "$(qo -c "SELECT encode(qmdb.root('d'), 'hex') || ' ' || (SELECT ops_behind FROM qmdb.sync_status)")" "$root2 0" "caught up"
# A kind 0.4.0 brought, next to the old ones.
expect_eq "$(qo -c "SELECT encode(root, 'hex') FROM qmdb.create_database('o', 'fixed', 32, 32, 'ordered')")" \
	058e68ab381d74d82cd54bc8890015433d3bbb1cd8591c7e9870b2a8d774b03b "an ordered database after the update"
echo "upgrade: 0.1.0 -> 0.4.0 kept a source, cleared an unverified root, resumed its sync, and caught the replica up"
