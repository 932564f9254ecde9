// DROP EXTENSION pg_qmdb while syncs run is refused, naming them: the
// workers hold the extension's tables, and a drop under them either
// deadlocks with a worker or leaves it failing on tables that are gone.
// Stopping them first (sync_cancel, or sync_pause and then cancel) is the
// operator's call. A ProcessUtility hook, so it runs before any lock.
// After the drop, the schema qmdb goes too if nothing is left in it: it is
// not a member of the extension (pg_dump must write it before CREATE
// EXTENSION ... WITH SCHEMA qmdb), but DROP EXTENSION should leave nothing.
//
// Plain C-style code: no C++ object lives across a PostgreSQL call here.
#include "pg_headers.h"

extern "C" {
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "utils/lsyscache.h"
}

#include <cstring>

namespace qmdb::pg {

namespace {

ProcessUtility_hook_type previous_hook = nullptr;

bool
drops_pg_qmdb(Node *parsetree) {
	if (!IsA(parsetree, DropStmt))
		return false;
	DropStmt *stmt = reinterpret_cast<DropStmt *>(parsetree);
	if (stmt->removeType != OBJECT_EXTENSION)
		return false;
	ListCell *cell;
	foreach (cell, stmt->objects) {
		Node *object = static_cast<Node *>(lfirst(cell));
		if (IsA(object, String) && std::strcmp(strVal(object), "pg_qmdb") == 0)
			return true;
	}
	return false;
}

// Refuse while this database has running or paused sync jobs.
void
refuse_while_syncing() {
	if (!OidIsValid(get_extension_oid("pg_qmdb", true)))
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		return;
	int rc = SPI_execute("SELECT pg_catalog.string_agg(pg_catalog.quote_literal(db_name), ', ' ORDER BY db_name) "
	                     "FROM qmdb.sync_jobs WHERE state IN ('running', 'following', 'paused')",
	                     true, 0);
	char *names = nullptr;
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
		names = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	if (names)
		names = pstrdup(names); // outlives SPI_finish, in the caller's context
	SPI_finish();
	if (names)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_IN_USE),
		                errmsg("cannot drop extension pg_qmdb while syncs run here: %s", names),
		                errhint("Stop each with qmdb.sync_cancel(db) (or qmdb.sync_cancel(db, drop_data => true)) "
		                        "first.")));
}

// Drop schema qmdb once the extension is gone, if it is empty and the
// caller may drop it (else it stays, and says nothing).
void
drop_empty_schema() {
	if (OidIsValid(get_extension_oid("pg_qmdb", true)) || !OidIsValid(get_namespace_oid("qmdb", true)))
		return;
	CommandCounterIncrement(); // see the drop's own deletions
	if (SPI_connect() != SPI_OK_CONNECT)
		return;
	int rc = SPI_execute("SELECT 1 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'qmdb' "
	                     "AND pg_catalog.pg_has_role(n.nspowner, 'MEMBER') AND NOT EXISTS (SELECT 1 FROM "
	                     "pg_catalog.pg_depend d WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass "
	                     "AND d.refobjid = n.oid)",
	                     false, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
		(void)SPI_execute("DROP SCHEMA qmdb", false, 0);
	SPI_finish();
}

void
guard_utility(PlannedStmt *pstmt, const char *query_string, bool read_only_tree, ProcessUtilityContext context,
              ParamListInfo params, QueryEnvironment *query_env, DestReceiver *dest, QueryCompletion *qc) {
	bool dropping = drops_pg_qmdb(pstmt->utilityStmt);
	if (dropping)
		refuse_while_syncing();
	if (previous_hook)
		previous_hook(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
	else
		standard_ProcessUtility(pstmt, query_string, read_only_tree, context, params, query_env, dest, qc);
	if (dropping)
		drop_empty_schema();
}

} // namespace

void
install_drop_guard() {
	previous_hook = ProcessUtility_hook;
	ProcessUtility_hook = guard_utility;
}

} // namespace qmdb::pg
