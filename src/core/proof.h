// Range proofs over the MMR (spec §2): the blueprint shared by prover and
// verifier, proof construction from a NodeStore, range verification (with or
// without the authenticated digests), and the boundary check of pinned nodes.
#pragma once

#include "codec.h"
#include "hash.h"
#include "node_store.h"

#include <optional>
#include <utility>
#include <vector>

namespace qmdb {

// 61 path siblings + 61 peaks: the most digests one element can need.
constexpr size_t MAX_PROOF_DIGESTS_PER_ELEMENT = 122;

struct Proof {
	uint64_t leaves = 0;         // size (in leaves) of the tree the proof is against
	uint64_t inactive_peaks = 0; // k, hashed into the root
	std::vector<Digest> digests;

	bool operator==(const Proof &o) const {
		return leaves == o.leaves && inactive_peaks == o.inactive_peaks && digests == o.digests;
	}
};

void encode_proof(const Proof &proof, Writer &w);
Proof decode_proof(Reader &r, size_t max_digests);

// A perfect subtree: its root position, height, and first leaf.
struct Subtree {
	uint64_t pos;
	uint32_t height;
	uint64_t leaf_start;
	uint64_t leaf_end() const { return leaf_start + (uint64_t(1) << height); }
	Subtree left() const { return {pos - (uint64_t(1) << height), height - 1, leaf_start}; }
	Subtree right() const { return {pos - 1, height - 1, leaf_start + (uint64_t(1) << (height - 1))}; }
};

// How each peak of a `leaves`-leaf tree relates to the range [start, end).
struct Blueprint {
	std::vector<Subtree> fold_prefix;         // before the range, folded into one digest
	std::vector<Subtree> prefix_active_peaks; // before the range, sent one by one
	std::vector<uint64_t> after_peaks;        // after the range, sent one by one
	std::vector<uint64_t> suffix_peaks;       // after the range, backward-folded into one digest
	std::vector<Subtree> range_peaks;         // overlapping the range
	std::vector<uint64_t> fetch_nodes;        // prefix-active ++ after ++ DFS siblings

	// Throws Error(InvalidProof) for an empty range, one beyond `leaves`, or k > peaks.
	Blueprint(uint64_t leaves, uint64_t k, Bagging bagging, uint64_t start, uint64_t end);
};

// Build the proof of [start, end) against the tree of `leaves` leaves, reading
// nodes from `store` (Error(Pruned) if one is missing).
Proof build_proof(Hasher &hasher, NodeStore &store, uint64_t leaves, uint64_t k, uint64_t start, uint64_t end);

using PositionedDigests = std::vector<std::pair<uint64_t, Digest>>;

// The root the proof and elements imply, or nullopt if the proof is malformed
// for them. With `collected`, also every (position, digest) it authenticated.
std::optional<Digest> reconstruct_root(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements,
                                       uint64_t start, PositionedDigests *collected = nullptr);

bool verify_range_inclusion(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements, uint64_t start,
                            const Digest &root);

// As verify_range_inclusion; on success fills `collected` (leaves included)
// so a caller can store authenticated digests without hashing them again.
bool verify_range_inclusion_and_extract_digests(Hasher &hasher, const Proof &proof,
                                                const std::vector<ByteView> &elements, uint64_t start,
                                                const Digest &root, PositionedDigests &collected);

// The boundary check: the range verifies and `pins` (the digests at
// nodes_to_pin(start), in that order) are exactly the prefix the proof commits to.
bool verify_proof_and_pinned_nodes(Hasher &hasher, const Proof &proof, const std::vector<ByteView> &elements,
                                   uint64_t start, const std::vector<Digest> &pins, const Digest &root);

} // namespace qmdb
