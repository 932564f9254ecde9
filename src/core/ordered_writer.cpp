#include "ordered_writer.h"

#include <algorithm>
#include <map>
#include <set>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

namespace {

// The live keys after the batch, A' = (A \ D) ∪ C, navigated without
// materialising A: the committed keys come from the state, skipping the
// deleted ones, and the created keys from the batch.
class Neighbours {
public:
	Neighbours(OrderedWriterState &state, const Mutations &mutations, const std::vector<const Bytes *> &created)
	    : state_(state), mutations_(mutations), created_(created) {}

	// succ(k): the smallest key of A' greater than k, else the smallest of A'.
	Bytes next(const Bytes &k) {
		std::optional<Bytes> best = smaller(created_after(&k), surviving_after(&k));
		if (!best)
			best = smaller(created_after(nullptr), surviving_after(nullptr));
		if (!best)
			throw Error(ErrorCode::Internal, "ordered writer: no live key to point at");
		return *best;
	}
	// pred(k): the largest key of A \ D less than k, else the largest of A \ D.
	std::optional<Bytes> previous(const Bytes &k) {
		std::optional<Bytes> p = surviving_before(&k);
		return p ? p : surviving_before(nullptr);
	}
	bool any_survivor() { return surviving_after(nullptr).has_value(); }

private:
	bool deleted(const Bytes &key) const {
		auto it = mutations_.find(key);
		return it != mutations_.end() && !it->second; // a live key written None
	}
	// The first survivor after (before) *k. A walk over deleted keys
	// remembers, for each one it passed, where it ended: a run of deletes is
	// walked once, not once per key near it.
	std::optional<Bytes> surviving_after(const Bytes *k) { return surviving(k, true); }
	std::optional<Bytes> surviving_before(const Bytes *k) { return surviving(k, false); }
	std::optional<Bytes> surviving(const Bytes *k, bool after) {
		auto step = [&](const Bytes *from) {
			return after ? state_.live_key_after(from) : state_.live_key_before(from);
		};
		std::map<Bytes, std::optional<Bytes>> &memo = after ? after_ : before_;
		std::vector<Bytes> passed;
		std::optional<Bytes> x = step(k);
		while (x && deleted(*x)) {
			auto known = memo.find(*x);
			if (known != memo.end()) {
				x = known->second;
				break;
			}
			passed.push_back(*x);
			x = step(&passed.back());
		}
		for (Bytes &p : passed)
			memo[std::move(p)] = x;
		return x;
	}
	std::optional<Bytes> created_after(const Bytes *k) const {
		auto it = k ? std::upper_bound(created_.begin(), created_.end(), k,
		                               [](const Bytes *a, const Bytes *b) { return *a < *b; })
		            : created_.begin();
		return it == created_.end() ? std::nullopt : std::optional<Bytes>(**it);
	}
	static std::optional<Bytes> smaller(std::optional<Bytes> a, std::optional<Bytes> b) {
		if (!a)
			return b;
		if (!b)
			return a;
		return *a < *b ? a : b;
	}

	OrderedWriterState &state_;
	const Mutations &mutations_;
	const std::vector<const Bytes *> &created_;
	std::map<Bytes, std::optional<Bytes>> after_, before_; // deleted key -> first survivor past it
};

} // namespace

Batch
merkleize_ordered_batch(OrderedWriterState &state, const Mutations &mutations, const std::optional<Bytes> &metadata) {
	Batch b;
	b.base = state.size();
	auto next_loc = [&] { return b.base + b.ops.size(); };
	// D, U and C of the spec, each in key order (the map's).
	std::vector<const Bytes *> deleted, updated, created;
	for (const auto &m : mutations) {
		bool live = state.location_of(m.first).has_value();
		if (live)
			(m.second ? updated : deleted).push_back(&m.first);
		else if (m.second)
			created.push_back(&m.first); // a delete of a key that is not live produces nothing
	}
	Neighbours around(state, mutations, created);

	for (const Bytes *k : deleted) {
		b.diff[*k] = std::nullopt;
		b.ops.push_back(Operation::remove(*k));
		b.user_steps++;
	}
	for (const Bytes *k : updated) {
		b.diff[*k] = next_loc();
		b.ops.push_back(Operation::update(*k, *mutations.at(*k), around.next(*k)));
		b.user_steps++;
	}
	for (const Bytes *k : created) {
		b.diff[*k] = next_loc();
		b.ops.push_back(Operation::update(*k, *mutations.at(*k), around.next(*k)));
	}
	// The surviving predecessor of each created, then each deleted key now
	// points elsewhere: rewritten once, with its current value, unless the
	// batch updated it anyway.
	if (around.any_survivor()) {
		std::set<Bytes> rewritten;
		std::vector<const Bytes *> changed = created;
		changed.insert(changed.end(), deleted.begin(), deleted.end());
		for (const Bytes *k : changed) {
			std::optional<Bytes> p = around.previous(*k);
			if (!p)
				continue;
			auto m = mutations.find(*p);
			if ((m != mutations.end() && m->second) || rewritten.count(*p))
				continue;
			Bytes value = state.live_entry(*p).second;
			rewritten.insert(*p);
			b.diff[*p] = next_loc();
			b.ops.push_back(Operation::update(*p, std::move(value), around.next(*p)));
			b.user_steps++;
		}
	}
	raise_floor_and_commit(state, b, metadata);
	b.active_keys = state.active_keys() + created.size() - deleted.size();
	return b;
}

} // namespace qmdb
