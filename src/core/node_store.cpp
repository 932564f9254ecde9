#include "node_store.h"

#include "error.h"

#include <string>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

std::optional<Digest>
MemoryNodeStore::get(uint64_t pos) {
	if (pos >= start_ && pos < size())
		return nodes_[pos - start_];
	auto it = pinned_.find(pos);
	if (it != pinned_.end())
		return it->second;
	return std::nullopt;
}

void
MemoryNodeStore::put(uint64_t pos, const Digest &digest) {
	// Nodes are append-only: the next position, or a rewrite of an existing one.
	if (pos == size()) {
		nodes_.push_back(digest);
	} else if (pos >= start_ && pos < size()) {
		nodes_[pos - start_] = digest;
	} else {
		throw Error(ErrorCode::Internal, "node store append out of order at position " + std::to_string(pos));
	}
}

void
MemoryNodeStore::prune(uint64_t pos, const std::vector<uint64_t> &pins) {
	if (pos <= start_)
		return;
	if (pos > size())
		throw Error(ErrorCode::OutOfRange, "cannot prune beyond the stored nodes");
	for (uint64_t p : pins) {
		auto d = get(p);
		if (!d)
			throw Error(ErrorCode::Internal, "pin " + std::to_string(p) + " is not stored");
		pinned_[p] = *d;
	}
	nodes_.erase(nodes_.begin(), nodes_.begin() + static_cast<std::ptrdiff_t>(pos - start_));
	start_ = pos;
	// Pins at or above the new start are in `nodes_` already.
	for (auto it = pinned_.begin(); it != pinned_.end();)
		it = it->first >= start_ ? pinned_.erase(it) : std::next(it);
}

void
MemoryNodeStore::rebase(uint64_t pos, const std::map<uint64_t, Digest> &pins) {
	if (pos > start_) {
		if (pos > size())
			throw Error(ErrorCode::OutOfRange, "cannot rebase beyond the stored nodes");
		nodes_.erase(nodes_.begin(), nodes_.begin() + static_cast<std::ptrdiff_t>(pos - start_));
		start_ = pos;
	}
	pinned_ = pins;
}

void
MemoryNodeStore::reset(uint64_t pos, const std::map<uint64_t, Digest> &pins) {
	start_ = pos;
	nodes_.clear();
	pinned_ = pins;
}

} // namespace qmdb
