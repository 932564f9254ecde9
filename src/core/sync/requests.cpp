#include "requests.h"

#include "../core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb::sync {

uint64_t
Requests::insert(const Request &request, const Digest &root) {
	auto it = by_location_.find(request.start);
	if (it != by_location_.end()) {
		tracked_.erase(it->second);
		roots_.erase(it->second);
		cancelled_.push_back(it->second);
	}
	uint64_t id = next_id_++;
	tracked_[id] = request;
	roots_[id] = root;
	by_location_[request.start] = id;
	return id;
}

std::optional<Request>
Requests::remove(uint64_t id) {
	auto it = tracked_.find(id);
	if (it == tracked_.end())
		return std::nullopt;
	Request r = it->second;
	tracked_.erase(it);
	roots_.erase(id);
	auto loc = by_location_.find(r.start);
	if (loc != by_location_.end() && loc->second == id)
		by_location_.erase(loc);
	return r;
}

void
Requests::remove_before(uint64_t loc) {
	for (auto it = by_location_.begin(); it != by_location_.end() && it->first < loc;) {
		tracked_.erase(it->second);
		roots_.erase(it->second);
		cancelled_.push_back(it->second);
		it = by_location_.erase(it);
	}
}

void
Requests::remove_at(uint64_t start, RequestKind kind) {
	auto it = by_location_.find(start);
	if (it == by_location_.end() || tracked_.at(it->second).kind != kind)
		return;
	tracked_.erase(it->second);
	roots_.erase(it->second);
	cancelled_.push_back(it->second);
	by_location_.erase(it);
}

std::vector<LocRange>
Requests::ranges() const {
	std::vector<LocRange> out;
	for (const auto &e : by_location_) {
		const Request &r = tracked_.at(e.second);
		out.push_back({r.start, r.start + r.max_ops});
	}
	return out;
}

uint64_t
Requests::outstanding_ops() const {
	uint64_t n = 0;
	for (const auto &e : tracked_)
		n += e.second.max_ops;
	return n;
}

std::vector<uint64_t>
Requests::take_cancelled() {
	std::vector<uint64_t> out;
	out.swap(cancelled_);
	return out;
}

} // namespace qmdb::sync
