#include "gucs.h"
#include "memory_limit.h"

#include "pg_headers.h"

extern "C" {
#include "miscadmin.h"
}

extern "C" {
#include "utils/guc.h"
}

namespace qmdb::pg {

int max_serve_ops = 10000;
int max_response_bytes = 64 * 1024 * 1024;
char *launcher_database = nullptr;

void
define_gucs() {
	DefineCustomIntVariable("qmdb.max_serve_ops", "Most operations one qmdb.serve request may ask for.",
	                        "Peers must use a fetch_batch_size at or below this.", &max_serve_ops, 10000, 1, 1000000,
	                        PGC_SUSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("qmdb.max_response_bytes", "Largest response qmdb.serve will build.", nullptr,
	                        &max_response_bytes, 64 * 1024 * 1024, 1024, 1024 * 1024 * 1024, PGC_SUSET, GUC_UNIT_BYTE,
	                        nullptr, nullptr, nullptr);
	DefineCustomIntVariable(
	    "qmdb.peer_memory_limit", "Memory a process talking to peers may grow by before a peer's message fails.",
	    "Applies to sync workers (on top of maintenance_work_mem) and qmdb.fetch_target: a "
	    "larger message from a peer fails its connection instead of growing the process. "
	    "0 disables the limit.",
	    &peer_memory_limit_kb, 1024 * 1024, 0, INT_MAX, PGC_SUSET, GUC_UNIT_KB, nullptr, nullptr, nullptr);
	// A postmaster-level setting can only be defined while preloading; the
	// launcher that reads it exists only then.
	if (process_shared_preload_libraries_in_progress)
		DefineCustomStringVariable("qmdb.launcher_database",
		                           "Ignored since 0.2.0 (the launcher covers every database).",
		                           "Kept so that configurations naming it still load.", &launcher_database, "postgres",
		                           PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("qmdb");
}

} // namespace qmdb::pg
