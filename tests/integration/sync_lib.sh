# Helpers for sync integration tests: preloaded clusters on loopback,
# filling a source, and starting and watching a sync. Sourced, not run.
# shellcheck shell=bash
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

NODES=()
# cleanup_nodes [RC]: stop and remove every node (their logs' tails first
# when RC, by default the exit status, says the script failed).
cleanup_nodes() {
	local rc=${1:-$?}
	for dir in "${NODES[@]}"; do
		[ "$rc" -ne 0 ] && { echo "--- $dir/server.log (tail)"; tail -15 "$dir/server.log"; }
		cluster_stop "$dir" immediate
		rm -rf "$dir"
	done
	rm -rf "${SCRATCH[@]}"
}
trap cleanup_nodes EXIT

declare -A NODE_DIR
SCRATCH=() # work directories that are not clusters, removed with them
# scratch NAME: a work directory removed at exit (call it outside $(...),
# which would lose the registration): sets $SCRATCH_DIR.
scratch() {
	SCRATCH_DIR=$(make_workdir "$1")
	SCRATCH+=("$SCRATCH_DIR")
}
# start_node VAR NAME [postgresql.conf lines...]: start a cluster with
# pg_qmdb preloaded and installed; its port goes in $VAR. (Not in a
# subshell: the trap must know every node.)
start_node() {
	local var=$1 dir port
	dir=$(make_workdir "$2")
	shift 2
	port=$(free_port)
	NODES+=("$dir")
	NODE_DIR[$port]=$dir
	cluster_start "$dir" "$port" "shared_preload_libraries = 'pg_qmdb'" "$@" >&2
	cluster_psql "$port" -d postgres -c "CREATE EXTENSION pg_qmdb" >/dev/null
	printf -v "$var" '%s' "$port"
}
# Settings for benchmark clusters: room for a million operations.
BENCH_CONF=("shared_buffers = '1GB'" "max_wal_size = '8GB'" "checkpoint_timeout = '30min'")
node_dir() { echo "${NODE_DIR[$1]}"; }

q() { # q PORT SQL... : one value per line, unaligned
	local port=$1
	shift
	cluster_psql "$port" -d postgres -At "$@"
}

# fill PORT DB BATCHES: a fixed 32/32 database, BATCHES batches of 20 writes
# over 500 keys, one in seven a delete (keys come and go, so a replica's
# state must take each key's last write).
fill() {
	q "$1" -c "SELECT count(*) FROM (SELECT qmdb.create_database('$2', 'fixed', 32, 32) WHERE NOT EXISTS (SELECT 1 FROM qmdb.databases WHERE name = '$2')) t" >/dev/null
	q "$1" -c "SELECT count(*) FROM (SELECT qmdb.apply_batch('$2',
		ARRAY(SELECT sha256(int8send((b * 13 + i) % 500)) FROM generate_series(1, 20) i),
		ARRAY(SELECT CASE WHEN (b + i) % 7 <> 0 THEN sha256(int8send(b * 1000 + i + $RANDOM)) END FROM generate_series(1, 20) i))
		FROM generate_series(1, $3) b) t" >/dev/null
}

# fill_keys PORT DB N: N distinct live keys (a wide target range: the floor stays low).
fill_keys() {
	q "$1" -c "SELECT count(*) FROM (SELECT qmdb.create_database('$2', 'fixed', 32, 32) WHERE NOT EXISTS (SELECT 1 FROM qmdb.databases WHERE name = '$2')) t" >/dev/null
	q "$1" -c "SELECT count(*) FROM (SELECT qmdb.apply_batch('$2',
		ARRAY(SELECT sha256(int8send(b * 1000 + i)) FROM generate_series(1, 1000) i),
		ARRAY(SELECT sha256(int8send(-b * 1000 - i)) FROM generate_series(1, 1000) i))
		FROM generate_series(1, $3 / 1000) b) t" >/dev/null
}

# op_rows PORT DB TABLE: a plain table (db_id, loc, op) with a primary key,
# one row per operation of DB's journal: the unverified baselines' data.
op_rows() {
	q "$1" -c "CREATE TABLE $3 AS SELECT j.db_id, o.loc, o.op FROM qmdb.databases d JOIN qmdb.journal j ON j.db_id = d.id,
		qmdb.split_operations(j.ops, j.loc, d.encoding, d.key_size, d.value_size, d.kind) o WHERE d.name = '$2'" \
		-c "ALTER TABLE $3 ADD PRIMARY KEY (db_id, loc)" >/dev/null
}

