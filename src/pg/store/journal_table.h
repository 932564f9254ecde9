// A database's journal in qmdb.journal: encoded operations laid end to end,
// up to OPS_PER_ROW of them per row. A row starts at location `loc` and
// holds the operations of [loc, loc + n), never crossing a multiple of
// OPS_PER_ROW, so each aligned window of locations has at most one row and
// the row holding location L starts in (L - OPS_PER_ROW, L].
//
// Why rows of many operations: a sync or a writer stores a million small
// operations as some thirty thousand rows, so row overhead and index upkeep
// stop being the cost of the journal (DESIGN §4 leaves the layout to us;
// qmdb.operations() shows one row per operation).
#pragma once

#include "../spi.h"

#include "core/operation.h"

namespace qmdb::pg {

constexpr uint64_t OPS_PER_ROW = 32;

class JournalTable {
public:
	JournalTable(int32 db_id, const OpFormat &format) : db_id_(db_id), format_(format) {}

	void attach(Spi &spi) { spi_ = &spi; }

	// Append `ops` at `next_loc`, the journal's end: the last row is filled
	// up to its window's end first (one UPDATE), the rest go in new rows.
	void append(uint64_t next_loc, const std::vector<Bytes> &ops);
	// The operations of [start, end), in order; Error(DataCorrupted) if one
	// is missing or a row does not split into whole operations.
	std::vector<Bytes> read(uint64_t start, uint64_t end) const;
	// Upper bound of the bytes of the operations in [start, end), without
	// splitting rows wholly inside: exact for whole rows, a row straddling
	// either end is split to count only its part.
	uint64_t bytes(uint64_t start, uint64_t end) const;
	// Remove the operations below `loc` (pruning) / from `loc` on (a sync
	// journal cut back). A row straddling `loc` is rewritten with its part.
	void drop_below(uint64_t loc);
	void drop_from(uint64_t loc);
	void drop_all();

private:
	// The row holding operations on both sides of `loc`, if any: its start
	// and its operations split.
	struct Row {
		uint64_t loc;
		Bytes ops;
	};
	std::optional<Row> straddling(uint64_t loc) const;
	std::vector<ByteView> split(const Bytes &row, uint64_t loc) const;

	int32 db_id_;
	OpFormat format_;
	Spi *spi_ = nullptr;
};

} // namespace qmdb::pg
