// The engine's outstanding requests: monotonically increasing ids, at most
// one request per start location (a new one supersedes the old), and
// cancellation of everything before a location after a target update.
#pragma once

#include "../wire.h"
#include "gaps.h"

#include <map>
#include <optional>
#include <vector>

namespace qmdb::sync {

class Requests {
public:
	// Track `request` under a new id, superseding (and reporting as
	// cancelled) any request with the same start.
	uint64_t insert(const Request &request);
	// The request if `id` is still tracked; a stale id gives nullopt.
	std::optional<Request> remove(uint64_t id);
	// The request if `id` is still tracked (it stays tracked).
	const Request *find(uint64_t id) const {
		auto it = tracked_.find(id);
		return it == tracked_.end() ? nullptr : &it->second;
	}
	// Untrack every request with start < loc.
	void remove_before(uint64_t loc);

	bool has_start(uint64_t start) const { return by_location_.count(start) != 0; }
	size_t size() const { return tracked_.size(); }
	bool empty() const { return tracked_.empty(); }
	// [start, start + max_ops) of every tracked request, ascending.
	std::vector<LocRange> ranges() const;
	uint64_t outstanding_ops() const;
	// Ids untracked by supersede or remove_before since the last call: the
	// source should stop working on them.
	std::vector<uint64_t> take_cancelled();

private:
	uint64_t next_id_ = 1;
	std::map<uint64_t, Request> tracked_;
	std::map<uint64_t, uint64_t> by_location_; // start -> id
	std::vector<uint64_t> cancelled_;
};

} // namespace qmdb::sync
