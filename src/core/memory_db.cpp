#include "memory_db.h"

#include "log_writer.h"
#include "mmr.h"

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

MemoryDb::MemoryDb(const OpFormat &format) : format_(format) {
	format_.validate();
	append(Operation::commit(std::nullopt, 0));
}

void
MemoryDb::append(const Operation &op) {
	log_.push_back(encode_op(format_, op));
	mmr_.append(hasher_, nodes_, log_.back());
}

void
MemoryDb::check_kind(bool ok, const char *what) const {
	if (!ok)
		throw Error(ErrorCode::InvalidArgument,
		            std::string("a ") + db_kind_name(format_.kind) + " database takes no " + what);
}

CommitResult
MemoryDb::apply_batch(const Mutations &mutations, const std::optional<Bytes> &metadata) {
	check_kind(format_.kind == DbKind::Any || format_.kind == DbKind::Ordered, "key-value batch");
	check_batch(format_, mutations, metadata);
	return apply(format_.kind == DbKind::Ordered ? merkleize_ordered_batch(*this, mutations, metadata)
	                                             : merkleize_batch(*this, mutations, metadata));
}

CommitResult
MemoryDb::apply_sets(const Mutations &sets, const std::optional<Bytes> &metadata, uint64_t floor) {
	check_kind(format_.kind == DbKind::Immutable, "batch of sets");
	check_batch(format_, sets, metadata);
	return apply(set_batch(*this, sets, metadata, floor));
}

CommitResult
MemoryDb::apply_appends(const std::vector<Bytes> &values, const std::optional<Bytes> &metadata, uint64_t floor) {
	check_kind(format_.kind == DbKind::Keyless, "batch of appends");
	check_batch(format_, values, metadata);
	return apply(append_batch(*this, values, metadata, floor));
}

std::optional<Bytes>
MemoryDb::live_key_after(const Bytes *key) {
	auto it = key ? snapshot_.upper_bound(*key) : snapshot_.begin();
	return it == snapshot_.end() ? std::nullopt : std::optional<Bytes>(it->first);
}

std::optional<Bytes>
MemoryDb::live_key_before(const Bytes *key) {
	auto it = key ? snapshot_.lower_bound(*key) : snapshot_.end();
	if (it == snapshot_.begin())
		return std::nullopt;
	return std::prev(it)->first;
}

std::pair<uint64_t, Bytes>
MemoryDb::live_entry(const Bytes &key) {
	auto it = snapshot_.find(key);
	if (it == snapshot_.end())
		throw Error(ErrorCode::DataCorrupted, "a key the writer took for live has no location");
	Operation op = this->op(it->second);
	if (op.kind != OpKind::Update || op.key != key)
		throw Error(ErrorCode::DataCorrupted, "the operation at a live key's location is not its Update");
	return {it->second, std::move(op.value)};
}

CommitResult
MemoryDb::apply(const Batch &batch) {
	for (const Operation &op : batch.ops)
		append(op);
	for (const auto &d : batch.diff) {
		if (d.second)
			snapshot_[d.first] = *d.second;
		else
			snapshot_.erase(d.first);
	}
	floor_ = batch.floor;
	// Immutable: Sets below the floor are inactive (a replay from the floor
	// does not see them).
	if (format_.kind == DbKind::Immutable)
		for (auto it = snapshot_.begin(); it != snapshot_.end();)
			it = it->second < floor_ ? snapshot_.erase(it) : std::next(it);
	return {root(), size(), floor_};
}

MemoryDb
MemoryDb::from_sync_result(const OpFormat &format, uint64_t start, const std::vector<Bytes> &ops,
                           const std::vector<Digest> &pins) {
	MemoryDb db(format, SyncTag{});
	std::vector<uint64_t> positions = nodes_to_pin(start);
	if (positions.size() != pins.size())
		throw Error(ErrorCode::InvalidArgument, "wrong number of pinned nodes");
	std::map<uint64_t, Digest> pinned;
	for (size_t i = 0; i < pins.size(); i++)
		pinned[positions[i]] = pins[i];
	db.nodes_.reset(location_to_position(start), pinned);
	db.mmr_ = Mmr(start, pins);
	db.pruned_ = start;
	for (const Bytes &op : ops) {
		decode_op(format, op); // only well-formed operations enter
		db.log_.push_back(op);
		db.mmr_.append(db.hasher_, db.nodes_, op);
	}
	uint64_t floor = 0;
	db.snapshot_ = replay_snapshot(
	    db.size(), [&](uint64_t loc) { return db.op(loc); }, &floor);
	db.floor_ = floor;
	return db;
}

