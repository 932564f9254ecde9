// Module entry: what loading pg_qmdb sets up. Later stages add GUCs, shared
// memory and the sync launcher here, in that order.
#include "pg_headers.h"

extern "C" {
PG_MODULE_MAGIC;

void _PG_init(void);

void
_PG_init(void) {}
}
