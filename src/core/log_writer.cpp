#include "log_writer.h"

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

namespace {

// Upstream's FloorRegressed and FloorBeyondSize.
void
commit_at(WriterState &state, Batch &b, const std::optional<Bytes> &metadata, uint64_t floor) {
	uint64_t commit_loc = b.base + b.ops.size();
	if (floor < state.floor())
		throw Error(ErrorCode::InvalidArgument, "floor " + std::to_string(floor) + " is below the database's floor " +
		                                            std::to_string(state.floor()));
	if (floor > commit_loc)
		throw Error(ErrorCode::InvalidArgument, "floor " + std::to_string(floor) + " is beyond the batch's commit at " +
		                                            std::to_string(commit_loc));
	b.floor = floor;
	b.ops.push_back(Operation::commit(metadata, floor));
}

} // namespace

Batch
append_batch(WriterState &state, const std::vector<Bytes> &values, const std::optional<Bytes> &metadata,
             uint64_t floor) {
	Batch b;
	b.base = state.size();
	for (const Bytes &v : values)
		b.ops.push_back(Operation::append(v));
	commit_at(state, b, metadata, floor);
	return b;
}

Batch
set_batch(WriterState &state, const Mutations &sets, const std::optional<Bytes> &metadata, uint64_t floor) {
	Batch b;
	b.base = state.size();
	uint64_t added = 0;
	for (const auto &s : sets) {
		if (!s.second)
			throw Error(ErrorCode::InvalidArgument, "an immutable database cannot delete a key");
		if (!state.location_of(s.first))
			added++;
		b.diff[s.first] = b.base + b.ops.size();
		b.ops.push_back(Operation::update(s.first, *s.second));
	}
	commit_at(state, b, metadata, floor);
	b.active_keys = state.active_keys() + added;
	return b;
}

} // namespace qmdb
