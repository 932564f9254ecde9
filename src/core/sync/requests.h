// The engine's outstanding requests: monotonically increasing ids, at most
// one request per start location (a new one supersedes the old), the root
// each was issued with (its answer is checked against that root, whatever
// the target is by then), and cancellation after a target update.
#pragma once

#include "../wire.h"
#include "gaps.h"

#include <map>
#include <optional>
#include <vector>

namespace qmdb::sync {

class Requests {
public:
	// Track `request`, issued against the tree whose root is `root`, under a
	// new id, superseding (and reporting as cancelled) any request with the
	// same start.
	uint64_t insert(const Request &request, const Digest &root = Digest{});
	// The request if `id` is still tracked; a stale id gives nullopt.
	std::optional<Request> remove(uint64_t id);
	// The request if `id` is still tracked (it stays tracked).
	const Request *find(uint64_t id) const {
		auto it = tracked_.find(id);
		return it == tracked_.end() ? nullptr : &it->second;
	}
	// The root request `id` was issued with, or nullptr for a stale id.
	const Digest *root_of(uint64_t id) const {
		auto it = roots_.find(id);
		return it == roots_.end() ? nullptr : &it->second;
	}
	// Untrack every request with start < loc.
	void remove_before(uint64_t loc);
	// Untrack (as cancelled) the request at `start`, if it is of `kind`.
	void remove_at(uint64_t start, RequestKind kind);

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
	std::map<uint64_t, Digest> roots_;         // id -> the root it was issued with
	std::map<uint64_t, uint64_t> by_location_; // start -> id
	std::vector<uint64_t> cancelled_;
};

} // namespace qmdb::sync
