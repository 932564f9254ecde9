// Module entry: what loading pg_qmdb sets up, in order. Later stages add
// shared memory and the sync launcher here.
#include "gucs.h"
#include "pg_headers.h"
#include "staging.h"

namespace qmdb::pg {
void register_sync_launcher();
void install_drop_guard();
void request_job_registry();
} // namespace qmdb::pg

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);

void
_PG_init(void) {
	qmdb::pg::define_gucs();
	qmdb::pg::register_staging_callbacks();
	qmdb::pg::install_drop_guard();
	// Only a preloaded library can register static workers: without it,
	// jobs still run, but resume after a restart only on sync_resume/sync_wait.
	if (process_shared_preload_libraries_in_progress) {
		qmdb::pg::request_job_registry();
		qmdb::pg::register_sync_launcher();
	}
}
}
