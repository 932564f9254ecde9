// An append-only MMR over a NodeStore, and root computation (spec §1.3–§1.4).
//
// Appending needs only the current peaks, so the tree keeps those in memory
// and writes every new node to the store for later proofs.
#pragma once

#include "hash.h"
#include "mmr.h"
#include "node_store.h"

#include <functional>
#include <vector>

namespace qmdb {

// Parent digests already known to a caller (computed while verifying a
// proof, say): given a parent's position and the location of its first
// leaf (its last is the leaf being appended), the digest, or nullptr to
// have it hashed.
using KnownParent = std::function<const Digest *(uint64_t pos, uint64_t first_leaf)>;

// Root over `list` (peaks oldest first, possibly pre-folded entries): the
// first `to_fold` entries are forward-folded into one accumulator that heads
// the bagging; `committed` is the k written into the pre-image. Throws
// Error(InvalidProof) when to_fold exceeds the list or the list is empty with k > 0.
Digest root_with_folded_peaks(Hasher &hasher, uint64_t leaves, uint64_t to_fold, uint64_t committed,
                              const std::vector<Digest> &list);

// The root of a tree with `leaves` leaves and these peak digests, k inactive peaks.
inline Digest
root_from_peaks(Hasher &hasher, uint64_t leaves, uint64_t k, const std::vector<Digest> &peak_digests) {
	return root_with_folded_peaks(hasher, leaves, k, k, peak_digests);
}

// The frontier of an MMR: its leaf count and peak digests. A plain value;
// the nodes it creates go to the NodeStore passed to append.
class Mmr {
public:
	// An empty tree.
	Mmr() = default;
	// A tree of `leaves` leaves whose peaks are read from `store`
	// (throws Error(Pruned) if a peak is missing).
	Mmr(NodeStore &store, uint64_t leaves);
	// A tree of `leaves` leaves with these peaks (e.g. the pins of a sync
	// boundary, which are exactly the peaks of the tree at that location).
	Mmr(uint64_t leaves, std::vector<Digest> peaks);

	uint64_t leaves() const { return leaves_; }
	uint64_t size() const { return location_to_position(leaves_); }
	const std::vector<Digest> &peak_digests() const { return peaks_; }

	// Append one element (its leaf digest is computed here); returns its location.
	uint64_t append(Hasher &hasher, NodeStore &store, ByteView element);
	// Append a leaf whose digest is already known (e.g. authenticated by a
	// proof), and with `known`, parents whose digests are too.
	uint64_t append_leaf_digest(Hasher &hasher, NodeStore &store, const Digest &leaf,
	                            const KnownParent *known = nullptr);

	Digest root(Hasher &hasher, uint64_t inactive_peaks) const;

private:
	uint64_t leaves_ = 0;
	std::vector<Digest> peaks_;
};

} // namespace qmdb
