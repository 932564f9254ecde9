#!/usr/bin/env bash
# `make demo`: write an authenticated database on one PostgreSQL cluster,
# sync it to another from two untrusted peers with live progress, move the
# target mid-sync, finish, and compare. Every server it starts is stopped on
# exit, Ctrl-C included.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
WORK=()
cleanup() {
	for dir in "${WORK[@]}"; do
		cluster_stop "$dir" immediate
		rm -rf "$dir"
	done
}
trap cleanup EXIT
trap 'echo; echo "interrupted: stopping servers"; exit 130' INT TERM

node() { # node VAR NAME
	local dir port
	dir=$(make_workdir "demo-$2")
	port=$(free_port)
	WORK+=("$dir")
	cluster_start "$dir" "$port" "shared_preload_libraries = 'pg_qmdb'"
	cluster_psql "$port" -d postgres -c "CREATE EXTENSION pg_qmdb" >/dev/null
	printf -v "$1" '%s' "$port"
	echo "    $2: 127.0.0.1:$port ($dir)"
}
q() {
	local port=$1
	shift
	cluster_psql "$port" -d postgres -At "$@"
}

step "installing the extension"
install_extension
echo "    pg_qmdb $(sed -n "s/^default_version = '\(.*\)'/\1/p" "$REPO_ROOT/pg_qmdb.control")"

step "starting three throwaway clusters on loopback"
node SRC source
node PEER peer
node DST replica

step "writing an authenticated database on the source (fixed 32-byte keys and values)"
q "$SRC" -c "SELECT qmdb.create_database('ledger', 'fixed', 32, 32)" >/dev/null
batches=130
for b in $(seq 1 "$batches"); do
	q "$SRC" -c "SELECT size FROM qmdb.apply_batch('ledger',
		ARRAY(SELECT sha256(int8send(($b * 7919 + i) % 150000)) FROM generate_series(1, 1000) i),
		ARRAY(SELECT sha256(int8send($b * 1000000 + i)) FROM generate_series(1, 1000) i))" >/dev/null
	printf '\r    batch %3d/%d  %s operations' "$b" "$batches" "$(q "$SRC" -c "SELECT size FROM qmdb.databases WHERE name = 'ledger'")"
done
echo
q "$SRC" -c "SELECT '    root ' || encode(root, 'hex') || '  size ' || size || '  floor ' || floor || '  live keys ' || active_keys FROM qmdb.databases"

step "a second peer: a copy of the source (pg_dump | pg_restore)"
q "$PEER" -c "DROP EXTENSION pg_qmdb" >/dev/null # the whole dump brings it back, with the data
as_pg "$PG_BIN/pg_dump" -h 127.0.0.1 -p "$SRC" -U postgres -Fc postgres |
	as_pg "$PG_BIN/pg_restore" -h 127.0.0.1 -p "$PEER" -U postgres -d postgres
q "$PEER" -c "SELECT '    peer root ' || encode(root, 'hex') FROM qmdb.databases"

read -r root start end < <(q "$SRC" -F' ' -c "SELECT encode(root, 'hex'), range_start, range_end FROM qmdb.target('ledger')")
step "syncing [$start, $end) to the replica from both peers (explicit finish)"
echo "    the trusted target: root $root"
echo "    (small batches, two in flight, so there is time to watch; see make bench for speed)"
q "$DST" -c "SELECT qmdb.sync_start('ledger',
	ARRAY['host=127.0.0.1 port=$SRC dbname=postgres user=postgres', 'host=127.0.0.1 port=$PEER dbname=postgres user=postgres'],
	decode('$root', 'hex'), $start, $end,
	'{\"encoding\": \"fixed\", \"key_size\": 32, \"value_size\": 32, \"fetch_batch_size\": 100,
	  \"max_outstanding_requests\": 2, \"explicit_finish\": true}')" >/dev/null

progress() { # until the phase matches $1
	while :; do
		line=$(q "$DST" -F' ' -c "SELECT percent, coalesce(ops_per_sec, 0), coalesce(to_char(eta, 'MI:SS'), '--:--'), phase, state, journal_size, range_end FROM qmdb.sync_status")
		read -r pct rate eta phase state size target_end <<<"$line"
		printf '\r    %5s%%  %7s ops/s  ETA %s  journal %s/%s  %-32s' "$pct" "$rate" "$eta" "$size" "$target_end" "$phase"
		case "$state $phase" in
		*"$1"*) break ;;
		failed*) echo; q "$DST" -c "SELECT last_error FROM qmdb.sync_status"; exit 1 ;;
		esac
		sleep 0.3
	done
	echo
}
moved=false
while :; do
	line=$(q "$DST" -F' ' -c "SELECT journal_size - range_start, range_end - range_start, phase FROM qmdb.sync_status")
	read -r done_ops total phase <<<"$line"
	if ! $moved && [ "$done_ops" -gt $((total / 3)) ]; then
		echo
		step "mid-sync: the source commits more; the target moves"
		for b in $(seq 1 10); do
			q "$SRC" -c "SELECT size FROM qmdb.apply_batch('ledger',
				ARRAY(SELECT sha256(int8send(i * 31)) FROM generate_series(1, 500) i),
				ARRAY(SELECT sha256(int8send(-$b * 1000 - i)) FROM generate_series(1, 500) i))" >/dev/null
		done
		read -r root start end < <(q "$SRC" -F' ' -c "SELECT encode(root, 'hex'), range_start, range_end FROM qmdb.target('ledger')")
		q "$DST" -c "SELECT qmdb.sync_update_target('ledger', decode('$root', 'hex'), $start, $end)" >/dev/null
		echo "    new target: [$start, $end) root $root"
		moved=true
	fi
	progress_line=$(q "$DST" -F' ' -c "SELECT percent, coalesce(round(ops_per_sec), 0), coalesce(to_char(eta, 'MI:SS'), '--:--'), phase FROM qmdb.sync_status")
	read -r pct rate eta phase <<<"$progress_line"
	printf '\r    %5s%%  %7s ops/s  ETA %s  %-32s' "$pct" "$rate" "$eta" "$phase"
	[ "$(q "$DST" -c "SELECT phase LIKE 'at target%' AND target_updates = 1 FROM qmdb.sync_status")" = t ] && break
	[ "$(q "$DST" -c "SELECT state FROM qmdb.sync_status")" = failed ] && { echo; q "$DST" -c "SELECT last_error FROM qmdb.sync_status"; exit 1; }
	sleep 0.3
