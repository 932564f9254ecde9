#include "journal_table.h"
#include "bulk_insert.h"

extern "C" {
#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "utils/fmgroids.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/relcache.h"
#include "utils/snapmgr.h"
}

namespace qmdb::pg {

namespace {

uint64_t
window_start(uint64_t loc) {
	return loc - loc % JOURNAL_WINDOW;
}

// The lower bound of a range scan for rows holding `loc` or later.
Param
first_row_param(uint64_t loc) {
	return int8_param(static_cast<int64>(window_start(loc)));
}

// The journal rows of one database in [from, below), in order or newest
// first: one scan of the primary key, each row seen in place in its page
// (no copy, no query to plan), read through a small ring of buffers (as a
// large sequential scan reads) rather than through shared buffers at
// large. A state rebuild reads the whole journal once, and a peer serving
// a sync all of it: a ring keeps that from evicting (and, in a new
// process, mapping) a buffer per page. Sees what a query would: earlier
// commands of this transaction too.
class JournalRows {
public:
	JournalRows(int32 db_id, uint64_t from, uint64_t below, bool backward)
	    : direction_(backward ? BackwardScanDirection : ForwardScanDirection) {
		pg_call([&] {
			CommandCounterIncrement(); // as SPI does before each query
			rel_ = table_openrv(makeRangeVar(const_cast<char *>("qmdb"), const_cast<char *>("journal"), -1),
			                    AccessShareLock);
			index_ = index_open(RelationGetPrimaryKeyIndex(rel_), AccessShareLock);
			snapshot_ = RegisterSnapshot(GetTransactionSnapshot());
			ring_ = GetAccessStrategy(BAS_BULKREAD);
			row_context_ = AllocSetContextCreate(CurrentMemoryContext, "qmdb journal row", ALLOCSET_DEFAULT_SIZES);
			ScanKeyData keys[3];
			ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(db_id));
			ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(static_cast<int64>(from)));
			ScanKeyInit(&keys[2], 2, BTLessStrategyNumber, F_INT8LT, Int64GetDatum(static_cast<int64>(below)));
			scan_ = index_beginscan(rel_, index_, snapshot_, 3, 0);
			index_rescan(scan_, keys, 3, nullptr, 0);
		});
	}
	JournalRows(const JournalRows &) = delete;
	JournalRows &operator=(const JournalRows &) = delete;
	~JournalRows() {
		// After a PostgreSQL error inside next() (a lock may still be held)
		// only the transaction's abort may clean up; after any other error
		// (a row that does not split, caught by qmdb.verify) the
		// transaction goes on, so everything is released here.
		if (failed_)
			return;
		try {
			pg_call([&] {
				if (BufferIsValid(buffer_))
					ReleaseBuffer(buffer_);
				index_endscan(scan_);
				UnregisterSnapshot(snapshot_);
				index_close(index_, AccessShareLock);
				table_close(rel_, AccessShareLock);
				FreeAccessStrategy(ring_);
				MemoryContextDelete(row_context_);
			});
		} catch (...) {
			// None of these raises once set up; were one to, the abort it
			// leads to cleans up.
		}
	}

