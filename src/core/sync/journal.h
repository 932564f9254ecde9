// The operation journal a sync writes into. The engine appends verified,
// contiguous operations; the storage behind it (memory in tests, tables in
// PostgreSQL) decides how they are kept.
#pragma once

#include "../bytes.h"

#include <vector>

namespace qmdb::sync {

class Journal {
public:
	virtual ~Journal() = default;
	// The next location to fill (counts pruned locations too).
	virtual uint64_t size() const = 0;
	// The first location still held.
	virtual uint64_t start() const = 0;
	// Append encoded operations at size().
	virtual void append(const std::vector<Bytes> &ops) = 0;
	// If size() <= loc: clear to an empty journal whose next location is loc;
	// otherwise drop the operations before loc.
	virtual void resize(uint64_t loc) = 0;
	// Make everything appended durable.
	virtual void sync() = 0;
	// The operation at loc, start() <= loc < size().
	virtual Bytes read(uint64_t loc) const = 0;
};

// A journal in memory. open() applies upstream's reuse rules for a range.
class MemoryJournal : public Journal {
public:
	MemoryJournal() = default;

	// Reuse what `existing` holds inside [start, end), discard the rest:
	// pruned past start -> cleared to start; beyond end -> rewound to end;
	// then cleared to start if nothing reaches it, else pruned to start.
	static MemoryJournal open(MemoryJournal existing, uint64_t start, uint64_t end);

	uint64_t size() const override { return start_ + ops_.size(); }
	uint64_t start() const override { return start_; }
	void append(const std::vector<Bytes> &ops) override;
	void resize(uint64_t loc) override;
	void sync() override { syncs_++; }
	Bytes read(uint64_t loc) const override;

	// Test helpers.
	void clear_to(uint64_t loc) {
		ops_.clear();
		start_ = loc;
	}
	void rewind(uint64_t loc);
	size_t syncs() const { return syncs_; }

private:
	uint64_t start_ = 0;
	std::vector<Bytes> ops_;
	size_t syncs_ = 0;
};

} // namespace qmdb::sync