peer() { echo "host=127.0.0.1 port=$1 dbname=${2:-postgres} user=postgres"; }
# copy_databases PORT NAME...: each NAME a new database on PORT holding a
# copy of its postgres database (qmdb databases and all).
copy_databases() {
	local port=$1 db
	shift
	for db in "$@"; do
		as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres "$db"
		as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$port" -U postgres -Fc postgres |
			as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$port" -U postgres -d "$db"
	done
}
# make_liar PORT DATABASE: that database's qmdb.serve flips the last byte of
# every response (the honest one renamed serve_honest).
make_liar() {
	cluster_psql "$1" -d "$2" -q -c "ALTER FUNCTION qmdb.serve(text, bytea) RENAME TO serve_honest" \
		-c "CREATE FUNCTION qmdb.serve(db text, request bytea) RETURNS bytea LANGUAGE sql AS
		    \$\$ SELECT set_byte(r, length(r) - 1, get_byte(r, length(r) - 1) # 1) FROM qmdb.serve_honest(db, request) r \$\$"
}
target() { q "$1" -F' ' -c "SELECT encode(root, 'hex'), range_start, range_end FROM qmdb.target('$2')"; }
FIXED32='"encoding": "fixed", "key_size": 32, "value_size": 32'

# sync_start PORT DB ROOT START END OPTIONS PEER...
sync_start() {
	local port=$1 db=$2 root=$3 start=$4 end=$5 opts=$6
	shift 6
	local peers=""
	for p in "$@"; do peers="$peers${peers:+, }'$p'"; done
	q "$port" -c "SELECT qmdb.sync_start('$db', ARRAY[$peers], decode('$root', 'hex'), $start, $end, '{$opts}')" >/dev/null
}

# wait_for PORT DB STATE: sync_wait until STATE (fails after 120 s).
wait_for() {
	local got
	got=$(q "$1" -c "SELECT qmdb.sync_wait('$2', '120 seconds')")
	[ "$got" = "$3" ] || {
		echo "expected $3, got $got"
		q "$1" -c "SELECT * FROM qmdb.sync_status" -c "SELECT * FROM qmdb.sync_peers"
		return 1
	}
}

# poll PORT SQL [DATABASE]: until the query returns t (a condition,
# re-checked every 50 ms, 120 s at most).
poll() {
	for _ in $(seq 1 400); do
		[ "$(cluster_psql "$1" -d "${3:-postgres}" -At -c "$2" 2>/dev/null)" = t ] && return 0  # errors while a server restarts are expected
		sleep 0.05
	done
	echo "condition never held: $2"
	return 1
}

expect_eq() { [ "$1" = "$2" ] || { echo "FAIL: $3: '$1' != '$2'"; exit 1; }; }
# index_ok PORT DB: DB's state's primary key passes amcheck (every level in
# order, every row indexed) and is, page for page, what CREATE INDEX writes
# for the same rows: all but each page's LSN, checksum and flags, and the
# free space between its line pointers and its items (zeroed by recovery).
index_ok() {
	local id
	id=$(q "$1" -c "SELECT id FROM qmdb.databases WHERE name = '$2'")
	q "$1" -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS amcheck" -c "CREATE EXTENSION IF NOT EXISTS pageinspect" \
		-c "SELECT bt_index_parent_check('qmdb.state_${id}_pkey', heapallindexed => true, rootdescend => true)" >/dev/null
	expect_eq "$(q "$1" -q -c "CREATE UNIQUE INDEX state_${id}_again ON qmdb.state_$id (key)" \
		-c "CREATE FUNCTION pg_temp.used(p bytea) RETURNS bytea LANGUAGE sql AS
			\$\$ SELECT substr(p, 13, h.lower - 12) || substr(p, h.upper + 1) FROM page_header(p) h \$\$" \
		-c "SELECT (pg_relation_size('qmdb.state_${id}_pkey') = pg_relation_size('qmdb.state_${id}_again')) || ' ' ||
			count(*) FILTER (WHERE pg_temp.used(get_raw_page('qmdb.state_${id}_pkey', b)) <>
			pg_temp.used(get_raw_page('qmdb.state_${id}_again', b)))
			FROM generate_series(0, pg_relation_size('qmdb.state_${id}_again') / 8192 - 1) b" \
		-c "DROP INDEX qmdb.state_${id}_again")" "true 0" "$2's state index on $1 against CREATE INDEX's"
}
all_ok() { expect_eq "$(q "$1" -c "SELECT bool_and(ok) FROM qmdb.verify('$2')")" t "verify $2 on $1"; }
