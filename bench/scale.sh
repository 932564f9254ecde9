#!/usr/bin/env bash
# Scale: the sync benchmark at 1M and at SCALE_OPS operations (default 8M,
# one key each; about 7 minutes here, mostly filling the source), with the
# default maintenance_work_mem, SCALE_ROUNDS rounds at each size (the first
# on fresh clusters, as a user's first sync; later ones on the same
# clusters). Prints each size's ratio to the COPY pipe for the first round
# and the median, the per-operation cost at SCALE_OPS over that at 1M
# (flatness; goal: at most 1.3), the sync worker's peak memory, and
# qmdb.verify's time and peak memory at both sizes (goal: the same).
# SYNC_PRETOUCH_GIB reaches bench/sync.sh: on a VM whose host takes back
# the memory its guest frees, it starts each first round on memory the
# guest holds (bench/first_touch.sh; docs/operations.md, Sizing).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE_OPS=${SCALE_OPS:-8000000}
SCALE_ROUNDS=${SCALE_ROUNDS:-3}
field() { awk -F, -v k="$2" -v c="$3" '$1 == k { print $c }' "$1"; }
row() {
	printf '%-34s %14s %14s %8s\n' "$1" "$2" "$3" "$4"
	[ -z "${BENCH_CSV:-}" ] || echo "$1,$2,$3,${4%x}" >>"$BENCH_CSV"
}
declare -A rate copy worker verify_s verify_kb
stats=(first median)
for n in 1000000 "$SCALE_OPS"; do
	out=$(mktemp)
	SYNC_OPS=$n SYNC_ROUNDS=$SCALE_ROUNDS SYNC_LOGICAL=0 SYNC_VERIFY=1 BENCH_CSV=$out bench/sync.sh >&2
	for stat in "${stats[@]}"; do
		rate[$n,$stat]=$(field "$out" "sync vs COPY pipe ($stat ops/s)" 2)
		copy[$n,$stat]=$(field "$out" "sync vs COPY pipe ($stat ops/s)" 3)
	done
	worker[$n]=$(field "$out" "sync worker peak private memory (KiB)" 2)
	verify_s[$n]=$(field "$out" "qmdb.verify seconds and peak KiB" 2)
	verify_kb[$n]=$(field "$out" "qmdb.verify seconds and peak KiB" 3)
	rm -f "$out"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
label() { awk -v n="$1" 'BEGIN { printf "%gM", n / 1000000 }'; }
big=$SCALE_OPS
for n in 1000000 "$big"; do
	for stat in "${stats[@]}"; do
		row "sync vs COPY pipe at $(label "$n"), $stat (ops/s)" "${rate[$n,$stat]}" "${copy[$n,$stat]}" \
			"$(ratio "${rate[$n,$stat]}" "${copy[$n,$stat]}")"
	done
done
# Cost per operation (ns) at the big size over that at 1M: 1.00 is flat.
cost() { awk -v r="$1" 'BEGIN { printf "%.0f", 1e9 / r }'; }
for stat in "${stats[@]}"; do
	row "ns/op at $(label "$big") vs 1M, $stat (flat: 1x)" "$(cost "${rate[$big,$stat]}")" \
		"$(cost "${rate[1000000,$stat]}")" "$(ratio "$(cost "${rate[$big,$stat]}")" "$(cost "${rate[1000000,$stat]}")")"
done
row "worker peak MiB $(label "$big") vs 1M" "$((worker[$big] / 1024))" "$((worker[1000000] / 1024))" \
	"$(ratio "${worker[$big]}" "${worker[1000000]}")"
row "verify s $(label "$big") vs 1M" "${verify_s[$big]}" "${verify_s[1000000]}" "$(ratio "${verify_s[$big]}" "${verify_s[1000000]}")"
row "verify peak MiB $(label "$big") vs 1M" "$((verify_kb[$big] / 1024))" "$((verify_kb[1000000] / 1024))" \
	"$(ratio "${verify_kb[$big]}" "${verify_kb[1000000]}")"
