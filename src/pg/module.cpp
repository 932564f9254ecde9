// Module entry: what loading pg_qmdb sets up, in order. Later stages add
// shared memory and the sync launcher here.
#include "gucs.h"
#include "pg_headers.h"
#include "staging.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);

void
_PG_init(void) {
	qmdb::pg::define_gucs();
	qmdb::pg::register_staging_callbacks();
}
}
