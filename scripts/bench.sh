#!/usr/bin/env bash
# `make bench`: every benchmark (hashing, writer, serving, sync) side by
# side, with ratios against the baseline of the same run. Absolute numbers
# on shared machines are noise; the ratios are the result. A summary table
# ends the output; a machine-readable one goes to build/bench.csv.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

summary=build/bench.csv
echo "benchmark,ours_per_s,baseline_per_s,ratio" >"$summary"

echo "==> this machine: what memory not used lately costs (see the first rounds below)"
BENCH_CSV="$summary" bench/first_touch.sh

# Hashing: our EVP wrapper (digest fetched once, context reused) vs the
# implicit-fetch style (EVP_Digest + EVP_sha256() per call).
echo "==> hashing (SHA-256, MMR pre-images)"
csv=$(build/hash_bench --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null)
col=$(echo "$csv" | head -1 | tr ',' '\n' | grep -n items_per_second | cut -d: -f1)
rate() { echo "$csv" | awk -F, -v n="\"$1\"" -v c="$col" '$1 == n { printf "%.0f", $c }'; }
leaf=$(rate BM_Leaf)
node=$(rate BM_Node)
slow=$(rate BM_NodeImplicitFetch)
printf '%-34s %14s %14s %8s\n' benchmark "ours/s" "baseline/s" ratio
row() {
	local ratio
	ratio=$(awk -v a="$2" -v b="$3" 'BEGIN { printf "%.2f", a / b }')
	printf '%-34s %14s %14s %8s\n' "$1" "$2" "$3" "${ratio}x"
	echo "$1,$2,$3,$ratio" >>"$summary"
}
row "leaf digest vs implicit fetch" "$leaf" "$slow"
row "node digest vs implicit fetch" "$node" "$slow"

echo "==> writer (PostgreSQL cluster on loopback)"
install_extension
BENCH_CSV="$summary" bench/writer.sh
echo "==> serving proofs (random 1000-op ranges of a 1M-op database)"
BENCH_CSV="$summary" bench/serve.sh
echo "==> sync between two clusters (verified) vs COPY pipe and logical replication"
BENCH_CSV="$summary" bench/sync.sh
echo "==> the same sync of a keyless and of an immutable database (one round each)"
for kind in keyless immutable; do
	SYNC_KIND=$kind SYNC_ROUNDS=1 BENCH_CSV="$summary" bench/sync.sh
done
echo "==> live replicas: catch-up cost and follow lag"
BENCH_CSV="$summary" bench/live.sh
echo "==> the same with shared memory in huge pages"
BENCH_CSV="$summary" LIVE_LABEL="huge pages" bench/huge_shmem.sh bench/live.sh
echo "==> scale: the sync at 1M and ${SCALE_OPS:-8000000} operations, default maintenance_work_mem, ${SCALE_ROUNDS:-3} rounds each"
BENCH_CSV="$summary" bench/scale.sh

echo
echo "==> summary (ratio: ours / baseline; above 1 is faster)"
awk -F, 'NR > 1 { printf "%-40s %14s %14s %8s\n", $1, $2, $3, ($4 == "" ? "" : $4 "x") }' "$summary"
echo "machine-readable: $summary"
