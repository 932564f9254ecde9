#include "mmr.h"

#include <algorithm>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

std::optional<uint64_t>
position_to_location(uint64_t pos) {
	if (pos > MAX_NODES)
		return std::nullopt;
	// location_to_position is strictly increasing, so binary search for the
	// largest n with position(n) <= pos and check it is exact.
	uint64_t lo = 0, hi = std::min(pos / 2 + 64, MAX_LEAVES + 1);
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;
		if (location_to_position(mid) <= pos)
			lo = mid;
		else
			hi = mid - 1;
	}
	if (location_to_position(lo) == pos && pos_to_height(pos) == 0)
		return lo;
	return std::nullopt;
}

uint32_t
pos_to_height(uint64_t pos) {
	if (pos == 0)
		return 0;
	uint64_t size = ~uint64_t(0) >> __builtin_clzll(pos);
	while (size != 0) {
		if (pos >= size)
			pos -= size;
		size >>= 1;
	}
	return static_cast<uint32_t>(pos);
}

std::vector<Peak>
peaks(uint64_t size) {
	std::vector<Peak> out;
	if (size == 0)
		return out;
	// Walk down from the smallest perfect tree that contains `size` nodes,
	// taking every full subtree that fits (spec §1.2, PeakIterator).
	uint64_t start = ~uint64_t(0) >> __builtin_clzll(size);
	uint32_t bits = static_cast<uint32_t>(64 - __builtin_clzll(start));
	uint64_t two_h = uint64_t(1) << bits;
	uint64_t node = start - 1;
	while (two_h > 1) {
		if (node < size) {
			out.push_back({node, static_cast<uint32_t>(63 - __builtin_clzll(two_h)) - 1});
			node += two_h - 1;
		} else {
			two_h >>= 1;
			node -= two_h;
		}
	}
	return out;
}

bool
is_valid_size(uint64_t size) {
	if (size > MAX_NODES)
		return false;
	// Valid iff the peaks have strictly decreasing heights and cover exactly `size` nodes.
	uint64_t covered = 0;
	uint32_t last = UINT32_MAX;
	for (const Peak &p : peaks(size)) {
		if (p.height >= last)
			return false;
		last = p.height;
		covered += (uint64_t(2) << p.height) - 1;
	}
	return covered == size;
}

uint64_t
to_nearest_size(uint64_t size) {
	if (size > MAX_NODES)
		size = MAX_NODES;
	uint64_t lo = 0, hi = std::min(size / 2 + 64, MAX_LEAVES + 1);
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo + 1) / 2;
		if (location_to_position(mid) <= size)
			lo = mid;
		else
			hi = mid - 1;
	}
	return location_to_position(lo);
}

uint64_t
inactive_peaks(uint64_t leaves, uint64_t floor) {
	uint64_t count = 0, cap = 0;
	for (const Peak &p : peaks(location_to_position(leaves))) {
		cap += uint64_t(1) << p.height;
		if (cap > floor)
			break;
		count++;
	}
	return count;
}

std::vector<uint64_t>
nodes_to_pin(uint64_t prune_loc) {
	std::vector<uint64_t> out;
	for (const Peak &p : peaks(location_to_position(prune_loc)))
		out.push_back(p.pos);
	return out;
}

} // namespace qmdb
