#!/usr/bin/env bash
# Everything a peer sends is hostile (docs/security.md). A scripted peer
# (hostile_peer.py) answers qmdb.fetch_target and sync workers with wrong
# result shapes, short and huge values, COPY, extra results, floods of
# notices and notifications, long invalid UTF-8 errors, silence, a drip of
# bytes and a disconnect. Each gives a clear error or a peer set aside with
# a readable reason; an honest peer beside them completes the sync; no
# backend crashes; the password rule holds before any query; dumps restore.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

HP_PORT=$(free_port)
HP_LOG=$(mktemp)
chmod 644 "$HP_LOG"
python3 "$(dirname "$0")/hostile_peer.py" "$HP_PORT" "$HP_LOG" &
HP_PID=$!
stop_peer() {
	local rc=$?
	kill "$HP_PID" 2>/dev/null || true
	rm -f "$HP_LOG"
	cleanup_nodes "$rc"
	exit "$rc"
}
trap stop_peer EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$HP_PORT") 2>/dev/null && break; sleep 0.05; done

start_node A a
start_node B b "qmdb.peer_memory_limit = '64MB'"
hp() { echo "host=127.0.0.1 port=$HP_PORT dbname=$1 user=postgres connect_timeout=${2:-2} sslmode=disable"; }
# err PORT SQL: the statement must fail; prints "SQLSTATE: message".
err() {
	local out
	if out=$(cluster_psql "$1" -d postgres -At -v VERBOSITY=verbose -c "$2" 2>&1); then
		echo "expected an error from: $2 (got: $out)" >&2
		return 1
	fi
	echo "$out" | sed -n 's/^ERROR:  \([0-9A-Z]\{5\}\): \(.*\)$/\1: \2/p' | head -1
}
# expect_err PORT SQL SQLSTATE PATTERN
expect_err() {
	local got
	got=$(err "$1" "$2")
	case "$got" in "$3: "*$4*) ;; *) echo "FAIL: $2: expected $3 ... $4, got: $got"; exit 1 ;; esac
}
no_crash() {
	if grep -E "terminated by signal|was terminated|server process .* exited with exit code [^01]" "$(node_dir "$1")/server.log"; then
		echo "FAIL: a backend crashed on $1"
		exit 1
	fi
}
ft() { echo "SELECT * FROM qmdb.fetch_target('$(hp "$@")', 'd')"; }

# 1. fetch_target: every malformed answer is a clear error, none a crash.
expect_err "$B" "$(ft hello_one_column)" 08P01 "1 columns, not 8"
expect_err "$B" "$(ft hello_short_root)" 08P01 "malformed: column root of the peer's answer has 3 bytes"
expect_err "$B" "$(ft hello_two_results)" 08P01 "more than one result"
expect_err "$B" "$(ft hello_copy)" 08P01 "PGRES_COPY_OUT"
expect_err "$B" "$(ft hello_extra_ready)" 08P01 "the peer gave no answer to qmdb.hello"
expect_err "$B" "$(ft hello_negative)" 08P01 "invalid range [-5, 10)"
expect_err "$B" "$(ft hello_bad_kind)" 08P01 "the peer answered an unknown database kind: current"
# A 200 MB row, with qmdb.peer_memory_limit at 64 MB: the allocation fails,
# not the server (the peer gets 20 s to send it).
expect_err "$B" "$(ft hello_huge 20)" 08001 "cannot allocate memory for input buffer"
expect_err "$B" "$(ft hello_long_error)" 08001 "the peer refused: ERROR:  "
expect_err "$B" "$(ft silent)" 08001 "connecting timed out after 2 s"
expect_err "$B" "$(ft drip)" 08001 "connecting timed out after 2 s"
expect_err "$B" "$(ft disconnect)" 08001 "could not connect"
# The long error is capped, and its invalid bytes are shown escaped.
long=$(err "$B" "$(ft hello_long_error)")
[ "${#long}" -lt 1100 ] || { echo "FAIL: a peer's 9000-byte error kept at ${#long} bytes"; exit 1; }
grep -qF 'ERROR:  \xff\xfe\xc3(\xc3(' <<<"$long" || { echo "FAIL: invalid UTF-8 not escaped: $long"; exit 1; }
# Noise before a good answer (notices, notifications, a changed
# client_encoding) is dropped: the answer stands.
expect_eq "$(q "$B" -c "SELECT encode(root, 'hex') || ' ' || range_start || ' ' || range_end FROM qmdb.fetch_target('$(hp hello_noise)', 'd')")" \
	"$(printf '11%.0s' $(seq 1 32)) 0 10" "fetch_target through noise"
if grep -q "a notice" "$(node_dir "$B")/server.log"; then echo "FAIL: peer notices reached the server log"; exit 1; fi
no_crash "$B"

