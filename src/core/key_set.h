// A set of byte strings within a memory budget: the state rebuild after a
// sync walks the journal backwards and keeps the first (that is, the last
// written) operation of each key, asking this set whether a key was seen.
// Each key may carry a fixed-size payload (the rebuild keeps where the
// key's row went), and the set can end by handing out its keys in order
// (the rebuild writes the primary key's index from them).
//
// Open addressing over one array of slots (a 32-bit offset into an arena
// of the keys' bytes and a 32-bit tag of the hash, which alone places the
// slot, so growing never rereads the keys); the arena grows a block
// at a time, so a million 32-byte keys take about 52 MiB. The hash is seeded per process: keys come from
// peers' data, and a fixed hash would let crafted keys collide on purpose.
#pragma once

#include "big_memory.h"
#include "bytes.h"

#include <functional>
#include <memory>
#include <vector>

namespace qmdb {

class KeySet {
public:
	// Memory for slots, keys and payloads together stays within
	// `budget_bytes` (at most 3 GiB: offsets are 32-bit). Every key gets
	// `payload_bytes` of its own.
	explicit KeySet(size_t budget_bytes, size_t payload_bytes = 0);
	~KeySet();
	KeySet(const KeySet &) = delete;
	KeySet &operator=(const KeySet &) = delete;

	// Room for `keys` keys in the hash table up front (no rehash while they
	// come in), if that fits the budget; otherwise the table grows as usual.
	void reserve(size_t keys);

	// A hint that `key` comes soon: starts loading its slot (the table is
	// far bigger than the caches, so each lookup is otherwise a miss).
	void prefetch(ByteView key) const;

	enum class Insert { Added, Present, Full };
	// Full: adding the key would exceed the budget; the set is unchanged.
	// Added: *payload (if asked for) is the new key's payload, zeroed, for
	// the caller to fill; it stays put for the set's life.
	Insert insert(ByteView key, uint8_t **payload = nullptr);

	// Ends the set's use as a set (insert throws after it): calls `visit`
	// with every key and its payload in PostgreSQL's bytea order (bytewise,
	// a shorter key first where one is a prefix of the other). Sorts in
	// the set's own memory, a big set's two halves on two threads (a
	// quiet_thread; `visit` runs on the caller's thread only).
	void visit_sorted(const std::function<void(ByteView key, const uint8_t *payload)> &visit);

	// The most memory `keys` keys of `key_bytes` bytes together, none
	// longer than `longest`, can take (payloads included, every key
	// distinct, with or without reserve(keys)): a budget at least this
	// never makes insert() return Full for them.
	static size_t memory_for(size_t keys, size_t key_bytes, size_t longest, size_t payload_bytes);

	size_t size() const { return count_; }
	size_t memory() const { return slots_.size() * sizeof(uint64_t) + blocks_.size() * BLOCK; }

private:
	static constexpr size_t BLOCK = size_t(64) << 10; // keys are at most a few KiB
	// Blocks are cut from slabs of big_alloc'd memory, BIG_PAGE each.
	static constexpr size_t BLOCKS_PER_SLAB = BIG_PAGE / BLOCK;
	uint64_t hash(ByteView key) const;
	// The slot a tag hashes to: its top bits scaled to the table (so the
	// tag's other bits still tell apart keys that share a home).
	size_t home(uint32_t tag) const { return static_cast<size_t>((uint64_t(tag) * slots_.size()) >> 32); }
	ByteView stored(uint64_t slot) const { return at(static_cast<size_t>((slot >> 32) - 1)); }
	ByteView at(size_t offset) const;
	bool grow();
	uint8_t *new_block();
	void rehash(size_t slots);

	size_t budget_;
	size_t payload_;
	uint64_t seed_;
	bool sorted_ = false;
	std::vector<uint64_t, BigAllocator<uint64_t>> slots_; // 0: empty; else (arena offset + 1) << 32 | tag
	// The arena: each key as a 4-byte length, its bytes, then its payload,
	// never across blocks. Offset o is byte o % BLOCK of block o / BLOCK.
	std::vector<uint8_t *> blocks_;
	std::vector<uint8_t *> slabs_;
	std::vector<uint32_t> block_used_; // bytes used in each block but the last
	size_t used_ = 0;                  // bytes used in the last block
	size_t count_ = 0;
};

} // namespace qmdb
