// Which sync jobs of this cluster are unfinished, in every database: a
// small table in shared memory (with shared_preload_libraries only), so
// that one launcher can restart the worker of any job whose worker is gone
// without connecting to each database. It is filled by sync_start and
// sync_resume at commit, by each worker as it starts, and, after a server
// start or a crash (when shared memory is new), by a short scan of each
// database (scan_database). A worker takes its job off when the job ends.
//
// Plain C-style code: no C++ object lives across a PostgreSQL call here.
#pragma once

#include "../pg_headers.h"

namespace qmdb::pg {

// From _PG_init, while preloading.
void request_job_registry();

// Whether the registry exists in this process (the library was preloaded).
bool job_registry_available();

// Note job `job_id` of database `dboid` as unfinished (idempotent). False
// if the registry is full or absent (the job then resumes only by hand).
bool registry_add(Oid dboid, int32 job_id);
// The job ended (complete, failed, cancelled or gone).
void registry_remove(Oid dboid, int32 job_id);
// The worker of the job is `pid`.
void registry_set_worker(Oid dboid, int32 job_id, int pid);
// Worker `pid` of the job is gone (no-op if another worker took over).
void registry_clear_worker(Oid dboid, int32 job_id, int pid);

struct RegisteredJob {
	Oid dboid;
	int32 job_id;
	int pid;
};
// A copy of the registry, at most `max` entries; returns how many.
int registry_snapshot(RegisteredJob *out, int max);
// Drop every entry of database `dboid` (it was dropped).
void registry_forget_database(Oid dboid);

constexpr int JOB_REGISTRY_SIZE = 256;

} // namespace qmdb::pg