std::vector<Bytes>
MemoryDb::read_ops(uint64_t start, uint64_t end) {
	std::vector<Bytes> out;
	for (uint64_t loc = start; loc < end; loc++)
		out.push_back(op_bytes(loc));
	return out;
}

Digest
MemoryDb::root() {
	return mmr_.root(hasher_, inactive_peaks(size(), floor_));
}

Target
MemoryDb::target() {
	return {root(), floor_, size()};
}

std::optional<Bytes>
MemoryDb::get(const Bytes &key) {
	auto it = snapshot_.find(key);
	if (it == snapshot_.end())
		return std::nullopt;
	return op(it->second).value;
}

const Bytes &
MemoryDb::op_bytes(uint64_t loc) const {
	if (loc >= size())
		throw Error(ErrorCode::OutOfRange,
		            "location " + std::to_string(loc) + " beyond size " + std::to_string(size()));
	if (loc < pruned_)
		throw Error(ErrorCode::Pruned, "location " + std::to_string(loc) + " is pruned");
	return log_[loc - pruned_];
}

std::optional<uint64_t>
MemoryDb::location_of(const Bytes &key) {
	auto it = snapshot_.find(key);
	if (it == snapshot_.end())
		return std::nullopt;
	return it->second;
}

void
MemoryDb::prune(uint64_t loc) {
	if (loc > floor_)
		throw Error(ErrorCode::InvalidArgument,
		            "cannot prune to " + std::to_string(loc) + ": beyond the floor " + std::to_string(floor_));
	if (loc <= pruned_)
		return;
	nodes_.prune(location_to_position(loc), nodes_to_pin(loc));
	log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(loc - pruned_));
	pruned_ = loc;
}

uint64_t
MemoryDb::floor_at(uint64_t n) const {
	if (n == 0 || n > size())
		throw Error(ErrorCode::OutOfRange, "no commit at size " + std::to_string(n));
	Operation last = op(n - 1);
	if (last.kind != OpKind::CommitFloor)
		throw Error(ErrorCode::NotCommitBoundary, "size " + std::to_string(n) + " is not a commit boundary");
	if (last.floor > n - 1)
		throw Error(ErrorCode::DataCorrupted, "commit floor beyond its own location");
	return last.floor;
}

Proof
MemoryDb::historical_proof(uint64_t n, uint64_t start, uint64_t max_ops) {
	if (n > size() || start >= n)
		throw Error(ErrorCode::OutOfRange, "range beyond size");
	uint64_t end = start + std::min(max_ops, n - start);
	return build_proof(hasher_, nodes_, n, inactive_peaks(n, floor_at(n)), start, end);
}

Digest
MemoryDb::historical_root(uint64_t n) {
	std::vector<Digest> ds;
	for (const Peak &p : peaks(location_to_position(n))) {
		auto d = nodes_.get(p.pos);
		if (!d)
			throw Error(ErrorCode::Pruned, "historical peak is pruned");
		ds.push_back(*d);
	}
	if (ds.empty())
		return hasher_.empty_root();
	return root_from_peaks(hasher_, n, inactive_peaks(n, floor_at(n)), ds);
}

std::vector<Digest>
MemoryDb::pinned_nodes_at(uint64_t loc) {
	std::vector<Digest> out;
	for (uint64_t pos : nodes_to_pin(loc)) {
		auto d = nodes_.get(pos);
		if (!d)
			throw Error(ErrorCode::Pruned, "pinned node " + std::to_string(pos) + " is pruned");
		out.push_back(*d);
	}
	return out;
}

} // namespace qmdb
