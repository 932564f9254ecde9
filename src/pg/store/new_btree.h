// Filling a unique btree index created empty in this transaction from keys
// already in order, the way CREATE INDEX loads its sorted tuples (nbtsort.c):
// leaf pages are filled left to right to the index's fillfactor, each full
// page's high key becomes a downlink on the level above, and the metapage
// points at the one page left on the top level. Pages are laid out in local
// memory and go straight to the file, each logged as one page image
// (NewFile), as NewHeap writes the table's.
//
// For the synced state's primary key: the rebuild has every live key in
// memory already (KeySet), so sorting them there and writing the pages
// spares CREATE INDEX its reread of the table and its sort, which spills to
// disk at a million keys. Only a bytea key of one column; the caller hands
// each key once, ascending in bytea order (add() checks it).
#pragma once

#include "../guard.h"
#include "new_file.h"

#include "core/bytes.h"

#include <optional>
#include <string>

extern "C" {
#include "access/itup.h"
#include "storage/itemptr.h"
}

namespace qmdb::pg {

class NewBtree {
public:
	// qmdb.<index>, a unique btree on one bytea column of qmdb.<table>;
	// both created in this transaction, the index still empty.
	NewBtree(const std::string &table, const std::string &index);
	NewBtree(const NewBtree &) = delete;
	NewBtree &operator=(const NewBtree &) = delete;

	// The next key (greater than the last) and its row.
	void add(ByteView key, ItemPointerData row);
	// Write the pages still open and the metapage; record the index's size
	// (as CREATE INDEX does). Must be called before the transaction commits.
	void finish();

	uint64_t keys() const { return keys_; }

private:
	// The page being filled on one level of the tree.
	struct Level {
		char *page;
		BlockNumber block;
		IndexTuple low_key; // the page's lower bound (minus infinity on a level's first page)
		OffsetNumber last;  // the last item's offset (P_HIKEY: none yet)
		Size full;          // free space below which the page counts as full
	};
	static constexpr int MAX_LEVELS = 16; // a btree of bytea keys stays far below

	char *new_page(uint32 level);
	void start_level();
	void add_to_level(int level, IndexTuple tuple);
	void write_page(char *page, BlockNumber block);

	Relation heap_ = nullptr;
	Relation index_ = nullptr;
	void *scan_key_ = nullptr; // BTScanInsert, for suffix truncation
	MemoryContext context_ = nullptr;
	MemoryContext key_context_ = nullptr; // each key's tuple
	Level levels_[MAX_LEVELS] = {};
	int level_count_ = 0;
	BlockNumber next_block_ = 1; // block 0 is the metapage
	std::optional<NewFile> file_;
	// The last key added, to check the order.
	char *last_key_ = nullptr;
	size_t last_size_ = 0, last_capacity_ = 0;
	uint64_t keys_ = 0;
};

} // namespace qmdb::pg
