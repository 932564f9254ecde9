#!/usr/bin/env bash
# Scale: the sync benchmark at 1M and at SCALE_OPS operations (default 8M,
# one key each; about 7 minutes here, mostly filling the source), one round
# each on fresh clusters with the default maintenance_work_mem. Prints each
# size's ratio to the COPY pipe, the per-operation cost at SCALE_OPS over
# that at 1M (flatness; goal: at most 1.3), the sync worker's peak memory,
# and qmdb.verify's time and peak memory at both sizes (goal: the same).
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE_OPS=${SCALE_OPS:-8000000}
field() { awk -F, -v k="$2" -v c="$3" '$1 == k { print $c }' "$1"; }
row() {
	printf '%-34s %14s %14s %8s\n' "$1" "$2" "$3" "$4"
	[ -z "${BENCH_CSV:-}" ] || echo "$1,$2,$3,${4%x}" >>"$BENCH_CSV"
}
declare -A rate copy worker verify_s verify_kb
for n in 1000000 "$SCALE_OPS"; do
	out=$(mktemp)
	SYNC_OPS=$n SYNC_ROUNDS=1 SYNC_LOGICAL=0 SYNC_VERIFY=1 BENCH_CSV=$out bench/sync.sh >&2
	rate[$n]=$(field "$out" "sync vs COPY pipe (first ops/s)" 2)
	copy[$n]=$(field "$out" "sync vs COPY pipe (first ops/s)" 3)
	worker[$n]=$(field "$out" "sync worker peak private memory (KiB)" 2)
	verify_s[$n]=$(field "$out" "qmdb.verify seconds and peak KiB" 2)
	verify_kb[$n]=$(field "$out" "qmdb.verify seconds and peak KiB" 3)
	rm -f "$out"
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
label() { awk -v n="$1" 'BEGIN { printf "%gM", n / 1000000 }'; }
big=$SCALE_OPS
for n in 1000000 "$big"; do
	row "sync vs COPY pipe at $(label "$n") (ops/s)" "${rate[$n]}" "${copy[$n]}" "$(ratio "${rate[$n]}" "${copy[$n]}")"
done
# Cost per operation (ns) at the big size over that at 1M: 1.00 is flat.
cost() { awk -v r="$1" 'BEGIN { printf "%.0f", 1e9 / r }'; }
row "ns/op at $(label "$big") vs 1M (flat: 1x)" "$(cost "${rate[$big]}")" "$(cost "${rate[1000000]}")" \
	"$(ratio "$(cost "${rate[$big]}")" "$(cost "${rate[1000000]}")")"
row "worker peak MiB $(label "$big") vs 1M" "$((worker[$big] / 1024))" "$((worker[1000000] / 1024))" \
	"$(ratio "${worker[$big]}" "${worker[1000000]}")"
row "verify s $(label "$big") vs 1M" "${verify_s[$big]}" "${verify_s[1000000]}" "$(ratio "${verify_s[$big]}" "${verify_s[1000000]}")"
row "verify peak MiB $(label "$big") vs 1M" "$((verify_kb[$big] / 1024))" "$((verify_kb[1000000] / 1024))" \
	"$(ratio "${verify_kb[$big]}" "${verify_kb[1000000]}")"
