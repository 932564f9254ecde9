#!/usr/bin/env bash
# What this machine charges for memory its kernel has not used lately: the
# time to write FIRST_TOUCH_GIB of new file data into the page cache, then
# the same again at once, into the memory the first write's file gave back
# when it was deleted. On a VM whose host takes back the memory its guest
# frees (free page reporting, as on these machines), the first write pays
# a host fault for each page, and so does a first sync on a fresh server,
# for every byte of WAL and table it writes; the COPY pipe, which writes
# about half as much, pays about half as much. See docs/operations.md.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

FIRST_TOUCH_GIB=${FIRST_TOUCH_GIB:-2}
file=$(make_workdir first_touch)/data
trap 'rm -rf "$(dirname "$file")"' EXIT
now() { date +%s.%N; }
write() {
	local t0 t1
	t0=$(now)
	dd if=/dev/zero of="$file" bs=1M count=$((FIRST_TOUCH_GIB * 1024)) status=none
	t1=$(now)
	rm -f "$file"
	awk -v n="$FIRST_TOUCH_GIB" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n * 1024 / (b - a) }'
}
# The host takes freed memory back about two seconds after the guest frees
# it: what this script measures is that memory's first touch again, so what
# the steps before it freed is left to go first.
sleep 5
first=$(write)
again=$(write)
ratio=$(awk -v a="$first" -v b="$again" 'BEGIN { printf "%.2f", a / b }')
printf '%-34s %14s %14s %8s\n' "new page cache: first vs reused (MiB/s)" "$first" "$again" "${ratio}x"
echo "  ($FIRST_TOUCH_GIB GiB written twice; well below 1x, a first sync on a fresh server here pays for the memory it touches, as the COPY pipe does)"
[ -z "${BENCH_CSV:-}" ] || echo "new page cache first vs reused (MiB/s),$first,$again,$ratio" >>"$BENCH_CSV"
