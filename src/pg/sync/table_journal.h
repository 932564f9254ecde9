// The sync engine's journal in qmdb.journal, for a database being synced.
// Its bounds live in qmdb.sync_jobs and are written in the same
// transaction as the rows, so a crash never leaves them disagreeing.
#pragma once

#include "../store/journal_table.h"

#include "core/sync/journal.h"

namespace qmdb::pg {

class TableJournal : public sync::Journal {
public:
	TableJournal(int32 db_id, const OpFormat &format, uint64_t start, uint64_t size)
	    : rows_(db_id, format), commit_tag_(op_tag(format.kind, OpKind::CommitFloor)), start_(start), size_(size) {}

	void attach(Spi &spi) { rows_.attach(spi); }
	// Upstream's reuse rules for [start, end): keep rows inside, drop the rest.
	void open(uint64_t start, uint64_t end);

	uint64_t size() const override { return size_; }
	uint64_t start() const override { return start_; }
	void append(const std::vector<Bytes> &ops) override;
	void resize(uint64_t loc) override;
	void sync() override {} // the worker's commit makes appends durable
	Bytes read(uint64_t loc) const override;

	// The end (last location + 1) of the newest commit operation in
	// [from, size()), or `from` when there is none: how far a replica may
	// publish. Appends keep it current; scan() finds it after a restart.
	uint64_t committed_end() const { return committed_end_; }
	void scan_commits(uint64_t from);

private:
	void clear_to(uint64_t loc);
	void forget_read_ahead() { ahead_.clear(); }
	bool is_commit(const Bytes &op) const { return !op.empty() && op[0] == commit_tag_; }

	JournalTable rows_;
	uint8_t commit_tag_; // an operation's first byte is its tag in either encoding
	uint64_t start_, size_;
	uint64_t committed_end_ = 0;
	// read() fetches a run of operations at a time: after a restart the
	// engine re-hashes the kept journal one location after another.
	mutable uint64_t ahead_start_ = 0;
	mutable std::vector<Bytes> ahead_;
};

} // namespace qmdb::pg
