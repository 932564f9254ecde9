// The batch writer of spec/qmdb-writer.md §4: how a set of mutations becomes
// operations (existing keys by current location, then creates by key), how
// the inactivity floor is raised, and the commit. Storage-agnostic: it reads
// committed state through WriterState and returns the operations to append.
#pragma once

#include "operation.h"

#include <map>
#include <optional>

namespace qmdb {

// key -> new value, or nullopt to delete. Ordered by key bytes, and a later
// write to the same key replaces an earlier one ("last write wins").
using Mutations = std::map<Bytes, std::optional<Bytes>>;

// What the writer needs to know of the committed database.
class WriterState {
public:
	virtual ~WriterState() = default;
	virtual uint64_t size() const = 0;  // operations in the log
	virtual uint64_t floor() const = 0; // floor of the last commit
	virtual uint64_t active_keys() const = 0;
	// The location of key's current Update, if the key is live.
	virtual std::optional<uint64_t> location_of(const Bytes &key) = 0;
	// The operation at `loc`, for floor <= loc < size.
	virtual Operation read(uint64_t loc) = 0;
};

struct Batch {
	uint64_t base = 0;          // location of ops[0]
	std::vector<Operation> ops; // user ops, moves, then the commit
	// Every key whose location changed: its new location, or nullopt if deleted.
	std::map<Bytes, std::optional<uint64_t>> diff;
	uint64_t floor = 0;       // the new inactivity floor (in the commit)
	uint64_t active_keys = 0; // live keys after the batch
	uint64_t user_steps = 0;  // updates and deletes of existing keys
	uint64_t moves = 0;       // active ops re-appended at the tip
};

// Throws Error(InvalidArgument) unless every key and value of a batch (of
// writes, or of appended values), and its metadata, fit the format.
void check_batch(const OpFormat &format, const Mutations &mutations, const std::optional<Bytes> &metadata);
void check_batch(const OpFormat &format, const std::vector<Bytes> &values, const std::optional<Bytes> &metadata);

Batch merkleize_batch(WriterState &state, const Mutations &mutations, const std::optional<Bytes> &metadata);

// The end of every `any` batch, unordered or ordered (writer spec §4.2
// phases 3-4): raise the floor by b.user_steps + 1 moves, each active
// Update found from the floor up copied verbatim to the tip, then the
// commit. b.ops and b.diff hold the batch's own operations so far.
void raise_floor_and_commit(WriterState &state, Batch &b, const std::optional<Bytes> &metadata);

// The key -> location snapshot of a log, rebuilt by replaying [floor, size)
// where floor is that of the last operation (which must be a commit).
// `read` returns the operation at a location. Throws Error(DataCorrupted)
// when the log does not end with a commit or its floor is beyond its end.
template <typename Read>
std::map<Bytes, uint64_t>
replay_snapshot(uint64_t size, Read read, uint64_t *floor_out = nullptr) {
	if (size == 0)
		throw Error(ErrorCode::DataCorrupted, "empty log has no commit");
	Operation last = read(size - 1);
	if (last.kind != OpKind::CommitFloor)
		throw Error(ErrorCode::DataCorrupted, "log does not end with a commit");
	if (last.floor > size - 1)
		throw Error(ErrorCode::DataCorrupted, "commit floor beyond the log");
	std::map<Bytes, uint64_t> snapshot;
	for (uint64_t loc = last.floor; loc < size; loc++) {
		Operation op = read(loc);
		if (op.kind == OpKind::Update)
			snapshot[op.key] = loc;
		else if (op.kind == OpKind::Delete)
			snapshot.erase(op.key);
	}
	if (floor_out)
		*floor_out = last.floor;
	return snapshot;
}

} // namespace qmdb
