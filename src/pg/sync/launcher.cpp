// The sync launcher (with shared_preload_libraries): one static worker that
// starts a sync worker for every unfinished job that has none, so jobs
// resume after a restart or a crash with no SQL call. It looks in the
// database named by qmdb.launcher_database.
#include "../gucs.h"
#include "../pg_headers.h"
#include "job.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
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

// Plain C-style code: no C++ object lives across a PostgreSQL call here.
void
qmdb_sync_launcher_main(Datum) {
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(qmdb::pg::launcher_database, nullptr, 0);
	pgstat_report_appname("qmdb sync launcher");
	for (;;) {
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		// Jobs whose advisory lock is free have no worker.
		// Only look at the jobs table once the extension exists here, at
		// this library's version (an older schema waits for its update).
		// A job restored from elsewhere waits for sync_resume (sync_home).
		int rc = SPI_execute(
		    "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'pg_qmdb' AND extversion = '" PG_QMDB_VERSION "'",
		    true, 0);
		if (rc == SPI_OK_SELECT && SPI_processed == 1)
			rc = SPI_execute("SELECT db_id FROM qmdb.sync_jobs WHERE state IN ('running', 'paused') "
			                 "AND home = qmdb.sync_home()",
			                 true, 0);
		else
			rc = -1;
		if (rc == SPI_OK_SELECT) {
			for (uint64 i = 0; i < SPI_processed; i++) {
				bool isnull;
				int32 id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
				if (DatumGetBool(DirectFunctionCall2(pg_try_advisory_lock_int4,
				                                     Int32GetDatum(qmdb::pg::SYNC_LOCK_CLASS), Int32GetDatum(id)))) {
					DirectFunctionCall2(pg_advisory_unlock_int4, Int32GetDatum(qmdb::pg::SYNC_LOCK_CLASS),
					                    Int32GetDatum(id));
					qmdb::pg::start_sync_worker(id, MyDatabaseId);
				}
			}
		}
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, nullptr);
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 2000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
}