# 2. The password rule comes before any query. A non-superuser with sync
#    rights, a peer that does not ask for the password: refused, and the
#    peer never sees a query (its qmdb.hello could run as anyone).
q "$B" -c "CREATE ROLE mallory LOGIN" \
	-c "GRANT EXECUTE ON FUNCTION qmdb.fetch_target(text, text), qmdb.sync_start(text, text[], bytea, bigint, bigint, jsonb),
		qmdb.sync_cancel(text, boolean), qmdb.sync_wait(text, interval) TO mallory" >/dev/null
qm() { cluster_psql "$B" -d postgres -U mallory -At "$@"; }
expect_err "$B" "SET ROLE mallory; $(ft trust_probe | sed "s/sslmode=disable/sslmode=disable password=x/")" 42501 \
	"password is required: the peer did not ask for the given password"
if grep -q "^trust_probe" "$HP_LOG"; then echo "FAIL: a query reached a peer that did not ask for the password"; exit 1; fi
# A peer that asks for it is used.
expect_eq "$(qm -c "SELECT range_end FROM qmdb.fetch_target('$(hp pw_hello_noise) password=x', 'd')")" 10 "fetch_target with a password"
# The same for a sync: the real attack. Mallory owns a database on this very
# server (which trusts local connections) with its own qmdb.hello, which
# would make mallory a superuser if it ever ran as the connecting role.
q "$B" -c "CREATE DATABASE evil OWNER mallory" >/dev/null
cluster_psql "$B" -d evil -U mallory -q -c "CREATE SCHEMA qmdb" -c "CREATE FUNCTION qmdb.hello(db text, OUT protocol_version int,
	OUT hasher text, OUT family text, OUT encoding text, OUT key_size int, OUT value_size int, OUT max_ops bigint,
	OUT root bytea, OUT floor bigint, OUT size bigint) LANGUAGE plpgsql AS \$\$
	BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; END \$\$"
qm -c "SELECT qmdb.sync_start('stolen', ARRAY['host=127.0.0.1 port=$B dbname=evil user=postgres password=x'],
	sha256('x'), 0, 10, '{$FIXED32}')" >/dev/null
# The peer is refused (and tried again later, refused each time) before any query.
poll "$B" "SELECT state = 'refused' AND last_error LIKE 'password is required%' FROM qmdb.sync_peers WHERE db = 'stolen'"
expect_eq "$(q "$B" -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'")" f "mallory is still no superuser"
grep -q 'qmdb sync of "stolen": peer 1 (.*) refused: password is required' "$(node_dir "$B")/server.log" ||
	{ echo "FAIL: the refusal is not in the server log"; exit 1; }
qm -c "SELECT qmdb.sync_cancel('stolen', true)" >/dev/null
expect_err "$B" "SET ROLE mallory; SELECT * FROM qmdb.fetch_target('host=127.0.0.1 port=$B dbname=evil user=postgres password=x', 'd')" \
	42501 "password is required"
expect_eq "$(q "$B" -c "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'")" f "mallory is still no superuser"

# 2b. A peer that asks for SCRAM with 2^31 - 1 rounds: libpq computes them
#     inside the connect (minutes of CPU), on the connector's thread, so a
#     statement timeout, sync_cancel and a fast shutdown are still prompt.
expect_err "$B" "SET statement_timeout = '2s'; SELECT * FROM qmdb.fetch_target('$(hp scram_slow 600) password=x', 'd')" 57014 \
	"canceling statement due to statement timeout"
sync_start "$B" k "$(printf '00%.0s' $(seq 1 32))" 0 10 "$FIXED32" "$(hp scram_slow 600) password=x"
poll "$B" "SELECT state = 'connecting' FROM qmdb.sync_peers WHERE db = 'k'"
q "$B" -c "SELECT qmdb.sync_cancel('k')" >/dev/null
poll "$B" "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker')"
q "$B" -c "SELECT qmdb.sync_cancel('k', true)" >/dev/null
sync_start "$B" k "$(printf '00%.0s' $(seq 1 32))" 0 10 "$FIXED32" "$(hp scram_slow 600) password=x"
poll "$B" "SELECT state = 'connecting' FROM qmdb.sync_peers WHERE db = 'k'"
dir=$(node_dir "$B")
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
q "$B" -c "SELECT qmdb.sync_cancel('k', true)" >/dev/null
no_crash "$B"