done
echo
q "$DST" -c "SELECT '    targets reached: ' || targets_reached || '; responses accepted: ' || responses_accepted || ', rejected: ' || responses_rejected FROM qmdb.sync_status"
q "$DST" -c "SELECT '    peer ' || peer || ': ' || state || ', ' || ops || ' ops, ' || latency_ms || ' ms' || coalesce(', last error: ' || last_error, '') FROM qmdb.sync_peers"

step "finish: rebuild state, check the root"
q "$DST" -c "SELECT qmdb.sync_finish('ledger')" >/dev/null
echo "    $(q "$DST" -c "SELECT qmdb.sync_wait('ledger', '120 seconds')")"

step "the two roots, side by side"
printf '    source : %s\n' "$(q "$SRC" -c "SELECT encode(root, 'hex') || '  size ' || size FROM qmdb.databases WHERE name = 'ledger'")"
printf '    replica: %s\n' "$(q "$DST" -c "SELECT encode(root, 'hex') || '  size ' || size FROM qmdb.databases WHERE name = 'ledger'")"
[ "$(q "$SRC" -c "SELECT root FROM qmdb.databases WHERE name = 'ledger'")" = "$(q "$DST" -c "SELECT root FROM qmdb.databases WHERE name = 'ledger'")" ] &&
	echo "    roots match" || { echo "    ROOTS DIFFER"; exit 1; }
key="sha256(int8send(31))"
printf '    get(%s) on the source : %s\n' "$key" "$(q "$SRC" -c "SELECT encode(qmdb.get('ledger', $key), 'hex')")"
printf '    get(%s) on the replica: %s\n' "$key" "$(q "$DST" -c "SELECT encode(qmdb.get('ledger', $key), 'hex')")"
q "$DST" -c "SELECT '    verify ' || string_agg(check_name || '=' || ok, ' ') FROM qmdb.verify('ledger')"

step "follow: the source keeps writing; the replica catches up and follows, readable throughout"
write_more() {
	q "$SRC" -c "SELECT size FROM qmdb.apply_batch('ledger',
		ARRAY(SELECT sha256(int8send(i * 7 + $1)) FROM generate_series(1, 1000) i),
		ARRAY(SELECT sha256(int8send(-$1 * 1000 - i)) FROM generate_series(1, 1000) i))" >/dev/null
	read -r root start end < <(q "$SRC" -F' ' -c "SELECT encode(root, 'hex'), range_start, range_end FROM qmdb.target('ledger')")
}
write_more 0
q "$DST" -c "SELECT qmdb.sync_start('ledger',
	ARRAY['host=127.0.0.1 port=$SRC dbname=postgres user=postgres'], decode('$root', 'hex'), $start, $end,
	'{\"follow\": true}')" >/dev/null
for round in $(seq 1 10); do
	write_more "$round"
	q "$DST" -c "SELECT qmdb.sync_update_target('ledger', decode('$root', 'hex'), $start, $end)" >/dev/null
	q "$DST" -F' ' -c "SELECT '    source at ' || $end || ';  replica ' || state || ', ' || phase || ': published ' ||
		coalesce(published_size, 0) || ', ' || ops_behind || ' behind, lag ' || to_char(lag, 'SS.MS') || ' s' FROM qmdb.sync_status"
done
echo "    $(q "$DST" -c "SELECT qmdb.sync_wait('ledger', '120 seconds')")"
q "$DST" -F' ' -c "SELECT '    replica ' || state || ', ' || phase || ': published ' || published_size || ', ' || ops_behind ||
	' behind, lag ' || to_char(lag, 'SS.MS') || ' s' FROM qmdb.sync_status"
q "$DST" -c "SELECT qmdb.sync_finish('ledger')" >/dev/null
echo "    finish: $(q "$DST" -c "SELECT qmdb.sync_wait('ledger', '120 seconds')")"
[ "$(q "$SRC" -c "SELECT root FROM qmdb.databases WHERE name = 'ledger'")" = "$(q "$DST" -c "SELECT root FROM qmdb.databases WHERE name = 'ledger'")" ] &&
	echo "    roots match at size $(q "$DST" -c "SELECT size FROM qmdb.databases WHERE name = 'ledger'")" || { echo "    ROOTS DIFFER"; exit 1; }

step "done; stopping the clusters"
