#!/usr/bin/env bash
# pg_dump / restore keeps an authenticated database: the root, verify, and
# serving all work in the restored copy, and writing continues from it.
set -euo pipefail
source "$(dirname "$0")/../../scripts/lib.sh"

work=$(make_workdir dump)
trap 'cluster_stop "$work" immediate; rm -rf "$work"' EXIT
port=$(free_port)
cluster_start "$work" "$port"

psql_db() { cluster_psql "$port" -d "$1" -At -c "$2"; }
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres src
psql_db src "CREATE EXTENSION pg_qmdb"
psql_db src "SELECT qmdb.create_database('d', 'fixed', 32, 32)" >/dev/null
psql_db src "SELECT count(*) FROM (SELECT qmdb.apply_batch('d',
	ARRAY(SELECT sha256(int8send((b * 13 + i) % 500)) FROM generate_series(1, 20) i),
	ARRAY(SELECT sha256(int8send(b * 1000 + i)) FROM generate_series(1, 20) i)) FROM generate_series(1, 100) b) t" >/dev/null
floor=$(psql_db src "SELECT floor FROM qmdb.databases WHERE name = 'd'")
psql_db src "SELECT qmdb.prune('d', $floor)" >/dev/null
before=$(psql_db src "SELECT encode(root, 'hex') || ' ' || size || ' ' || floor || ' ' || pruning_boundary FROM qmdb.databases WHERE name = 'd'")

as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc -f "$work/src.dump" src
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres copy
as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d copy "$work/src.dump"

after=$(psql_db copy "SELECT encode(root, 'hex') || ' ' || size || ' ' || floor || ' ' || pruning_boundary FROM qmdb.databases WHERE name = 'd'")
[ "$before" = "$after" ] || { echo "catalog differs after restore: '$before' vs '$after'"; exit 1; }
bad=$(psql_db copy "SELECT count(*) FROM qmdb.verify('d') WHERE NOT ok")
[ "$bad" = 0 ] || { psql_db copy "SELECT * FROM qmdb.verify('d')"; exit 1; }
size=$(psql_db copy "SELECT size FROM qmdb.databases WHERE name = 'd'")
served=$(psql_db copy "SELECT bool_and(qmdb.verify_response('d', qmdb.root('d'), r, qmdb.serve('d', r)))
	FROM (SELECT qmdb.encode_request('operations', $size, $floor + s, 50) r FROM generate_series(0, 30) s
	      UNION ALL SELECT qmdb.encode_request('boundary', $size, $floor)) t")
[ "$served" = t ] || { echo "serving from the restored copy failed"; exit 1; }
# Both copies take the same next batch to the same root.
next="SELECT encode(root, 'hex') FROM qmdb.apply_batch('d', ARRAY[sha256('k')], ARRAY[sha256('v')])"
[ "$(psql_db src "$next")" = "$(psql_db copy "$next")" ] || { echo "the copies diverged on the next batch"; exit 1; }
# The sequence came along: a new database in the copy gets a fresh id.
psql_db copy "SELECT qmdb.create_database('e')" >/dev/null
echo "dump_restore: root $(echo "$after" | cut -c1-16)... size $size kept through pg_dump/pg_restore"