# 3. A peer that fails every request rests, longer each time, and says why:
#    in sync_peers, and as the job's last_error.
read -r root start end < <(fill "$A" d 20 && target "$A" d)
sync_start "$B" e "$root" "$start" "$end" "$FIXED32" "$(hp serve_error)"
poll "$B" "SELECT state = 'backoff' AND errors >= 3 AND last_error LIKE '%pruning boundary%' FROM qmdb.sync_peers WHERE db = 'e'"
poll "$B" "SELECT last_error LIKE 'peer 1: ERROR:  requested range is below%' FROM qmdb.sync_status WHERE db = 'e'"
# While it waits, the database claims no root and refuses reads.
expect_eq "$(q "$B" -c "SELECT root IS NULL FROM qmdb.databases WHERE name = 'e'")" t "a syncing database's root"
expect_err "$B" "SELECT qmdb.root('e')" 55000 "is being synced and has no verified state yet"
expect_err "$B" "SELECT * FROM qmdb.hello('e')" 55000 "is being synced and has no verified state yet"
q "$B" -c "SELECT qmdb.sync_cancel('e', true)" >/dev/null
# Peers that accept and never answer, or drip the startup a byte at a time:
# the worker times the connect itself (libpq's connect_timeout does not
# apply to it) and says so; sync_cancel ends the worker.
sync_start "$B" h "$root" "$start" "$end" "$FIXED32" "$(hp silent)" "$(hp drip)"
poll "$B" "SELECT bool_and(last_error LIKE 'could not connect within 2 s' AND state = 'backoff') FROM qmdb.sync_peers WHERE db = 'h'"
q "$B" -c "SELECT qmdb.sync_cancel('h', true)" >/dev/null
poll "$B" "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'qmdb sync worker')"

# 4. Every kind of bad answer to qmdb.serve beside one honest peer: the
#    sync completes with the source's root, and each liar is set aside.
sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"request_timeout\": 3, \"fetch_batch_size\": 50" \
	"$(hp serve_garbage)" "$(hp serve_two_cols)" "$(hp serve_copy)" "$(hp serve_huge)" "$(hp serve_silent)" "$(peer "$A")"
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root" "root beside five hostile peers"
all_ok "$B" d
expect_eq "$(q "$B" -c "SELECT state FROM qmdb.sync_peers WHERE db = 'd' AND peer = 1")" banned "the garbage peer"
no_crash "$B"

# 5. Nine peers whose handshake fails with a 9000-byte invalid UTF-8
#    error: each is refused with a bounded, printable reason, and the job
#    waits for them (a refusal is not final: a peer may be fixed).
peers=()
for i in $(seq 1 9); do peers+=("$(hp hello_long_error) application_name=p$i"); done
sync_start "$B" f "$root" "$start" "$end" "$FIXED32" "${peers[@]}"
poll "$B" "SELECT count(*) = 9 AND bool_and(state = 'refused' AND length(last_error) <= 1000
	AND last_error LIKE 'qmdb.hello failed: ERROR:  \\\\xff\\\\xfe%') FROM qmdb.sync_peers WHERE db = 'f'"
expect_eq "$(q "$B" -c "SELECT state || ' ' || (length(last_error) <= 2000) FROM qmdb.sync_status WHERE db = 'f'")" \
	"running true" "a job whose peers are all refused"
q "$B" -c "SELECT qmdb.sync_cancel('f', true)" >/dev/null
#    Twelve peers that answer garbage are banned, and the job fails (the
#    one final failure: no peer serves the target); the reason that names
#    them all is capped, and the failure's NOTIFY goes out.
peers=()
for i in $(seq 1 12); do peers+=("$(hp serve_garbage) application_name=p$i"); done
sync_start "$B" f "$root" "$start" "$end" "$FIXED32" "${peers[@]}"
wait_for "$B" f failed
expect_eq "$(q "$B" -c "SELECT length(last_error) <= 2000 AND last_error LIKE 'invalid response: the target does not match what the peers serve: every peer is banned (peer 1: malformed response%' FROM qmdb.sync_status WHERE db = 'f'")" t \
	"a bounded failure reason"
grep -q 'qmdb sync of "f" failed: invalid response: the target does not match' "$(node_dir "$B")/server.log" ||
	{ echo "FAIL: the failure is not in the server log"; exit 1; }
no_crash "$B"

# 6. What peers sent dumps and restores.
as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$B" -U postgres restored
as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$B" -U postgres -Fc postgres |
	as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$B" -U postgres -d restored --exit-on-error
errors="SELECT count(last_error) || ' ' || md5(string_agg(last_error, ',' ORDER BY db_name)) FROM qmdb.sync_jobs"
expect_eq "$(cluster_psql "$B" -d restored -At -c "$errors")" "$(q "$B" -c "$errors")" "peer errors restored"
echo "sync_hostile_peer: malformed, huge, noisy, silent and slow peers refused clearly; password rule before any query; honest peer completed; dump restores"
