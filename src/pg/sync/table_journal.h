// The sync engine's journal in qmdb.journal, for a database being synced.
// Its bounds live in qmdb.sync_jobs and are written in the same
// transaction as the rows, so a crash never leaves them disagreeing.
#pragma once

#include "../spi.h"

#include "core/sync/journal.h"

namespace qmdb::pg {

class TableJournal : public sync::Journal {
public:
	TableJournal(int32 db_id, uint64_t start, uint64_t size) : db_id_(db_id), start_(start), size_(size) {}

	void attach(Spi &spi) { spi_ = &spi; }
	// Upstream's reuse rules for [start, end): keep rows inside, drop the rest.
	void open(uint64_t start, uint64_t end);

	uint64_t size() const override { return size_; }
	uint64_t start() const override { return start_; }
	void append(const std::vector<Bytes> &ops) override;
	void resize(uint64_t loc) override;
	void sync() override {} // the worker's commit makes appends durable
	Bytes read(uint64_t loc) const override;
	std::vector<Bytes> read_range(uint64_t start, uint64_t end) const;

private:
	void clear_to(uint64_t loc);
	void forget_read_ahead() { ahead_.clear(); }

	int32 db_id_;
	Spi *spi_ = nullptr;
	uint64_t start_, size_;
	// read() fetches a run of rows at a time: after a restart the engine
	// re-hashes the kept journal one location after another.
	mutable uint64_t ahead_start_ = 0;
	mutable std::vector<Bytes> ahead_;
};

} // namespace qmdb::pg
