// Filling a table created in this transaction the way CLUSTER fills its new
// heap: rows are laid out in pages in local memory and each full page goes
// straight to the table's file, logged to WAL as one page image (NewFile). Shared
// buffers, the relation extension lock and the per-page insert record are
// all skipped: nothing else can see the table before commit, and an abort
// removes its file. Used for a synced database's state, a million rows or
// more written once.
//
// As with CLUSTER, the rows never reach logical decoding (page images carry
// no row changes), and the file is synced before commit when WAL-logged (a
// checkpoint between a page's record and its write would not flush it).
// Rows too long for a page are TOASTed as an insert would be.
#pragma once

#include "../guard.h"
#include "new_file.h"

extern "C" {
#include "storage/itemptr.h"
}

#include <optional>
#include <string>

namespace qmdb::pg {

class NewHeap {
public:
	// qmdb.<table>, which must have been created in this transaction and be
	// empty.
	explicit NewHeap(const std::string &table);
	NewHeap(const NewHeap &) = delete;
	NewHeap &operator=(const NewHeap &) = delete;

	// One row: a value for every column, none NULL. Returns where it went.
	// No index is maintained: the table's are the caller's (NewBtree).
	ItemPointerData add(const Datum *values);
	// Write the last page and close the table. Must be called before the
	// transaction commits (after an error, the abort cleans up instead).
	void finish();

	uint64_t rows() const { return rows_; }

private:
	void write_page();

	Relation rel_ = nullptr;
	MemoryContext context_ = nullptr; // the page and each row's tuple
	MemoryContext row_context_ = nullptr;
	std::optional<NewFile> file_;
	char *page_ = nullptr;
	bool page_used_ = false;
	BlockNumber block_ = 0;
	TransactionId xid_ = InvalidTransactionId;
	CommandId cid_ = 0;
	uint64_t rows_ = 0;
};

} // namespace qmdb::pg
