#include "table_journal.h"

namespace qmdb::pg {

void
TableJournal::clear_to(uint64_t loc) {
	forget_read_ahead();
	rows_.drop_all();
	start_ = size_ = loc;
}

void
TableJournal::open(uint64_t start, uint64_t end) {
	if (size_ == 0 && start == 0)
		return;
	if (start_ > start)
		clear_to(start);
	if (size_ > end) { // progress beyond an older target keeps its prefix
		forget_read_ahead();
		rows_.drop_from(end);
		size_ = std::max(end, start_);
	}
	resize(start);
}

void
TableJournal::append(const std::vector<Bytes> &ops) {
	rows_.append(size_, ops);
	for (size_t i = 0; i < ops.size(); i++)
		if (is_commit(ops[i]))
			committed_end_ = size_ + i + 1;
	size_ += ops.size();
}

void
TableJournal::scan_commits(uint64_t from) {
	committed_end_ = from;
	for (uint64_t at = from; at < size_; at += 1024) {
		uint64_t to = std::min(size_, at + 1024);
		std::vector<Bytes> ops = rows_.read(at, to);
		for (size_t i = 0; i < ops.size(); i++)
			if (is_commit(ops[i]))
				committed_end_ = at + i + 1;
	}
}

void
TableJournal::resize(uint64_t loc) {
	if (size_ <= loc) {
		clear_to(loc);
	} else if (loc > start_) {
		forget_read_ahead();
		rows_.drop_below(loc);
		start_ = loc;
	}
}

Bytes
TableJournal::read(uint64_t loc) const {
	if (loc < ahead_start_ || loc >= ahead_start_ + ahead_.size()) {
		if (loc < start_ || loc >= size_)
			throw Error(ErrorCode::OutOfRange, "journal has no operation at " + std::to_string(loc));
		// A short run: operations may be large (variable-length values).
		ahead_ = rows_.read(loc, std::min(size_, loc + 256));
		ahead_start_ = loc;
	}
	return ahead_[loc - ahead_start_];
}

} // namespace qmdb::pg
