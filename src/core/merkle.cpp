#include "merkle.h"

#include "error.h"

#include <string>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

Digest
root_with_folded_peaks(Hasher &hasher, uint64_t leaves, uint64_t to_fold, uint64_t committed,
                       const std::vector<Digest> &list) {
	if (list.empty()) {
		if (committed != 0 || to_fold != 0)
			throw Error(ErrorCode::InvalidProof, "inactive peaks on an empty tree");
		if (leaves != 0)
			throw Error(ErrorCode::InvalidProof, "no peaks for a non-empty tree");
		return hasher.empty_root();
	}
	if (to_fold > list.size())
		throw Error(ErrorCode::InvalidProof,
		            "inactive peaks " + std::to_string(to_fold) + " exceed " + std::to_string(list.size()) + " peaks");
	Digest acc = list[0];
	for (uint64_t i = 1; i < to_fold; i++)
		acc = hasher.fold(acc, list[i]);
	size_t rest = to_fold > 1 ? to_fold : 1;
	Digest folded;
	if (hasher.bagging() == Bagging::ForwardFold) {
		for (size_t i = rest; i < list.size(); i++)
			acc = hasher.fold(acc, list[i]);
		folded = acc;
	} else {
		// Backward: right-deep over [acc, list[rest..]].
		if (rest >= list.size()) {
			folded = acc;
		} else {
			folded = list.back();
			for (size_t i = list.size() - 1; i-- > rest;)
				folded = hasher.fold(list[i], folded);
			folded = hasher.fold(acc, folded);
		}
	}
	return hasher.root_from_folded(leaves, committed, folded);
}

Mmr::Mmr(NodeStore &store, uint64_t leaves) : leaves_(leaves) {
	for (const Peak &p : peaks(location_to_position(leaves))) {
		auto d = store.get(p.pos);
		if (!d)
			throw Error(ErrorCode::Pruned, "peak at position " + std::to_string(p.pos) + " is not stored");
		peaks_.push_back(*d);
	}
}

Mmr::Mmr(uint64_t leaves, std::vector<Digest> peak_digests) : leaves_(leaves), peaks_(std::move(peak_digests)) {
	if (peaks_.size() != peaks(location_to_position(leaves)).size())
		throw Error(ErrorCode::InvalidArgument, "wrong number of peaks for " + std::to_string(leaves) + " leaves");
}

uint64_t
Mmr::append(Hasher &hasher, NodeStore &store, ByteView element) {
	return append_leaf_digest(hasher, store, hasher.leaf(size(), element));
}

uint64_t
Mmr::append_leaf_digest(Hasher &hasher, NodeStore &store, const Digest &leaf, const KnownParent *known) {
	uint64_t loc = leaves_;
	if (loc >= MAX_LEAVES)
		throw Error(ErrorCode::OutOfRange, "MMR is full");
	uint64_t pos = size();
	store.put(pos, leaf);
	peaks_.push_back(leaf);
	// Each trailing one bit of `loc` closes a perfect subtree: merge the two
	// newest peaks into their parent.
	// The parent of height h covers the 2^h leaves ending at loc.
	for (uint32_t h = 1, merges = parents_after_leaf(loc); h <= merges; h++) {
		pos++;
		Digest right = peaks_.back();
		peaks_.pop_back();
		const Digest *given = known ? (*known)(pos, loc + 1 - (uint64_t(1) << h)) : nullptr;
		Digest parent = given ? *given : hasher.node(pos, peaks_.back(), right);
		peaks_.back() = parent;
		store.put(pos, parent);
	}
	leaves_ = loc + 1;
	return loc;
}

Digest
Mmr::root(Hasher &hasher, uint64_t inactive_peaks) const {
	if (peaks_.empty()) {
		if (inactive_peaks != 0)
			throw Error(ErrorCode::InvalidProof, "inactive peaks on an empty tree");
		return hasher.empty_root();
	}
	return root_from_peaks(hasher, leaves_, inactive_peaks, peaks_);
}

} // namespace qmdb
