#!/usr/bin/env bash
# Signed checkpoints. A source signs each new state with two of three keys;
# an independent reader (note_check.py, and openssl for the signatures)
# checks the notes. A follower with a 2-of-3 policy and no target follows
# it with no sync_update_target call; a peer serving an older checkpoint
# or one signed by an untrusted key, and a checkpoint signed by too few
# trusted keys, are ignored (the peers scored down); a fork signed with the
# same keys is caught: both notes kept as evidence, the replica intact.
# pg_dump holds no private key.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"
here=$(cd "$(dirname "$0")" && pwd)

start_node A a
start_node B b
fill "$A" d 20
origin=example.org/qmdb/d
# Known seeds, so that the fork below can hold the same keys.
for k in 1 2 3; do
	eval "vk$k=\$(q \"\$A\" -c \"SELECT qmdb.import_signing_key('d', 'example.org/k$k', sha256('seed $k'))\")"
done
qa() { cluster_psql "$A" -d "${2:-postgres}" -At -c "$1"; }
sign() { qa "SELECT qmdb.sign_checkpoint('d', '$origin', ARRAY[${1:-'example.org/k1', 'example.org/k2'}])" "${2:-postgres}" >/dev/null; }
sign

# The independent reader: structure, key IDs, and each trusted signature.
scratch notes
work=$SCRATCH_DIR
chmod 777 "$work"
qa "SELECT encode(convert_to(qmdb.checkpoint('d'), 'UTF8'), 'base64')" | base64 -d >"$work/note"
read -r o size root_hex rs trusted < <(python3 "$here/note_check.py" "$work/note" "$work" "$vk1" "$vk2" "$vk3")
expect_eq "$o $size $root_hex $rs $trusted" \
	"$origin $(qa "SELECT range_end || ' ' || encode(root, 'hex') || ' ' || range_start FROM qmdb.target('d')") 2" \
	"the note as an independent reader sees it"
for sig in "$work"/sig*; do
	i=${sig##*sig}
	openssl pkeyutl -verify -pubin -inkey "$work/key$i.der" -keyform DER -rawin -in "$work/text" -sigfile "$sig" >/dev/null ||
		{ echo "FAIL: openssl rejects signature $i"; exit 1; }
done

# Two more peers on A: copies of the database. "evil" keeps serving the old
# checkpoint, then signs with a key nobody trusts; "fork" later writes
# another history and signs it with the trusted keys (same seeds).
for db in evil fork; do
	as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$A" -U postgres "$db"
	as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$A" -U postgres -Fc postgres |
		as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$A" -U postgres -d "$db"
done

trust="{\"keys\": [\"$vk1\", \"$vk2\", \"$vk3\"], \"threshold\": 2, \"origin\": \"$origin\", \"interval\": 0.2}"
q "$B" -c "SELECT qmdb.sync_start('d', ARRAY['$(peer "$A" evil)', '$(peer "$A" fork)', '$(peer "$A")'],
	NULL, NULL, NULL, '{\"follow\": true, \"trust\": $trust}')" >/dev/null
wait_for "$B" d "caught up"
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root_hex" "the first target, from a checkpoint"

# The source writes and signs; the follower follows, with no SQL call.
for round in 1 2 3 4 5; do
	fill "$A" d 3
	sign
	want=$(qa "SELECT encode(root, 'hex') FROM qmdb.target('d')")
	poll "$B" "SELECT encode(qmdb.root('d'), 'hex') = '$want'"
done
expect_eq "$(q "$B" -c "SELECT checkpoint_signers || ' ' || state FROM qmdb.sync_status")" "2 following" "adopted, 2 of 3"
# The copies serve an older checkpoint: ignored, and scored down.
poll "$B" "SELECT checkpoint_rejects > 0 FROM qmdb.sync_peers WHERE peer = 1"
expect_eq "$(q "$B" -c "SELECT last_error LIKE '%does not advance%' FROM qmdb.sync_peers WHERE peer = 1")" t "an old checkpoint"

# Signed by too few trusted keys: not adopted.
held=$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")
fill "$A" d 2
sign "'example.org/k1'"
poll "$B" "SELECT checkpoint_ignored LIKE '%1 of the trusted keys; 2 required%' FROM qmdb.sync_status"
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$held" "not followed with one signature"
# An untrusted key: evil signs the same database with its own key.
qa "SELECT qmdb.create_signing_key('d', 'example.org/evil')" evil >/dev/null
sign "'example.org/evil'" evil
poll "$B" "SELECT last_error LIKE '%0 of the trusted keys; 2 required%' FROM qmdb.sync_peers WHERE peer = 1"
sign
want=$(qa "SELECT encode(root, 'hex') FROM qmdb.target('d')")
poll "$B" "SELECT encode(qmdb.root('d'), 'hex') = '$want'"
verified=$want

# A fork signed with the trusted keys: fork's history differs below the
# follower's size. Caught: both notes kept, the replica intact, the job stopped.
for k in 1 2; do qa "SELECT qmdb.import_signing_key('d', 'example.org/k$k', sha256('seed $k'))" fork >/dev/null; done
qa "SELECT count(*) FROM (SELECT qmdb.apply_batch('d', ARRAY[sha256(('fork' || b)::bytea)], ARRAY[sha256(('x' || b)::bytea)])
	FROM generate_series(1, 300) b) t" fork >/dev/null
sign "" fork
poll "$B" "SELECT state = 'failed' FROM qmdb.sync_status"
err=$(q "$B" -c "SELECT last_error FROM qmdb.sync_status")
case "$err" in *"conflicting signed checkpoints"*"example.org/k1"*) ;; *) echo "FAIL: no conflict reported: $err"; exit 1 ;; esac
expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.checkpoint_conflicts WHERE db_name = 'd' AND first_note LIKE '$origin%' AND second_note LIKE '$origin%'")" 1 "evidence kept"
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$verified" "the replica's verified state"
all_ok "$B" d

# No private key in a dump.
dump=$(as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$A" -U postgres postgres)
for k in 1 2 3; do
	seed=$(qa "SELECT encode(sha256('seed $k'), 'hex')")
	case "$dump" in *"$seed"*) echo "FAIL: a private key in pg_dump's output"; exit 1 ;; esac
done
case "$dump" in *"COPY qmdb.signing_keys"*) echo "FAIL: signing keys dumped"; exit 1 ;; esac
echo "sync_checkpoints: followed 2-of-3 signed checkpoints with no target typed; ignored old, under-signed and untrusted ones; caught a signed fork (evidence kept, replica intact); no key in pg_dump"
