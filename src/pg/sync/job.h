// A sync job as stored in qmdb.sync_jobs, and its options.
#pragma once

#include "../spi.h"

#include "core/note.h"
#include "core/operation.h"
#include "core/wire.h"

#include <optional>
#include <string>
#include <vector>

namespace qmdb::pg {

// Targets from signed checkpoints (option "trust"): a checkpoint of
// `origin` counts when at least `threshold` of `keys` signed it. The worker
// asks its peers for their newest one every `interval` seconds.
struct TrustPolicy {
	std::vector<NoteVerifier> keys;
	std::vector<std::string> key_texts; // as given (verifier keys)
	uint64_t threshold = 1;
	std::string origin;
	double interval = 1; // seconds
};

struct SyncOptions {
	uint64_t max_outstanding_requests = 4;
	uint64_t fetch_batch_size = 1000;
	uint64_t max_retained_roots = 8; // accepted, ignored since 0.3.0: each request keeps its own root
	bool explicit_finish = false;
	bool follow = false; // keep following new targets after the first
	std::optional<TrustPolicy> trust;
	double request_timeout = 30; // seconds
	OpFormat format;             // the synced database's encoding
	std::string source_db;       // the database's name on the peers ("" = the local name)
};

// Parse and validate an options document (jsonb text); unknown keys and
// out-of-range values are errors naming the key.
SyncOptions parse_sync_options(Spi &spi, const std::string &json);

struct SyncJob {
	int32 db_id = 0;
	std::string db_name;
	std::vector<std::string> peers;
	Target target;
	SyncOptions options;
	std::string state;
	bool finish_requested = false;
	uint64_t journal_start = 0, journal_size = 0;
	std::optional<std::vector<Digest>> pins;
	bool creator_is_superuser = true;
	bool at_home = true; // false: restored from another cluster or database (see qmdb.sync_home)
};

// Refuse (NotReady) while the extension's SQL objects are older than this
// library (a new package installed, ALTER EXTENSION pg_qmdb UPDATE not yet
// run): syncs write columns the old schema does not have.
void require_current_schema(Spi &spi);

// Locks the job's row for the transaction (see SyncWorker::turn).
std::optional<SyncJob> load_sync_job(Spi &spi, int32 db_id);

// Forget a job: its row, its pending target updates and its peers' stats.
void delete_sync_job(Spi &spi, int32 db_id);

// Before dropping database `db`: lock its sync job's row, if it has one,
// and refuse (InUse) while the job is running or paused. Call it before
// locking the database's row: a worker's turn locks the job row first and
// the database row later (when it completes), and the same order keeps a
// drop from deadlocking with it.
void lock_sync_job_for_drop(Spi &spi, const std::string &db);

// Advisory-lock key space of sync workers: one lock per job, held by its worker.
constexpr int32 SYNC_LOCK_CLASS = 0x716d6462; // "qmdb"

// Register the dynamic worker of a job (in database `dboid`).
bool start_sync_worker(int32 db_id, Oid dboid);
// Start the job's worker when this transaction commits.
void start_sync_worker_at_commit(int32 db_id);

} // namespace qmdb::pg
