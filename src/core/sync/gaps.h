// Finding the next range of operations nobody has fetched or asked for.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace qmdb::sync {

// A half-open range [start, end) of locations.
struct LocRange {
	uint64_t start = 0;
	uint64_t end = 0;
	bool operator==(const LocRange &o) const { return start == o.start && end == o.end; }
};

// The first gap in `range` not covered by `fetched` (start, count) or by
// `outstanding` [start, end) requests.
//
// Invariants: both lists are sorted by start; outstanding ranges are maximal
// (a source may return fewer operations, and the rest becomes a later gap).
// On equal starts a fetched interval is taken before an outstanding one.
std::optional<LocRange> find_next(LocRange range, const std::vector<std::pair<uint64_t, uint64_t>> &fetched,
                                  const std::vector<LocRange> &outstanding);

} // namespace qmdb::sync
