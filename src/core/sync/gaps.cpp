#include "gaps.h"

#include "../core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb::sync {

std::optional<LocRange>
find_next(LocRange range, const std::vector<std::pair<uint64_t, uint64_t>> &fetched,
          const std::vector<LocRange> &outstanding) {
	if (range.start >= range.end)
		return std::nullopt;
	uint64_t next = range.start;
	size_t f = 0, o = 0;
	// Merge the two ascending streams.
	while (f < fetched.size() || o < outstanding.size()) {
		LocRange iv;
		if (o >= outstanding.size() || (f < fetched.size() && fetched[f].first <= outstanding[o].start)) {
			iv = {fetched[f].first, fetched[f].first + fetched[f].second};
			f++;
		} else {
			iv = outstanding[o++];
		}
		if (next < iv.start)
			return LocRange{next, std::min(iv.start, range.end)};
		if (iv.end > next)
			next = iv.end;
		if (next >= range.end)
			return std::nullopt;
	}
	return next < range.end ? std::optional<LocRange>(LocRange{next, range.end}) : std::nullopt;
}

} // namespace qmdb::sync