	// The next row (its loc and ops), or false at the end. The bytes stay
	// valid until the next call.
	bool next(uint64_t *loc, ByteView *ops) {
		bool found = false;
		failed_ = true; // until pg_call returns
		pg_call([&] {
			if (BufferIsValid(buffer_)) {
				ReleaseBuffer(buffer_);
				buffer_ = InvalidBuffer;
			}
			MemoryContextReset(row_context_);
			ItemPointer tid;
			while (!found && (tid = index_getnext_tid(scan_, direction_)) != nullptr) {
				buffer_ = ReadBufferExtended(rel_, MAIN_FORKNUM, ItemPointerGetBlockNumber(tid), RBM_NORMAL, ring_);
				LockBuffer(buffer_, BUFFER_LOCK_SHARE);
				HeapTupleData tuple;
				ItemPointerData at = *tid;
				bool all_dead;
				found = heap_hot_search_buffer(&at, rel_, buffer_, snapshot_, &tuple, &all_dead, true);
				LockBuffer(buffer_, BUFFER_LOCK_UNLOCK);
				if (!found) { // an old version (a row rewritten by pruning)
					ReleaseBuffer(buffer_);
					buffer_ = InvalidBuffer;
					continue;
				}
				// The pin keeps the tuple where it is; it is read in place.
				bool null;
				*loc = static_cast<uint64_t>(DatumGetInt64(heap_getattr(&tuple, 2, RelationGetDescr(rel_), &null)));
				Datum d = heap_getattr(&tuple, 3, RelationGetDescr(rel_), &null);
				MemoryContext old = MemoryContextSwitchTo(row_context_);
				struct varlena *v = pg_detoast_datum_packed(reinterpret_cast<struct varlena *>(DatumGetPointer(d)));
				MemoryContextSwitchTo(old);
				*ops = ByteView(reinterpret_cast<const uint8_t *>(VARDATA_ANY(v)), VARSIZE_ANY_EXHDR(v));
			}
		});
		failed_ = false;
		return found;
	}

private:
	ScanDirection direction_;
	Relation rel_ = nullptr, index_ = nullptr;
	Snapshot snapshot_ = nullptr;
	BufferAccessStrategy ring_ = nullptr;
	MemoryContext row_context_ = nullptr;
	IndexScanDesc scan_ = nullptr;
	Buffer buffer_ = InvalidBuffer;
	bool failed_ = false;
};

} // namespace

std::vector<ByteView>
JournalTable::split(ByteView row, uint64_t loc) const {
	std::vector<ByteView> parts;
	try {
		parts = split_ops(format_, row);
	} catch (const DecodeError &e) {
		throw Error(ErrorCode::DataCorrupted,
		            "journal row at " + std::to_string(loc) + " does not split into operations: " + e.what());
	}
	if (parts.empty() || loc + parts.size() > window_start(loc) + JOURNAL_WINDOW)
		throw Error(ErrorCode::DataCorrupted, "journal row at " + std::to_string(loc) + " holds " +
		                                          std::to_string(parts.size()) + " operations, outside its window");
	return parts;
}

void
JournalTable::append(uint64_t next_loc, const std::vector<Bytes> &ops) {
	std::vector<int64> locs;
	std::vector<Bytes> rows;
	uint64_t loc = next_loc;
	for (size_t i = 0; i < ops.size(); loc++, i++) {
		bool new_row =
		    rows.empty() || loc % JOURNAL_WINDOW == 0 || rows.back().size() + ops[i].size() > JOURNAL_ROW_BYTES;
		if (new_row) {
			locs.push_back(static_cast<int64>(loc));
			rows.emplace_back();
			rows.back().reserve(JOURNAL_ROW_BYTES);
		}
		rows.back().insert(rows.back().end(), ops[i].begin(), ops[i].end());
	}
	insert_keyed_rows("journal", db_id_, locs, rows);
}

std::vector<Bytes>
JournalTable::read(uint64_t start, uint64_t end) const {
	std::vector<Bytes> out;
	if (start >= end)
		return out;
	out.reserve(end - start);
	uint64_t expect = start;
	{
		JournalRows rows(db_id_, window_start(start), end, false);
		uint64_t loc;
		ByteView row;
		while (expect < end && rows.next(&loc, &row)) {
			std::vector<ByteView> parts = split(row, loc);
			if (loc + parts.size() <= start)
				continue; // a row of the first window ending before the range
			if (loc > expect || (expect > start && loc != expect))
				break; // a gap or an overlap: reported below
			for (uint64_t i = expect - loc; i < parts.size() && expect < end; i++, expect++)
				out.push_back(parts[i].to_bytes());
		}
	}
	if (expect != end)
		throw Error(ErrorCode::DataCorrupted, "journal operation " + std::to_string(expect) + " is missing (reading [" +
		                                          std::to_string(start) + ", " + std::to_string(end) + "))");
	return out;
}

