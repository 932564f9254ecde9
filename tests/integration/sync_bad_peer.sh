#!/usr/bin/env bash
# Three peers, one of which tampers with every response (its qmdb.serve is
# replaced by a wrapper that flips a byte): the sync completes and bans it.
# With only that peer: no unverified row reaches the journal, and the job
# fails with an error saying the target does not match what peers serve.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill_keys "$A" d 5000
# A second and a third copy of the database on A, one of them lying.
copy_databases "$A" good bad
make_liar "$A" bad
read -r root start end < <(target "$A" d)

# The liar first, so it gets requests before it is found out.
sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"fetch_batch_size\": 10, \"max_outstanding_requests\": 6" \
	"$(peer "$A" bad)" "$(peer "$A" good)" "$(peer "$A")"
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root with a lying peer"
all_ok "$B" d
expect_eq "$(q "$B" -c "SELECT state || ' ' || (ban_reason LIKE '%failed verification%') FROM qmdb.sync_peers WHERE peer = 1")" \
	"banned true" "the liar is banned"
expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.sync_peers WHERE state = 'banned'")" 1 "only the liar is banned"
expect_eq "$(q "$B" -c "SELECT responses_rejected > 0 FROM qmdb.sync_status")" t "rejected responses counted"

# Only the liar: nothing it sent is kept, and the job fails clearly.
sync_start "$B" e "$root" "$start" "$end" "$FIXED32, \"source_db\": \"d\"" "$(peer "$A" bad)"
wait_for "$B" e failed
err=$(q "$B" -c "SELECT last_error FROM qmdb.sync_status WHERE db = 'e'")
case "$err" in *"target does not match what the peers serve"*) ;; *) echo "unclear error: $err"; exit 1 ;; esac
expect_eq "$(q "$B" -c "SELECT count(*) FROM qmdb.journal j JOIN qmdb.databases d ON d.id = j.db_id WHERE d.name = 'e'")" 0 \
	"journal rows from the liar"
# A wrong root fails the same way with honest peers: final, since every
# peer was checked against it. sync_resume retries it all the same, and it
# fails again the same way.
sync_start "$B" w "$(echo "$root" | sed 's/^./0/')" "$start" "$end" "$FIXED32, \"source_db\": \"d\"" "$(peer "$A")"
wait_for "$B" w failed
case "$(q "$B" -c "SELECT qmdb.sync_resume('w')" 2>&1)" in
*'retrying the failed sync of "w" from its 0 verified operations'*) ;; *) echo "FAIL: sync_resume of a failed job"; exit 1 ;;
esac
# It runs and fails again: the log says so a second time.
for _ in $(seq 1 400); do
	[ "$(grep -c 'qmdb sync of "w" failed: invalid response: the target does not match' "$(node_dir "$B")/server.log")" -ge 2 ] && break
	sleep 0.05
done
wait_for "$B" w failed
expect_eq "$(grep -c 'qmdb sync of "w" failed' "$(node_dir "$B")/server.log")" 2 "a retried wrong target fails again"
# A peer whose database does not fit is refused at the handshake, naming
# both sides, and tried again later (a peer may be upgraded): the job waits.
sync_start "$B" v "$root" "$start" "$end" "\"encoding\": \"variable\", \"source_db\": \"d\"" "$(peer "$A")"
poll "$B" "SELECT state = 'refused' AND last_error = 'incompatible peer: encoding is fixed on the peer, variable here'
	FROM qmdb.sync_peers WHERE db = 'v'"
expect_eq "$(q "$B" -c "SELECT state FROM qmdb.sync_status WHERE db = 'v'")" running "a job with a refused peer"
q "$B" -c "SELECT qmdb.sync_cancel('v', true)" >/dev/null
# No format in the options: the peer's hello states it.
sync_start "$B" n "$root" "$start" "$end" "\"source_db\": \"d\"" "$(peer "$A")"
wait_for "$B" n complete
expect_eq "$(q "$B" -c "SELECT encoding || ' ' || key_size || ' ' || value_size FROM qmdb.databases WHERE name = 'n'")" \
	"fixed 32 32" "the format the peer stated"
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('n'), 'hex')")" "$root" "root of a sync that learned its format"
# A permission revoked on the peer, then restored: refused meanwhile, and
# the sync completes once it is back (it used to fail for good).
q "$A" -c "CREATE ROLE syncer LOGIN" >/dev/null
sync_start "$B" p "$root" "$start" "$end" "$FIXED32, \"source_db\": \"d\"" "$(peer "$A") user=syncer"
poll "$B" "SELECT state = 'refused' AND last_error LIKE '%permission denied for function hello%' FROM qmdb.sync_peers WHERE db = 'p'"
q "$A" -c "GRANT EXECUTE ON FUNCTION qmdb.hello(text), qmdb.serve(text, bytea) TO syncer" >/dev/null
wait_for "$B" p complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('p'), 'hex')")" "$root" "root after the grant came back"
echo "sync_bad_peer: liar banned, sync completed; liar alone and a wrong root fail clearly (and a retry fails the same); refused peers are retried until they fit"
