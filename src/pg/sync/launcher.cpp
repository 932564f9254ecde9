// The sync launcher (with shared_preload_libraries): one static worker for
// the whole cluster, connected to no database. After a start or a crash it
// has each database scanned once, by a short worker there (the scanner),
// for unfinished sync jobs; from then on it keeps a worker running for
// every job in the job registry (job_registry.h) and starts one for any
// whose worker is gone. A database without jobs costs one scan per server
// start and holds no worker slot.
#include "../gucs.h"
#include "../pg_headers.h"
#include "job.h"
#include "job_registry.h"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

#include <cstring>

namespace qmdb::pg {

void
register_sync_launcher() {
	BackgroundWorker worker;
	std::memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	std::strcpy(worker.bgw_library_name, "pg_qmdb");
	std::strcpy(worker.bgw_function_name, "qmdb_sync_launcher_main");
	std::strcpy(worker.bgw_name, "qmdb sync launcher");
	std::strcpy(worker.bgw_type, "qmdb sync launcher");
	RegisterBackgroundWorker(&worker);
}

} // namespace qmdb::pg

extern "C" {
PGDLLEXPORT void qmdb_sync_launcher_main(Datum arg);
PGDLLEXPORT void qmdb_sync_scanner_main(Datum arg);
}

namespace {

constexpr int MAX_DATABASES = 1024;

// The databases one can connect to (templates aside).
int
list_databases(Oid *out, int max) {
	int n = 0;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	Relation rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
	HeapTuple tup;
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != nullptr && n < max) {
		Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tup));
		if (db->datallowconn && !db->datistemplate)
			out[n++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();
	return n;
}

bool
database_exists(Oid dboid) {
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	char *name = get_database_name(dboid);
	CommitTransactionCommand();
	return name != nullptr;
}

// One scanner at a time, each waited for: at most one slot is used.
void
scan_database(Oid dboid) {
	BackgroundWorker worker;
	std::memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	std::strcpy(worker.bgw_library_name, "pg_qmdb");
	std::strcpy(worker.bgw_function_name, "qmdb_sync_scanner_main");
	std::snprintf(worker.bgw_name, BGW_MAXLEN, "qmdb sync scanner for database %u", dboid);
	std::strcpy(worker.bgw_type, "qmdb sync scanner");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	BackgroundWorkerHandle *handle = nullptr;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle)) {
		ereport(WARNING, (errmsg("qmdb sync launcher: no worker slot free to look for sync jobs in database %u", dboid),
		                  errhint("Raise max_worker_processes; such jobs resume with qmdb.sync_resume.")));
		return;
	}
	(void)WaitForBackgroundWorkerShutdown(handle);
	pfree(handle);
}

} // namespace

// Plain C-style code: no C++ object lives across a PostgreSQL call here.
void
qmdb_sync_launcher_main(Datum) {
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(nullptr, nullptr, 0); // shared catalogs only
	pgstat_report_appname("qmdb sync launcher");

	// Shared memory is new: find the unfinished jobs of every database.
	static Oid databases[MAX_DATABASES];
	int ndb = list_databases(databases, MAX_DATABASES);
	for (int i = 0; i < ndb; i++) {
		CHECK_FOR_INTERRUPTS();
		scan_database(databases[i]);
	}

	static qmdb::pg::RegisteredJob jobs[qmdb::pg::JOB_REGISTRY_SIZE];
	static TimestampTz started_at[qmdb::pg::JOB_REGISTRY_SIZE];
	static qmdb::pg::RegisteredJob started[qmdb::pg::JOB_REGISTRY_SIZE];
	int nstarted = 0;
	for (;;) {
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		TimestampTz now = GetCurrentTimestamp();
		int n = qmdb::pg::registry_snapshot(jobs, qmdb::pg::JOB_REGISTRY_SIZE);
		for (int i = 0; i < n; i++) {
			const qmdb::pg::RegisteredJob &j = jobs[i];
			if (j.pid != 0 && BackendPidGetProc(j.pid) != nullptr)
				continue; // its worker lives
			// Started in the last 10 s: give it time to take its job.
			bool recent = false;
			for (int k = 0; k < nstarted; k++)
				if (started[k].dboid == j.dboid && started[k].job_id == j.job_id &&
				    !TimestampDifferenceExceeds(started_at[k], now, 10000))
					recent = true;
			if (recent)
				continue;
			if (!database_exists(j.dboid)) {
				qmdb::pg::registry_forget_database(j.dboid); // DROP DATABASE took it
				continue;
			}
			if (qmdb::pg::start_sync_worker(j.job_id, j.dboid)) {
				int slot = nstarted < qmdb::pg::JOB_REGISTRY_SIZE ? nstarted++ : i % qmdb::pg::JOB_REGISTRY_SIZE;
				started[slot] = j;
				started_at[slot] = now;
			}
		}
		pgstat_report_activity(STATE_IDLE, nullptr);
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 2000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

// A scanner: the unfinished sync jobs of its database, at home and at this
// library's version, go to the registry; then it exits.
void
qmdb_sync_scanner_main(Datum arg) {
	Oid dboid = DatumGetObjectId(arg);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("qmdb sync scanner");
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	int rc = SPI_execute(
	    "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_qmdb' AND extversion = '" PG_QMDB_VERSION "'", true,
	    0);
	if (rc == SPI_OK_SELECT && SPI_processed == 1) {
		rc = SPI_execute("SELECT db_id FROM qmdb.sync_jobs WHERE state IN ('running', 'following', 'paused') "
		                 "AND home = qmdb.sync_home()",
		                 true, 0);
		if (rc == SPI_OK_SELECT)
			for (uint64 i = 0; i < SPI_processed; i++) {
				bool isnull;
				int32 id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
				if (!qmdb::pg::registry_add(dboid, id))
					ereport(WARNING, (errmsg("qmdb job registry is full: sync job %d resumes only by hand", id)));
			}
	}
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	proc_exit(0);
}
