#include "journal.h"

#include "../error.h"

#include <string>

#include "../core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb::sync {

MemoryJournal
MemoryJournal::open(MemoryJournal j, uint64_t start, uint64_t end) {
	if (j.size() == 0 && start == 0)
		return j;
	if (j.start() > start)
		j.clear_to(start);
	if (j.size() > end)
		j.rewind(end);
	j.resize(start);
	return j;
}

void
MemoryJournal::append(const std::vector<Bytes> &ops) {
	ops_.insert(ops_.end(), ops.begin(), ops.end());
}

void
MemoryJournal::resize(uint64_t loc) {
	if (size() <= loc) {
		clear_to(loc);
	} else if (loc > start_) {
		ops_.erase(ops_.begin(), ops_.begin() + static_cast<std::ptrdiff_t>(loc - start_));
		start_ = loc;
	}
}

void
MemoryJournal::rewind(uint64_t loc) {
	if (loc < size())
		ops_.resize(loc > start_ ? loc - start_ : 0);
}

Bytes
MemoryJournal::read(uint64_t loc) const {
	if (loc < start_ || loc >= size())
		throw Error(ErrorCode::OutOfRange, "journal has no operation at " + std::to_string(loc));
	return ops_[loc - start_];
}

} // namespace qmdb::sync
