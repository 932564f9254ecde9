#include "new_heap.h"

extern "C" {
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/memutils.h"
#include "utils/rel.h"
}

namespace qmdb::pg {

NewHeap::NewHeap(const std::string &table) {
	pg_call([&] {
		rel_ = open_new_relation(table, false);
		context_ = AllocSetContextCreate(CurrentMemoryContext, "qmdb new heap", ALLOCSET_DEFAULT_SIZES);
		file_.emplace(rel_, context_);
		if (file_->blocks() != 0)
			elog(ERROR, "qmdb.%s is not empty", table.c_str());
		row_context_ = AllocSetContextCreate(context_, "qmdb new heap row", ALLOCSET_DEFAULT_SIZES);
		page_ = static_cast<char *>(MemoryContextAlloc(context_, BLCKSZ));
		xid_ = GetCurrentTransactionId();
		cid_ = GetCurrentCommandId(true);
	});
}

void
NewHeap::write_page() {
	// Caller is inside pg_call.
	file_->write(page_, block_++);
	page_used_ = false;
}

ItemPointerData
NewHeap::add(const Datum *values) {
	ItemPointerData where;
	pg_call([&] {
		MemoryContext old = MemoryContextSwitchTo(row_context_);
		TupleDesc desc = RelationGetDescr(rel_);
		bool nulls[MaxHeapAttributeNumber] = {};
		HeapTuple tuple = heap_form_tuple(desc, const_cast<Datum *>(values), nulls);
		// What heap_insert stamps on a new row: inserted by this command of
		// this transaction, never deleted.
		HeapTupleHeader header = tuple->t_data;
		header->t_infomask &= ~HEAP_XACT_MASK;
		header->t_infomask2 &= ~HEAP2_XACT_MASK;
		header->t_infomask |= HEAP_XMAX_INVALID;
		HeapTupleHeaderSetXmin(header, xid_);
		HeapTupleHeaderSetCmin(header, cid_);
		HeapTupleHeaderSetXmax(header, 0);
		tuple->t_tableOid = RelationGetRelid(rel_);
		if (HeapTupleHasExternal(tuple) || tuple->t_len > TOAST_TUPLE_THRESHOLD)
			tuple = heap_toast_insert_or_update(rel_, tuple, nullptr, HEAP_INSERT_SKIP_FSM | HEAP_INSERT_NO_LOGICAL);
		if (tuple->t_len > MaxHeapTupleSize)
			ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			                errmsg("row is too big: size %zu, maximum size %zu", static_cast<size_t>(tuple->t_len),
			                       static_cast<size_t>(MaxHeapTupleSize))));
		Page page = static_cast<Page>(page_);
		if (page_used_ && (PageGetHeapFreeSpace(page) < MAXALIGN(tuple->t_len) ||
		                   PageGetMaxOffsetNumber(page) >= MaxHeapTuplesPerPage))
			write_page();
		if (!page_used_) {
			PageInit(page, BLCKSZ, 0);
			page_used_ = true;
		}
		OffsetNumber offset =
		    PageAddItem(page, reinterpret_cast<Item>(tuple->t_data), tuple->t_len, InvalidOffsetNumber, false, true);
		if (offset == InvalidOffsetNumber)
			elog(ERROR, "failed to add a row to a new page of qmdb.%s", RelationGetRelationName(rel_));
		// A row's ctid points at itself until it is updated.
		HeapTupleHeader on_page = reinterpret_cast<HeapTupleHeader>(PageGetItem(page, PageGetItemId(page, offset)));
		ItemPointerSet(&on_page->t_ctid, block_, offset);
		where = on_page->t_ctid;
		MemoryContextSwitchTo(old);
		MemoryContextReset(row_context_);
	});
	rows_++;
	return where;
}

void
NewHeap::finish() {
	pg_call([&] {
		if (page_used_)
			write_page();
		file_->sync();
		pgstat_count_heap_insert(rel_, static_cast<PgStat_Counter>(rows_));
		table_close(rel_, NoLock);
		rel_ = nullptr;
		MemoryContextDelete(context_);
		context_ = nullptr;
	});
}

} // namespace qmdb::pg
