// A database's journal in qmdb.journal: encoded operations laid end to end.
// A row starts at location `loc` and holds the operations of [loc, loc + n)
// of one window (locations [k * JOURNAL_WINDOW, (k + 1) * JOURNAL_WINDOW)),
// at most JOURNAL_ROW_BYTES of them unless one operation alone is larger.
// Rows never cross a window, so the row holding location L starts in
// [L - L % JOURNAL_WINDOW, L]: one index range scan finds any range.
//
// Rows are written once: an append adds rows (a small commit, a small row)
// and only pruning or cutting back a sync rewrites the row at the cut.
//
// Why rows of many operations: a sync or a writer stores a million small
// operations as some eight thousand rows, so row overhead and index upkeep
// stop being the cost of the journal (DESIGN §4 leaves the layout to us;
// qmdb.operations() shows one row per operation). 120 commonware digest
// operations (65 bytes each) fill one heap page, and rows stay below the
// table's toast_tuple_target, so they are never moved out of line.
#pragma once

#include "../spi.h"

#include "core/operation.h"

#include <functional>

namespace qmdb::pg {

constexpr uint64_t JOURNAL_WINDOW = 120;
constexpr size_t JOURNAL_ROW_BYTES = 8000;

class JournalTable {
public:
	JournalTable(int32 db_id, const OpFormat &format) : db_id_(db_id), format_(format) {}

	void attach(Spi &spi) { spi_ = &spi; }

	// Append `ops` at `next_loc`, the journal's end, as new rows.
	void append(uint64_t next_loc, const std::vector<Bytes> &ops);
	// The operations of [start, end), in order; Error(DataCorrupted) if one
	// is missing or a row does not split into whole operations.
	std::vector<Bytes> read(uint64_t start, uint64_t end) const;
	// The bytes of the operations in [start, end): rows inside count by
	// their length, rows that may reach past either end are split.
	uint64_t bytes(uint64_t start, uint64_t end) const;
	// Remove the operations below `loc` (pruning) / from `loc` on (a sync
	// journal cut back). A row straddling `loc` is rewritten with its part.
	void drop_below(uint64_t loc);
	void drop_from(uint64_t loc);
	void drop_all();
	// Visit the operations of [start, end) from the last to the first; stop
	// early when `visit` returns false (and return false). `op` points into
	// a pinned page, valid during the call only.
	bool scan_backward(uint64_t start, uint64_t end, const std::function<bool(uint64_t loc, ByteView op)> &visit) const;

private:
	// The row holding operations on both sides of `loc`, if any: its start,
	// its bytes, and how many of them are operations below `loc`.
	struct Cut {
		uint64_t loc;
		Bytes ops;
		size_t below;
	};
	std::optional<Cut> cut_at(uint64_t loc) const;
	std::vector<ByteView> split(ByteView row, uint64_t loc) const;

	int32 db_id_;
	OpFormat format_;
	Spi *spi_ = nullptr;
};

} // namespace qmdb::pg
