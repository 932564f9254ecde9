#include "table_journal.h"

#include "../store/bulk_insert.h"

namespace qmdb::pg {

void
TableJournal::clear_to(uint64_t loc) {
	forget_read_ahead();
	spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1", {int4_param(db_id_)});
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
		spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1 AND loc >= $2",
		           {int4_param(db_id_), int8_param(static_cast<int64>(end))});
		size_ = std::max(end, start_);
	}
	resize(start);
}

void
TableJournal::append(const std::vector<Bytes> &ops) {
	insert_numbered_rows("journal", db_id_, size_, ops);
	size_ += ops.size();
}

void
TableJournal::resize(uint64_t loc) {
	if (size_ <= loc) {
		clear_to(loc);
	} else if (loc > start_) {
		forget_read_ahead();
		spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1 AND loc < $2",
		           {int4_param(db_id_), int8_param(static_cast<int64>(loc))});
		start_ = loc;
	}
}

Bytes
TableJournal::read(uint64_t loc) const {
	if (loc < ahead_start_ || loc >= ahead_start_ + ahead_.size()) {
		if (loc < start_ || loc >= size_)
			throw Error(ErrorCode::OutOfRange, "journal has no operation at " + std::to_string(loc));
		// A short run: operations may be large (variable-length values).
		ahead_ = read_range(loc, std::min(size_, loc + 256));
		ahead_start_ = loc;
	}
	return ahead_[loc - ahead_start_];
}

std::vector<Bytes>
TableJournal::read_range(uint64_t start, uint64_t end) const {
	uint64 n =
	    spi_->exec("SELECT op FROM qmdb.journal WHERE db_id = $1 AND loc >= $2 AND loc < $3 ORDER BY loc",
	               {int4_param(db_id_), int8_param(static_cast<int64>(start)), int8_param(static_cast<int64>(end))});
	if (n != end - start)
		throw Error(ErrorCode::DataCorrupted,
		            "journal rows missing in [" + std::to_string(start) + ", " + std::to_string(end) + ")");
	std::vector<Bytes> out;
	for (uint64 i = 0; i < n; i++)
		out.push_back(spi_->bytes(i, 0));
	return out;
}

} // namespace qmdb::pg
