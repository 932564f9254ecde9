#!/usr/bin/env bash
# Prometheus metrics with the exporter DBAs already run: Debian's
# prometheus-postgres-exporter, given contrib/postgres_exporter/queries.yaml,
# scraped with curl against a cluster with a source database and a running
# (unreachable-peer) sync: the metric names, labels and values are there.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node B b
fill "$B" src 10
read -r root start end < <(target "$B" src)
unreachable="host=127.0.0.1 port=1 user=postgres"
sync_start "$B" x "$(printf '00%.0s' $(seq 1 32))" 0 10 "$FIXED32" "$unreachable"
poll "$B" "SELECT errors >= 1 FROM qmdb.sync_peers WHERE db = 'x'"

mport=$(free_port)
DATA_SOURCE_NAME="postgresql://postgres@127.0.0.1:$B/postgres?sslmode=disable" \
	prometheus-postgres-exporter --web.listen-address="127.0.0.1:$mport" --disable-default-metrics \
	--disable-settings-metrics --extend.query-path="$REPO_ROOT/contrib/postgres_exporter/queries.yaml" \
	>"$(node_dir "$B")/exporter.log" 2>&1 &
exporter=$!
stop_exporter() {
	local rc=$?
	kill "$exporter" 2>/dev/null || true
	cleanup_nodes "$rc"
	exit "$rc"
}
trap stop_exporter EXIT
metrics=""
for _ in $(seq 1 200); do
	metrics=$(curl -fsS "http://127.0.0.1:$mport/metrics" 2>/dev/null || true)
	grep -q '^qmdb_database_size_operations' <<<"$metrics" && break
	sleep 0.05
done
# metric NAME VALUE-REGEX LABEL-REGEX...: a sample of NAME with that value
# and every one of those labels (in any order among the others).
metric() {
	local name=$1 value=$2 lines
	shift 2
	lines=$(grep -E "^$name\{.*\} $value\$" <<<"$metrics" || true)
	for label in "$@"; do lines=$(grep -E "[{,]$label[,}]" <<<"$lines" || true); done
	[ -n "$lines" ] || { echo "FAIL: no sample $name{$*} $value in:"; grep "^$name" <<<"$metrics" || echo "(none)"; exit 1; }
}
metric qmdb_database_size_operations "$end" 'name="src"'
metric qmdb_database_floor "$start" 'name="src"'
metric qmdb_database_live_keys '[0-9]+' 'name="src"'
metric qmdb_sync_progress_ratio '0' 'db="x"'
metric qmdb_sync_ops_behind '10' 'db="x"'
metric qmdb_sync_target_range_end '10' 'db="x"'
metric qmdb_sync_failed '0' 'db="x"'
metric qmdb_sync_worker_running '1' 'db="x"'
metric qmdb_sync_responses_rejected_total '0' 'db="x"'
metric qmdb_sync_state_info '1' 'db="x"' 'phase="[a-z ,]+"' 'state="running"'
metric qmdb_sync_peer_errors_total '[1-9][0-9]*' 'db="x"' 'peer="1"' 'state="(backoff|connecting|idle)"'
metric qmdb_sync_peer_banned '0' 'db="x"' 'peer="1"'
echo "metrics_exporter: $(grep -c '^qmdb_' <<<"$metrics") qmdb samples scraped from prometheus-postgres-exporter"