uint64_t
JournalTable::bytes(uint64_t start, uint64_t end) const {
	if (start >= end)
		return 0;
	// A row starting at or after `start` whose window ends by `end` lies
	// inside; any other may reach past an end and is split.
	uint64 n = spi_->exec(
	    "SELECT loc, pg_catalog.octet_length(ops)::int8, CASE WHEN loc < $4 OR loc - loc % $5 + $5 > $3 THEN ops END "
	    "FROM qmdb.journal WHERE db_id = $1 AND loc >= $2 AND loc < $3",
	    {int4_param(db_id_), first_row_param(start), int8_param(static_cast<int64>(end)),
	     int8_param(static_cast<int64>(start)), int8_param(static_cast<int64>(JOURNAL_WINDOW))});
	uint64_t total = 0;
	for (uint64 r = 0; r < n; r++) {
		if (spi_->is_null(r, 2)) {
			total += static_cast<uint64_t>(spi_->i64(r, 1));
			continue;
		}
		uint64_t loc = static_cast<uint64_t>(spi_->i64(r, 0));
		std::vector<ByteView> parts = split(spi_->view(r, 2), loc);
		for (uint64_t i = 0; i < parts.size(); i++)
			if (loc + i >= start && loc + i < end)
				total += parts[i].size;
	}
	return total;
}

std::optional<JournalTable::Cut>
JournalTable::cut_at(uint64_t loc) const {
	if (loc % JOURNAL_WINDOW == 0)
		return std::nullopt; // rows never cross a window's start
	// Only the last row starting before loc in its window can reach it.
	if (spi_->exec("SELECT loc, ops FROM qmdb.journal WHERE db_id = $1 AND loc >= $2 AND loc < $3 "
	               "ORDER BY loc DESC LIMIT 1",
	               {int4_param(db_id_), first_row_param(loc), int8_param(static_cast<int64>(loc))}) == 0)
		return std::nullopt;
	Cut cut{static_cast<uint64_t>(spi_->i64(0, 0)), spi_->bytes(0, 1), 0};
	std::vector<ByteView> parts = split(cut.ops, cut.loc);
	if (cut.loc + parts.size() <= loc)
		return std::nullopt; // the row ends below loc
	for (uint64_t i = 0; i < loc - cut.loc; i++)
		cut.below += parts[i].size;
	return cut;
}

void
JournalTable::drop_below(uint64_t loc) {
	std::optional<Cut> cut = cut_at(loc);
	spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1 AND loc < $2",
	           {int4_param(db_id_), int8_param(static_cast<int64>(loc))});
	if (cut) // the row's operations from loc on, as a row starting at loc
		spi_->exec("INSERT INTO qmdb.journal (db_id, loc, ops) VALUES ($1, $2, $3)",
		           {int4_param(db_id_), int8_param(static_cast<int64>(loc)),
		            bytea_param(ByteView(cut->ops.data() + cut->below, cut->ops.size() - cut->below))});
}

void
JournalTable::drop_from(uint64_t loc) {
	std::optional<Cut> cut = cut_at(loc);
	spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1 AND loc >= $2",
	           {int4_param(db_id_), int8_param(static_cast<int64>(loc))});
	if (cut) // the row keeps its operations below loc
		spi_->exec(
		    "UPDATE qmdb.journal SET ops = pg_catalog.substr(ops, 1, $3::int4) WHERE db_id = $1 AND loc = $2",
		    {int4_param(db_id_), int8_param(static_cast<int64>(cut->loc)), int8_param(static_cast<int64>(cut->below))});
}

bool
JournalTable::scan_backward(uint64_t start, uint64_t end,
                            const std::function<bool(uint64_t loc, ByteView op)> &visit) const {
	bool more = true;
	uint64_t expect = end; // [expect, end) has been visited
	{
		JournalRows rows(db_id_, window_start(start), end, true);
		uint64_t loc;
		ByteView row;
		while (more && expect > start && rows.next(&loc, &row)) {
			std::vector<ByteView> parts = split(row, loc);
			// Rows come newest first: each must hold the location just below
			// what was visited (the first may also run past `end`).
			if (loc >= expect || loc + parts.size() < expect)
				break;
			for (uint64_t l = expect; more && l > std::max(loc, start);) {
				l--;
				more = visit(l, parts[l - loc]);
				expect = l;
			}
		}
	}
	if (more && expect > start)
		throw Error(ErrorCode::DataCorrupted, "journal operation " + std::to_string(expect - 1) +
		                                          " is missing (reading [" + std::to_string(start) + ", " +
		                                          std::to_string(end) + ") backwards)");
	return more;
}

void
JournalTable::drop_all() {
	spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1", {int4_param(db_id_)});
}

} // namespace qmdb::pg
