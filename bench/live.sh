#!/usr/bin/env bash
# Live replicas. (1) Catch-up cost: on a LIVE_OPS-operation replica, catching
# up about 10k new operations, against a fresh sync of a 10k-operation
# database between the same clusters (goal: within 2x). (2) Follow lag: the
# source applies 1000-write batches as fast as a client can, each new target
# goes to the replica right after its commit, and a session on the replica
# records when each is published; prints p50 and p99 of target -> applied,
# and whether the lag grows (the second half's median against the first's).
set -euo pipefail
source "$(dirname "$0")/../tests/integration/sync_lib.sh"

LIVE_OPS=${LIVE_OPS:-1000000}
# LIVE_LABEL: said after each result, for a second run on other settings
# (scripts/bench.sh runs this again with shared memory in huge pages).
tag=${LIVE_LABEL:+, $LIVE_LABEL}
LIVE_TARGETS=${LIVE_TARGETS:-150}
start_node S source "${BENCH_CONF[@]}"
start_node R replica "${BENCH_CONF[@]}"
now() { date +%s.%N; }
opts="$FIXED32, \"fetch_batch_size\": 5000, \"max_outstanding_requests\": 8"

echo "    writing $LIVE_OPS operations on the source..." >&2
fill_keys "$S" d "$LIVE_OPS"
read -r root start end < <(target "$S" d)
sync_start "$R" d "$root" "$start" "$end" "$opts" "$(peer "$S")"
wait_for "$R" d complete

# (1) Catch-ups of ~10k operations vs a fresh sync of a 10k-operation
# database. The first catch-up after the sync meets a state index that is
# not in shared buffers yet (the rebuild writes its pages directly): every
# probe of a key reads a page. The second is warm, as a replica that
# follows or is read is.
fill_keys "$S" small 10000
write_10k() {
	q "$S" -c "SELECT count(*) FROM (SELECT qmdb.apply_batch('d',
		ARRAY(SELECT sha256(int8send(-b * 1000 - i - $1 * 100000)) FROM generate_series(1, 1000) i),
		ARRAY(SELECT sha256(int8send(b * 7 + i)) FROM generate_series(1, 1000) i)) FROM generate_series(1, 10) b) t" >/dev/null
	q "$S" -c "CHECKPOINT" >/dev/null
	q "$R" -c "CHECKPOINT" >/dev/null
}
catch_up_ms() {
	local t0 t1
	read -r root start end < <(target "$S" d)
	t0=$(now)
	sync_start "$R" d "$root" "$start" "$end" "$opts" "$(peer "$S")"
	wait_for "$R" d complete
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", (b - a) * 1000 }'
}
write_10k 1
cold=$(catch_up_ms)
write_10k 2
warm=$(catch_up_ms)
all_ok "$R" d
read -r sroot sstart send < <(target "$S" small)
t2=$(now)
sync_start "$R" small "$sroot" "$sstart" "$send" "$opts" "$(peer "$S")"
wait_for "$R" small complete
t3=$(now)
fresh=$(awk -v a="$t2" -v b="$t3" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
for kind in cold warm; do
	ms=${!kind}
	ratio=$(awk -v a="$ms" -v b="$fresh" 'BEGIN { printf "%.2f", a / b }')
	printf '%-34s %14s %14s %8s\n' "catch-up ($kind$tag) vs fresh sync (ms)" "$ms" "$fresh" "${ratio}x"
	[ -z "${BENCH_CSV:-}" ] || echo "catch-up of 10k ($kind$tag) vs fresh sync of 10k (ms),$ms,$fresh,$ratio" >>"$BENCH_CSV"
done
echo "  (catch-ups of about 10k operations onto a $(q "$R" -c "SELECT size FROM qmdb.databases WHERE name = 'd'")-operation replica; fresh sync of $((send - sstart)) operations; goal: within 2x)"

# (2) Follow lag.
read -r root start end < <(target "$S" d)
q "$R" -c "CREATE TABLE lag_targets (range_end bigint, at timestamptz)" \
	-c "CREATE TABLE lag_published (size bigint, at timestamptz)" -c "CREATE TABLE lag_stop (stop bool)" >/dev/null
fill_keys "$S" d 1000 # one more commit, so the follow has a target to start from
read -r root start end < <(target "$S" d)
sync_start "$R" d "$root" "$start" "$end" "$opts, \"follow\": true" "$(peer "$S")"
wait_for "$R" d "caught up"
# The watcher: one session polling the published size every 2 ms.
q "$R" -c "DO \$\$ DECLARE s bigint; last bigint := 0; BEGIN
	LOOP
		SELECT size INTO s FROM qmdb.databases WHERE name = 'd';
		IF s <> last THEN INSERT INTO lag_published VALUES (s, clock_timestamp()); last := s; COMMIT; END IF;
		EXIT WHEN EXISTS (SELECT 1 FROM lag_stop) AND s >= (SELECT max(range_end) FROM lag_targets);
		PERFORM pg_sleep(0.002);
	END LOOP; END \$\$" >/dev/null &
watcher=$!
t0=$(now)
for i in $(seq 1 "$LIVE_TARGETS"); do
	# The commit's own target: [floor, size) and its root.
	read -r root start end < <(q "$S" -F' ' -c "SELECT encode(c.root, 'hex'), c.floor, c.size
		FROM qmdb.apply_batch('d', ARRAY(SELECT sha256(int8send($i * 1000 + g % 997)) FROM generate_series(1, 1000) g),
			ARRAY(SELECT sha256(int8send(-$i * 1000 - g)) FROM generate_series(1, 1000) g)) c")
	q "$R" -c "INSERT INTO lag_targets VALUES ($end, clock_timestamp())" \
		-c "SELECT qmdb.sync_update_target('d', decode('$root', 'hex'), $start, $end)" >/dev/null
done
t1=$(now)
q "$R" -c "INSERT INTO lag_stop VALUES (true)" >/dev/null
wait "$watcher"
read -r p50 p99 first second < <(q "$R" -F' ' -c "WITH l AS (
		SELECT t.range_end, row_number() OVER (ORDER BY t.at) AS n,
		       extract(epoch FROM (SELECT min(p.at) FROM lag_published p WHERE p.size >= t.range_end) - t.at) * 1000 AS ms
		  FROM lag_targets t)
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)), round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)),
	       round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM l WHERE n <= $LIVE_TARGETS / 2)),
	       round((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) FROM l WHERE n > $LIVE_TARGETS / 2)) FROM l")
rate=$(awk -v n="$LIVE_TARGETS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", n / (b - a) }')
grows=$(awk -v a="$first" -v b="$second" 'BEGIN { print (b > 1.5 * a + 20) ? "yes" : "no" }')
printf '%-34s %14s %14s %8s\n' "follow lag p50 / p99 (ms$tag)" "$p50" "$p99" ""
echo "  ($LIVE_TARGETS targets of 1000 writes at $rate commits/s; median lag first half ${first} ms, second half ${second} ms: grows: $grows; goal p99 < 1000 ms)"
all_ok "$R" d
[ -z "${BENCH_CSV:-}" ] || echo "follow lag p50 and p99 (ms$tag),$p50,$p99," >>"$BENCH_CSV"
