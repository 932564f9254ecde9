// A set of byte strings within a memory budget: the state rebuild after a
// sync walks the journal backwards and keeps the first (that is, the last
// written) operation of each key, asking this set whether a key was seen.
//
// Open addressing over one array of slots (a 32-bit offset into an arena
// of the keys' bytes and a 32-bit tag of the hash, which alone places the
// slot, so growing never rereads the keys); the arena grows a block
// at a time, so a million 32-byte keys take about 52 MiB. The hash is seeded per process: keys come from
// peers' data, and a fixed hash would let crafted keys collide on purpose.
#pragma once

#include "bytes.h"

#include <memory>
#include <vector>

namespace qmdb {

class KeySet {
public:
	// Memory for slots and keys together stays within `budget_bytes`
	// (at most 3 GiB: offsets are 32-bit).
	explicit KeySet(size_t budget_bytes);

	enum class Insert { Added, Present, Full };
	// Full: adding the key would exceed the budget; the set is unchanged.
	Insert insert(ByteView key);

	size_t size() const { return count_; }
	size_t memory() const { return slots_.size() * sizeof(uint64_t) + blocks_.size() * BLOCK; }

private:
	static constexpr size_t BLOCK = size_t(64) << 10; // keys are at most a few KiB
	uint64_t hash(ByteView key) const;
	// The slot a tag hashes to: its top bits scaled to the table (so the
	// tag's other bits still tell apart keys that share a home).
	size_t home(uint32_t tag) const { return static_cast<size_t>((uint64_t(tag) * slots_.size()) >> 32); }
	ByteView stored(uint64_t slot) const;
	bool grow();

	size_t budget_;
	uint64_t seed_;
	std::vector<uint64_t> slots_; // 0: empty; else (arena offset + 1) << 32 | tag
	// The arena: each key as a 4-byte length, then its bytes, never across
	// blocks. Offset o is byte o % BLOCK of block o / BLOCK.
	std::vector<std::unique_ptr<uint8_t[]>> blocks_;
	size_t used_ = 0; // bytes used in the last block
	size_t count_ = 0;
};

} // namespace qmdb
