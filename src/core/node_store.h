// Where MMR node digests live. The core reads and writes nodes only through
// this interface; the PostgreSQL layer backs it with a table, tests with memory.
#pragma once

#include "bytes.h"

#include <map>
#include <optional>
#include <vector>

namespace qmdb {

class NodeStore {
public:
	virtual ~NodeStore() = default;
	// The digest at `pos`, or nullopt when it is not stored (pruned, or beyond the tree).
	virtual std::optional<Digest> get(uint64_t pos) = 0;
	virtual void put(uint64_t pos, const Digest &digest) = 0;
	// Forget every node and start empty at `pos`, keeping only `pins` (the
	// digests at nodes_to_pin of a sync boundary).
	virtual void reset(uint64_t pos, const std::map<uint64_t, Digest> &pins) = 0;
	// Move the boundary up to `pos`, keeping every node at or above it and
	// taking `pins` (the digests at nodes_to_pin of the new boundary, read
	// from this store) as the pins: a sync whose lower bound moved within
	// what it holds.
	virtual void rebase(uint64_t pos, const std::map<uint64_t, Digest> &pins) = 0;
};

// Nodes in a vector from `pruned_to` on, plus the pins that survive pruning.
class MemoryNodeStore : public NodeStore {
public:
	std::optional<Digest> get(uint64_t pos) override;
	void put(uint64_t pos, const Digest &digest) override;

	uint64_t size() const { return start_ + nodes_.size(); }
	// Drop every node below `pos`, keeping the digests at `pins`.
	void prune(uint64_t pos, const std::vector<uint64_t> &pins);
	void reset(uint64_t pos, const std::map<uint64_t, Digest> &pins) override;
	void rebase(uint64_t pos, const std::map<uint64_t, Digest> &pins) override;

private:
	uint64_t start_ = 0;
	std::vector<Digest> nodes_;
	std::map<uint64_t, Digest> pinned_;
};

} // namespace qmdb
