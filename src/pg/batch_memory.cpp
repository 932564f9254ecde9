#include "batch_memory.h"

#include <malloc.h>

namespace qmdb::pg {

void
keep_batch_memory() {
	static bool done = false;
	if (done)
		return;
	done = true;
	// Setting either fixes both (glibc stops adapting them). Allocations
	// below 8 MiB come from the heap; up to 32 MiB free at its top stays.
	mallopt(M_MMAP_THRESHOLD, 8 << 20);
	mallopt(M_TRIM_THRESHOLD, 32 << 20);
}

} // namespace qmdb::pg
