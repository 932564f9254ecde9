#!/usr/bin/env bash
# Every kind of the QMDB family syncs between servers: ordered, immutable
# and keyless databases on A (deletes and predecessor rewrites, floors
# raised by the caller, metadata) sync to B with no format given (each
# peer's hello names the kind), then catch up, then follow; B's roots,
# operations and state equal A's and qmdb.verify holds. A lying peer of each
# kind is banned; a peer whose database is of another kind is refused at the
# handshake, naming both kinds. An ordered sync also runs under wal_level =
# logical (C), where the state is rebuilt by inserts after a sorted query.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
start_node C c "wal_level = logical"
k() { echo "sha256(int8send($1))"; }
# write N: one batch of each kind, its keys and values from N.
write() {
	q "$A" -c "SELECT count(*) FROM qmdb.apply_batch('o',
		ARRAY(SELECT sha256(int8send(i % 40)) FROM generate_series($1 * 7, $1 * 7 + 11) i),
		ARRAY(SELECT CASE WHEN i % 5 = 0 THEN NULL ELSE sha256(int8send(i + $1)) END FROM generate_series($1 * 7, $1 * 7 + 11) i),
		CASE WHEN $1 % 3 = 0 THEN sha256(int8send($1)) END)" \
		-c "SELECT count(*) FROM qmdb.set_batch('i',
		ARRAY(SELECT sha256(int8send(i)) FROM generate_series($1 * 10, $1 * 10 + 9) i),
		ARRAY(SELECT int8send(i) || 'value' FROM generate_series($1 * 10, $1 * 10 + 9) i),
		NULL, (SELECT greatest(floor, size - 15) FROM qmdb.databases WHERE name = 'i'))" \
		-c "SELECT count(*) FROM qmdb.append_batch('l',
		ARRAY(SELECT repeat('x', i % 9)::bytea FROM generate_series(1, 8) i), int8send($1),
		(SELECT greatest(floor, size - 20) FROM qmdb.databases WHERE name = 'l'))" >/dev/null
}
q "$A" -c "SELECT count(*) FROM qmdb.create_database('o', 'fixed', 32, 32, 'ordered')" \
	-c "SELECT count(*) FROM qmdb.create_database('i', 'variable', 32, NULL, 'immutable')" \
	-c "SELECT count(*) FROM qmdb.create_database('l', 'variable', NULL, NULL, 'keyless')" >/dev/null
for n in $(seq 1 30); do write "$n"; done

# same PORT DB: B's database equals A's: root, size, floor, every operation,
# the state (none for keyless), and qmdb.verify holds on both.
same() {
	local db=$2 ops state from
	expect_eq "$(q "$1" -c "SELECT encode(root, 'hex') || size || '/' || floor || kind FROM qmdb.databases WHERE name = '$db'")" \
		"$(q "$A" -c "SELECT encode(root, 'hex') || size || '/' || floor || kind FROM qmdb.databases WHERE name = '$db'")" "$db's root, size, floor, kind"
	from=$(q "$1" -c "SELECT pruning_boundary FROM qmdb.databases WHERE name = '$db'")
	ops="SELECT md5(string_agg(op::text, ',' ORDER BY loc)) FROM qmdb.operations('$db', $from)"
	expect_eq "$(q "$1" -c "$ops")" "$(q "$A" -c "$ops")" "$db's operations"
	if [ "$db" != l ]; then
		state="SELECT count(*) || ' ' || md5(string_agg(key::text || value::text || loc, ',' ORDER BY key)) FROM qmdb.entries('$db')"
		expect_eq "$(q "$1" -c "$state")" "$(q "$A" -c "$state")" "$db's state"
	fi
	all_ok "$1" "$db"
	all_ok "$A" "$db"
}

# 1. A first sync of each kind, the format told by the peer.
for db in o i l; do
	read -r root start end < <(target "$A" "$db")
	sync_start "$B" "$db" "$root" "$start" "$end" '"fetch_batch_size": 9' "$(peer "$A")"
	wait_for "$B" "$db" complete
	same "$B" "$db"
done
expect_eq "$(q "$B" -c "SELECT string_agg(name || ':' || kind || ':' || role, ' ' ORDER BY name) FROM qmdb.databases")" \
	"i:immutable:replica l:keyless:replica o:ordered:replica" "B's databases"
expect_eq "$(q "$B" -c "SELECT count(*) > 0 FROM qmdb.entries('i')")" t "immutable keys above the floor"

# 2. Catch-up of each after A wrote more: only what B lacks is fetched (the
# target's range starts at B's size, below A's floor) and applied to the
# state incrementally; then one whose range starts past B (A's floor): the
# fallback, a fresh sync that replaces B's database.
size_on() { q "$1" -c "SELECT size FROM qmdb.databases WHERE name = '$2'"; }
for n in $(seq 31 40); do write "$n"; done
for db in o i l; do
	read -r root start end < <(target "$A" "$db")
	had=$(size_on "$B" "$db")
	sync_start "$B" "$db" "$root" "$had" "$end" '"fetch_batch_size": 9' "$(peer "$A")"
	wait_for "$B" "$db" complete
	expect_eq "$(q "$B" -c "SELECT sum(ops) FROM qmdb.sync_peers WHERE db = '$db'")" "$((end - had))" "$db: only what B lacked"
	same "$B" "$db"
