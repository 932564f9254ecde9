#include "writer.h"

#include <algorithm>
#include <utility>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

void
check_batch(const OpFormat &format, const Mutations &mutations, const std::optional<Bytes> &metadata) {
	for (const auto &m : mutations) {
		format.check_key(m.first);
		if (m.second)
			format.check_value(*m.second);
	}
	if (metadata)
		format.check_value(*metadata, "metadata");
}

void
check_batch(const OpFormat &format, const std::vector<Bytes> &values, const std::optional<Bytes> &metadata) {
	for (const Bytes &v : values)
		format.check_value(v);
	if (metadata)
		format.check_value(*metadata, "metadata");
}

Batch
merkleize_batch(WriterState &state, const Mutations &mutations, const std::optional<Bytes> &metadata) {
	Batch b;
	b.base = state.size();
	int64_t delta_active = 0;
	auto next_loc = [&] { return b.base + b.ops.size(); };

	// Phase 1: updates and deletes of live keys, by ascending current location.
	std::vector<std::pair<uint64_t, const Bytes *>> existing;
	for (const auto &m : mutations)
		if (auto loc = state.location_of(m.first))
			existing.emplace_back(*loc, &m.first);
	std::sort(existing.begin(), existing.end());
	for (const auto &e : existing) {
		const std::optional<Bytes> &v = mutations.at(*e.second);
		if (v) {
			b.diff[*e.second] = next_loc();
			b.ops.push_back(Operation::update(*e.second, *v));
		} else {
			b.diff[*e.second] = std::nullopt;
			b.ops.push_back(Operation::remove(*e.second));
			delta_active--;
		}
		b.user_steps++; // deletes count as steps too (batch.rs emit closure)
	}

	// Phase 2: creates, ascending by key (std::map order). A delete of a key
	// that is not live produces nothing.
	for (const auto &m : mutations) {
		if (!m.second || b.diff.count(m.first))
			continue;
		b.diff[m.first] = next_loc();
		b.ops.push_back(Operation::update(m.first, *m.second));
		delta_active++;
	}

	raise_floor_and_commit(state, b, metadata);
	b.active_keys = static_cast<uint64_t>(static_cast<int64_t>(state.active_keys()) + delta_active);
	return b;
}

void
raise_floor_and_commit(WriterState &state, Batch &b, const std::optional<Bytes> &metadata) {
	auto next_loc = [&] { return b.base + b.ops.size(); };
	// Phase 3: raise the floor by user_steps + 1 moves ("+1" for the previous
	// commit becoming inactive), scanning up from the current floor. Only the
	// ops that exist before the moves are scanned (fixed_tip).
	uint64_t total_steps = b.user_steps + 1;
	uint64_t fixed_tip = next_loc();
	uint64_t floor = state.floor();
	for (uint64_t loc = floor; b.moves < total_steps && loc < fixed_tip; loc++) {
		floor = loc + 1;
		Operation op = loc < b.base ? state.read(loc) : b.ops[loc - b.base];
		if (op.kind != OpKind::Update)
			continue;
		auto d = b.diff.find(op.key);
		bool active = d != b.diff.end() ? d->second == loc : state.location_of(op.key) == loc;
		if (!active)
			continue;
		b.diff[op.key] = next_loc();
		b.ops.push_back(std::move(op));
		b.moves++;
	}

	// Phase 4: the commit, which declares the new floor.
	b.floor = floor;
	b.ops.push_back(Operation::commit(metadata, floor));
}

} // namespace qmdb
