#include "bulk_insert.h"
#include "../datum.h"

extern "C" {
#include "access/heapam.h"
#include "access/hio.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace qmdb::pg {

namespace {

// One bulk-write ring (16 MB of shared buffers) for every bulk insert of
// this process, rather than a new ring per call. A new ring takes fresh
// buffers each time: a sync's thousands of calls would walk the whole of
// shared_buffers, faulting each page into this process and leaving it
// dirty. One ring keeps recycling its own buffers, as COPY does: measured,
// a third off the fetch phase of a 1M-operation sync.
BufferAccessStrategy
process_ring() {
	static BufferAccessStrategy ring = nullptr;
	if (!ring) {
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext); // as long as the process
		ring = GetAccessStrategy(BAS_BULKWRITE);
		MemoryContextSwitchTo(old);
	}
	return ring;
}

} // namespace

void
bulk_insert(const char *table, int ncols, size_t rows, const std::vector<Datum> &values) {
	if (rows == 0)
		return;
	pg_call([&] {
		MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "qmdb bulk insert", ALLOCSET_DEFAULT_SIZES);
		MemoryContext old = MemoryContextSwitchTo(work);
		Relation rel =
		    table_openrv(makeRangeVar(const_cast<char *>("qmdb"), const_cast<char *>(table), -1), RowExclusiveLock);
		if (RelationGetDescr(rel)->natts != ncols)
			elog(ERROR, "qmdb.%s has %d columns, not %d", table, RelationGetDescr(rel)->natts, ncols);
		EState *estate = CreateExecutorState();
		ResultRelInfo *rri = makeNode(ResultRelInfo);
		InitResultRelInfo(rri, rel, 1, nullptr, 0);
		ExecOpenIndices(rri, false);
		BulkInsertStateData bis{process_ring(), InvalidBuffer};
		BulkInsertState bistate = &bis;
		CommandId cid = GetCurrentCommandId(true);
		// In batches of a few pages' worth: enough for one WAL record per
		// page, few slots to make and drop.
		const size_t batch = std::min<size_t>(128, rows);
		TupleTableSlot **slots = static_cast<TupleTableSlot **>(palloc(sizeof(TupleTableSlot *) * batch));
		for (size_t i = 0; i < batch; i++)
			slots[i] = table_slot_create(rel, nullptr);
		for (size_t done = 0; done < rows;) {
			int n = static_cast<int>(std::min(batch, rows - done));
			for (int i = 0; i < n; i++) {
				TupleTableSlot *slot = slots[i];
				ExecClearTuple(slot);
				for (int c = 0; c < ncols; c++) {
					slot->tts_values[c] = values[(done + i) * ncols + c];
					slot->tts_isnull[c] = false;
				}
				ExecStoreVirtualTuple(slot);
			}
			table_multi_insert(rel, slots, n, cid, 0, bistate);
			for (int i = 0; i < n; i++) {
				ResetPerTupleExprContext(estate);
				ExecInsertIndexTuples(rri, slots[i], estate, false, false, nullptr, NIL);
			}
			done += static_cast<size_t>(n);
		}
		// Newest first: the resource owner finds each slot's descriptor
		// reference at the end of its list instead of searching it.
		for (size_t i = batch; i-- > 0;)
			ExecDropSingleTupleTableSlot(slots[i]);
		ReleaseBulkInsertStatePin(bistate);
		ExecCloseIndices(rri);
		FreeExecutorState(estate);
		table_close(rel, NoLock);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(work);
	});
}

void
insert_keyed_rows(const char *table, int32 db_id, const std::vector<int64> &keys, const std::vector<Bytes> &rows) {
	std::vector<Datum> values;
	values.reserve(rows.size() * 3);
	for (size_t i = 0; i < rows.size(); i++) {
		values.push_back(Int32GetDatum(db_id));
		values.push_back(Int64GetDatum(keys[i]));
		values.push_back(PointerGetDatum(to_bytea(rows[i])));
	}
	bulk_insert(table, 3, rows.size(), values);
}

void
insert_numbered_rows(const char *table, int32 db_id, uint64_t first, const std::vector<Bytes> &rows) {
	std::vector<int64> keys(rows.size());
	for (size_t i = 0; i < rows.size(); i++)
		keys[i] = static_cast<int64>(first + i);
	insert_keyed_rows(table, db_id, keys, rows);
}

} // namespace qmdb::pg
