// Merkle Mountain Range arithmetic (spec §1.1–§1.2, §1.5–§1.6): the mapping
// between leaf locations and node positions, heights, peaks, valid sizes,
// inactive peaks and the pins of a pruning boundary. No hashing here.
//
// A Location is a leaf index (and a leaf count); a Position is a node index
// in post-order (and a node count, "size").
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace qmdb {

constexpr uint64_t MAX_LEAVES = uint64_t(1) << 62;      // inclusive
constexpr uint64_t MAX_NODES = (uint64_t(1) << 63) - 1; // inclusive
constexpr size_t MAX_PINNED_NODES = 64;

struct Peak {
	uint64_t pos;
	uint32_t height;
	bool operator==(const Peak &o) const { return pos == o.pos && height == o.height; }
};

inline bool
location_is_valid(uint64_t loc) {
	return loc <= MAX_LEAVES;
}

// Position of leaf `loc`, which is also the size of an MMR with `loc` leaves.
inline uint64_t
location_to_position(uint64_t loc) {
	return 2 * loc - static_cast<uint64_t>(__builtin_popcountll(loc));
}

// The location of the leaf at `pos`, or nullopt when `pos` is not a leaf.
std::optional<uint64_t> position_to_location(uint64_t pos);

// Height of the node at `pos` (leaves are height 0).
uint32_t pos_to_height(uint64_t pos);

// Peaks of an MMR of `size` nodes, oldest (tallest) first.
std::vector<Peak> peaks(uint64_t size);

// Whether `size` nodes form a complete MMR (size = location_to_position(n) for some n).
bool is_valid_size(uint64_t size);

// Largest valid size <= `size`; used to recover a node journal cut by a crash.
uint64_t to_nearest_size(uint64_t size);

// Number of leading peaks all of whose leaves lie strictly below `floor`.
uint64_t inactive_peaks(uint64_t leaves, uint64_t floor);

// Positions whose digests must be kept after pruning everything before
// `prune_loc`: the peaks of the MMR with `prune_loc` leaves, oldest first.
std::vector<uint64_t> nodes_to_pin(uint64_t prune_loc);

// Number of parents appended after leaf `loc` (= trailing ones of loc).
inline uint32_t
parents_after_leaf(uint64_t loc) {
	return static_cast<uint32_t>(__builtin_ctzll(~loc));
}

} // namespace qmdb
