#!/usr/bin/env bash
# Explicit-finish mode while the source keeps writing: the job reaches its
# target and waits; the target moves (twice, the second while fetching);
# each target is reported once (NOTIFY and the counter); finish completes at
# the last target. A non-advancing update is refused with a clear error.
set -euo pipefail
source "$(dirname "$0")/sync_lib.sh"

start_node A a
start_node B b
fill "$A" d 100
read -r root start end < <(target "$A" d)
sync_start "$B" d "$root" "$start" "$end" "$FIXED32, \"explicit_finish\": true, \"fetch_batch_size\": 20" "$(peer "$A")"
wait_for "$B" d "at target"
expect_eq "$(q "$B" -c "SELECT state || ' ' || journal_size FROM qmdb.sync_status")" "running $end" "waiting at the first target"

# The source moves on; so does the target.
fill "$A" d 100
read -r root2 start2 end2 < <(target "$A" d)
q "$B" -c "SELECT qmdb.sync_update_target('d', decode('$root2', 'hex'), $start2, $end2)" >/dev/null
bad=$(q "$B" -c "SELECT qmdb.sync_update_target('d', decode('$root2', 'hex'), $start2, $end2)" 2>&1 || true)
case "$bad" in *"does not advance"*) ;; *) echo "a stale update was accepted: $bad"; exit 1 ;; esac
wait_for "$B" d "at target"
fill "$A" d 100
read -r root3 start3 end3 < <(target "$A" d)
q "$B" -c "SELECT qmdb.sync_update_target('d', decode('$root3', 'hex'), $start3, $end3)" >/dev/null
wait_for "$B" d "at target"
expect_eq "$(q "$B" -c "SELECT targets_reached || ' ' || target_updates FROM qmdb.sync_status")" "3 2" "reached and updates"
q "$B" -c "SELECT qmdb.sync_finish('d')" >/dev/null
wait_for "$B" d complete
expect_eq "$(q "$B" -c "SELECT encode(qmdb.root('d'), 'hex')")" "$root3" "root at the last target"
all_ok "$B" d
echo "sync_moving_target: 3 targets reached, finished at [$start3, $end3)"
