// An authenticated database held in memory: the log, the MMR, the snapshot.
// The reference the PostgreSQL tables are tested against, and the database
// the sync engine tests build sources and targets with.
#pragma once

#include "merkle.h"
#include "operation.h"
#include "ordered_writer.h"
#include "serve.h"
#include "wire.h"
#include "writer.h"

namespace qmdb {

struct CommitResult {
	Digest root{};
	uint64_t size = 0;  // leaves after the commit
	uint64_t floor = 0; // floor declared by the commit
};

class MemoryDb : public OrderedWriterState, public ServeSource {
public:
	// A new database holds one operation: CommitFloor(None, 0) (every kind's).
	explicit MemoryDb(const OpFormat &format);

	// An `any` or `ordered` batch.
	CommitResult apply_batch(const Mutations &mutations, const std::optional<Bytes> &metadata = std::nullopt);
	// An `immutable` batch of sets, committed at the caller's floor.
	CommitResult apply_sets(const Mutations &sets, const std::optional<Bytes> &metadata, uint64_t floor);
	// A `keyless` batch of appends, committed at the caller's floor.
	CommitResult apply_appends(const std::vector<Bytes> &values, const std::optional<Bytes> &metadata, uint64_t floor);

	const OpFormat &format() const { return format_; }
	Digest root();
	// The canonical sync target: [floor, size).
	Target target();
	std::optional<Bytes> get(const Bytes &key);
	const std::map<Bytes, uint64_t> &snapshot() const { return snapshot_; }

	const Bytes &op_bytes(uint64_t loc) const;
	Operation op(uint64_t loc) const { return decode_op(format_, op_bytes(loc)); }
	uint64_t pruning_boundary() const override { return pruned_; }
	// Drop operations below `loc` (never beyond the floor); the root is unchanged.
	void prune(uint64_t loc);

	// The floor committed by the operation at `size - 1` (which must be a commit).
	uint64_t floor_at(uint64_t size) const override;
	// Proof of [start, min(start+max_ops, size)) against the historical tree of `size` leaves.
	Proof historical_proof(uint64_t size, uint64_t start, uint64_t max_ops);
	Digest historical_root(uint64_t size);
	std::vector<Digest> pinned_nodes_at(uint64_t loc);
	MemoryNodeStore &nodes() override { return nodes_; }
	Hasher &hasher() { return hasher_; }

	// Build a database from a synced journal: `ops` are the operations at
	// [start, start + ops.size()) and `pins` the digests at nodes_to_pin(start).
	static MemoryDb from_sync_result(const OpFormat &format, uint64_t start, const std::vector<Bytes> &ops,
	                                 const std::vector<Digest> &pins);

	// ServeSource
	std::vector<Bytes> read_ops(uint64_t start, uint64_t end) override;
	Response serve(const Request &request) { return serve_request(hasher_, *this, request); }

	// WriterState
	uint64_t size() const override { return mmr_.leaves(); }
	uint64_t floor() const override { return floor_; }
	uint64_t active_keys() const override { return snapshot_.size(); }
	std::optional<uint64_t> location_of(const Bytes &key) override;
	Operation read(uint64_t loc) override { return op(loc); }
	// OrderedWriterState
	std::optional<Bytes> live_key_after(const Bytes *key) override;
	std::optional<Bytes> live_key_before(const Bytes *key) override;
	std::pair<uint64_t, Bytes> live_entry(const Bytes &key) override;

private:
	struct SyncTag {};
	MemoryDb(const OpFormat &format, SyncTag) : format_(format) {}
	void append(const Operation &op);
	CommitResult apply(const Batch &batch);
	void check_kind(bool ok, const char *what) const;

	OpFormat format_;
	Hasher hasher_;
	MemoryNodeStore nodes_;
	Mmr mmr_;
	std::vector<Bytes> log_; // log_[i] is the op at pruned_ + i
	uint64_t pruned_ = 0;
	uint64_t floor_ = 0;
	std::map<Bytes, uint64_t> snapshot_;
};

} // namespace qmdb
