#!/usr/bin/env bash
# huge_shmem.sh COMMAND...: run COMMAND with the kernel's shared memory in
# transparent huge pages (shmem_enabled = always), then put the setting
# back. PostgreSQL's own huge_pages needs pages reserved in vm.nr_hugepages
# and MAP_HUGETLB, which these VMs refuse; shared memory in transparent huge
# pages gives a process one fault per 2 MiB of shared buffers instead of one
# per 4 kB, and a fault is dear here (docs/operations.md, live replicas).
# Needs root; without it, says so and runs nothing.
set -euo pipefail
knob=/sys/kernel/mm/transparent_hugepage/shmem_enabled
if [ ! -w "$knob" ]; then
	echo "    (skipped: $knob is not writable here)"
	exit 0
fi
was=$(sed 's/.*\[\(.*\)\].*/\1/' "$knob")
trap 'echo "$was" >"$knob"' EXIT
echo always >"$knob"
"$@"