done
for n in $(seq 41 50); do write "$n"; done
for db in o i l; do
	read -r root start end < <(target "$A" "$db")
	[ "$start" -gt "$(size_on "$B" "$db")" ] || { echo "FAIL: $db's floor did not pass B's size"; exit 1; }
	sync_start "$B" "$db" "$root" "$start" "$end" '"fetch_batch_size": 9' "$(peer "$A")"
	wait_for "$B" "$db" complete
	same "$B" "$db"
done

# 3. Follow: each kind follows A's new commits, target by target.
write 51
for db in o i l; do
	read -r root start end < <(target "$A" "$db")
	sync_start "$B" "$db" "$root" "$(size_on "$B" "$db")" "$end" '"follow": true' "$(peer "$A")"
	wait_for "$B" "$db" "caught up"
done
for n in $(seq 52 56); do
	write "$n"
	for db in o i l; do
		read -r root start end < <(target "$A" "$db")
		# A range never starts lower than the job's (its first start was B's size).
		q "$B" -c "SELECT qmdb.sync_update_target('$db', decode('$root', 'hex'),
			greatest($start, (SELECT range_start FROM qmdb.sync_status WHERE db = '$db')), $end)" >/dev/null
	done
done
for db in o i l; do
	read -r root start end < <(target "$A" "$db")
	poll "$B" "SELECT published_size = $end FROM qmdb.sync_status WHERE db = '$db'"
	q "$B" -c "SELECT qmdb.sync_finish('$db')" >/dev/null
	wait_for "$B" "$db" complete
	same "$B" "$db"
done

# 4. A lying copy of each kind (its serve flips a byte): alone, it is
# banned and the job fails with nothing kept; next to an honest one, the
# sync completes. A copy of another kind under the same name is refused at
# the handshake, naming both kinds.
copy_databases "$A" bad other
make_liar "$A" bad
for db in o i l; do
	read -r root start end < <(target "$A" "$db")
	q "$B" -c "SELECT qmdb.drop_database('$db')" >/dev/null
	# The liar alone: banned at its first answer, nothing it sent kept, and
	# the job fails saying no peer serves the target.
	sync_start "$B" "$db" "$root" "$start" "$end" '"fetch_batch_size": 5' "$(peer "$A" bad)"
	wait_for "$B" "$db" failed
	expect_eq "$(q "$B" -c "SELECT state || ' ' || (ban_reason LIKE '%failed verification%') FROM qmdb.sync_peers WHERE db = '$db'")" \
		"banned true" "the liar of $db is banned"
	expect_eq "$(q "$B" -c "SELECT (last_error LIKE '%target does not match what the peers serve%')::text FROM qmdb.sync_status WHERE db = '$db'")" \
		true "$db's job failed on the liar"
	expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.journal j JOIN qmdb.databases d ON d.id = j.db_id WHERE d.name = '$db'")" 0 \
		"journal rows of $db from the liar"
	q "$B" -c "SELECT qmdb.sync_cancel('$db', true)" >/dev/null
	# The liar next to an honest peer: the sync completes, whoever answers.
	sync_start "$B" "$db" "$root" "$start" "$end" '"fetch_batch_size": 5, "max_outstanding_requests": 4' \
		"$(peer "$A" bad)" "$(peer "$A")"
	wait_for "$B" "$db" complete
	expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.sync_peers WHERE db = '$db' AND state = 'banned' AND peer <> 1")" 0 \
		"only the liar of $db may be banned"
	same "$B" "$db"
done
# The other copy's "o" is an any database.
cluster_psql "$A" -d other -q -c "SELECT qmdb.drop_database('o')" \
	-c "SELECT count(*) FROM qmdb.create_database('o', 'fixed', 32, 32, 'any')" >/dev/null
read -r root start end < <(target "$A" o)
sync_start "$B" o2 "$root" "$start" "$end" "$FIXED32, \"kind\": \"ordered\", \"source_db\": \"o\"" "$(peer "$A" other)"
poll "$B" "SELECT state = 'refused' AND last_error = 'incompatible peer: the database''s kind is any on the peer, ordered here'
	FROM qmdb.sync_peers WHERE db = 'o2'"
q "$B" -c "SELECT qmdb.sync_cancel('o2', true)" >/dev/null

# 5. Under wal_level = logical: the ordered state by inserts, equal all the same.
read -r root start end < <(target "$A" o)
sync_start "$C" o "$root" "$start" "$end" '' "$(peer "$A")"
wait_for "$C" o complete
same "$C" o
expect_eq "$(grep -c 'qmdb sync of "o" complete.*wal_level = logical' "$(node_dir "$C")/server.log")" 1 "the logical rebuild ran"
echo "sync_kinds: ordered, immutable and keyless databases synced, caught up and followed; liars banned, another kind refused"
