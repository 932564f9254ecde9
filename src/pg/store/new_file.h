// The file of a relation created in this transaction, written a page at a
// time behind the buffer manager, the way CLUSTER writes its new heap and
// CREATE INDEX its new index: each page is logged to WAL as one image (when
// the relation needs WAL), then written to the file, and the file is
// synced before commit (a checkpoint between a page's record and its write
// would not flush it). Only safe for a file no one else can have read or
// written, which open_new_relation() checks. NewHeap and NewBtree write
// their pages through it.
#pragma once

#include "../guard.h"

#include <string>

namespace qmdb::pg {

// qmdb.<name>, a table or an index, opened (its creator's lock is held);
// ERROR unless it was created in this transaction. Caller is inside pg_call.
Relation open_new_relation(const std::string &name, bool index);

class NewFile {
public:
	// Caller is inside pg_call; the file's blocks so far stay as they are.
	NewFile(Relation rel, MemoryContext context);

	BlockNumber blocks() const { return blocks_; }
	// Page `block`, at the end or below it (pages may be done out of order:
	// a gap up to it is zero-filled, then overwritten). The checksum is set
	// in `page`. Caller is inside pg_call.
	void write(char *page, BlockNumber block);
	// Before commit. Caller is inside pg_call.
	void sync();

private:
	Relation rel_;
	MemoryContext context_;
	BlockNumber blocks_;
	char *zero_page_ = nullptr;
};

} // namespace qmdb::pg
