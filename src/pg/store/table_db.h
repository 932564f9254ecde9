// An authenticated database kept in the qmdb.* tables. It is the writer's
// committed state (WriterState), a source for serving peers (ServeSource)
// and the node store of its MMR (NodeStore, 32 digests per row).
//
// One object lives for one SQL call, inside one SPI connection.
#pragma once

#include "../spi.h"
#include "journal_table.h"
#include "node_table.h"

#include "core/log_writer.h"
#include "core/memory_db.h"
#include "core/ordered_writer.h"
#include "core/serve.h"
#include "core/writer.h"

#include <map>
#include <string>

namespace qmdb::pg {

struct DbInfo {
	int32 id = 0;
	std::string name;
	OpFormat format;
	uint64_t size = 0;
	uint64_t floor = 0;
	uint64_t pruning_boundary = 0;
	uint64_t active_keys = 0;
	Digest root{};
	std::string role;
};

constexpr uint64_t BITS_PER_CHUNK = 8192;

// The layout of a qmdb.bitmap row: location loc is bit (loc % 8) of byte
// (loc % BITS_PER_CHUNK) / 8 of row loc / BITS_PER_CHUNK.
inline void
set_bitmap_bit(Bytes &row, uint64_t loc, bool on) {
	row.resize(BITS_PER_CHUNK / 8, 0);
	uint64_t i = loc % BITS_PER_CHUNK;
	uint8_t mask = static_cast<uint8_t>(1u << (i % 8));
	row[i / 8] = on ? (row[i / 8] | mask) : (row[i / 8] & ~mask);
}

inline bool
bitmap_bit(const Bytes &row, uint64_t loc) {
	uint64_t i = loc % BITS_PER_CHUNK;
	return i / 8 < row.size() && ((row[i / 8] >> (i % 8)) & 1);
}

class TableDatabase : public OrderedWriterState, public ServeSource {
public:
	// Which databases a caller may open: Verified refuses (NotReady) a
	// database whose first sync has not completed, which holds no verified
	// state and claims no root; Any opens it too (to drop it, or to read
	// its format).
	enum class Access { Verified, Any };
	// Load the catalog row of `name`; with `lock`, take it FOR UPDATE so
	// writers to one database serialize. Error(NotFound) if it does not exist.
	TableDatabase(Spi &spi, const std::string &name, bool lock, Access access = Access::Verified);

	static void create(Spi &spi, const std::string &name, const OpFormat &format);
	void drop();
	// Delete every row a database owns except its catalog row (and its state
	// partition): what dropping it, or cancelling its sync, removes.
	static void delete_data(Spi &spi, int32 db_id);

	const DbInfo &info() const { return info_; }

	// Merkleize and append one batch, update state and catalog. All in the
	// caller's transaction: an abort leaves no trace.
	// An `any` or `ordered` batch.
	CommitResult apply(const Mutations &mutations, const std::optional<Bytes> &metadata);
	// An `immutable` batch of sets, and a `keyless` batch of appends, each
	// committed at the caller's floor (nullopt: the database's).
	CommitResult set_keys(const Mutations &sets, const std::optional<Bytes> &metadata, std::optional<uint64_t> floor);
	CommitResult append_values(const std::vector<Bytes> &values, const std::optional<Bytes> &metadata,
	                           std::optional<uint64_t> floor);
	// Throws WrongKind unless the kind takes key-value batches (any, ordered).
	void check_key_value_writes() const;
	// Throws WrongKind for a kind without keys (keyless): get, entries.
	void check_has_keys() const;
	// Drop operations below `loc` (<= floor); returns the new boundary.
	uint64_t prune(uint64_t loc);
	// A replica publishes the verified operations of [size, end) its sync
	// appended (end - 1 a commit): their effect on the state, the bitmap,
	// the floor, and the root computed here at `end`, in the caller's
	// transaction (readers see the old commit or this one, nothing between).
	// Reads the journal a window at a time: memory does not grow with the range.
	CommitResult advance_replica(uint64_t end);

	// WriterState
	uint64_t size() const override { return info_.size; }
	uint64_t floor() const override { return info_.floor; }
	uint64_t active_keys() const override { return info_.active_keys; }
	std::optional<uint64_t> location_of(const Bytes &key) override;
	// The Update at `loc` if it is some key's current one, else a commit
	// placeholder: the writer only needs to tell active Updates apart.
	Operation read(uint64_t loc) override;
	// OrderedWriterState: the committed live keys, from the state's index.
	std::optional<Bytes> live_key_after(const Bytes *key) override { return live_neighbour(key, true); }
	std::optional<Bytes> live_key_before(const Bytes *key) override { return live_neighbour(key, false); }
	std::pair<uint64_t, Bytes> live_entry(const Bytes &key) override;

	// ServeSource
	uint64_t pruning_boundary() const override { return info_.pruning_boundary; }
	uint64_t floor_at(uint64_t n) const override;
	std::vector<Bytes> read_ops(uint64_t start, uint64_t end) override;
	NodeTable &nodes() override { return nodes_; }
	// Bytes of the operations in [start, end), without reading them.
	uint64_t ops_bytes(uint64_t start, uint64_t end);

	Hasher &hasher() { return hasher_; }

	// The activity bitmap (see qmdb.bitmap).
	bool active_bit(uint64_t loc);
	void set_active_bit(uint64_t loc, bool on);
	// Drop the bitmap rows read so far (none may be dirty): a long read of
	// the bitmap in order keeps one row, not every row, in memory.
	void forget_bitmap_rows();
	void flush_bitmap();

private:
	void prefetch_locations(const Mutations &mutations);
	// An ordered batch's navigation, in one query: each written key's live
	// neighbours, the predecessor's location and value, and the first and
	// last live keys. The writer only steps from written keys (a deleted
	// one it walks past is written too) or from the ends, so it asks SQL
	// again only if the state contradicts itself.
	void prefetch_neighbours(const Mutations &mutations);
	// The next (after) or previous live key: prefetched, else one index probe.
	std::optional<Bytes> live_neighbour(const Bytes *key, bool after);
	// Throws WrongKind naming the functions for this kind (`instead`) unless ok.
	void check_kind(bool ok, const char *instead) const;
	// Append a merkleized batch: journal, tree, state, bitmap, catalog.
	CommitResult commit_batch(const Batch &batch);
	// Immutable: a Set below the floor is inactive (a replay from the floor,
	// as upstream's restart and sync, does not see it), so the keys whose
	// current Set lies in [from, to) leave the state. Returns how many.
	uint64_t retire_below_floor(uint64_t from, uint64_t to);
	Bytes &bitmap_chunk(uint64_t index);

	Spi &spi_;
	DbInfo info_;
	Hasher hasher_;
	std::map<Bytes, std::optional<uint64_t>> locations_;        // key -> loc (nullopt: not live)
	std::map<uint64_t, Operation> window_;                      // loc -> active op, read by the floor scan
	std::map<Bytes, std::optional<Bytes>> next_key_, prev_key_; // prefetched neighbours of written keys
	std::optional<std::optional<Bytes>> first_key_, last_key_;  // prefetched ends of the live keys
	std::map<Bytes, Bytes> values_;                             // prefetched values of live neighbours
	uint64_t window_start_ = 0, window_end_ = 0;                // window_ covers [start, end)
	std::map<uint64_t, Bytes> bitmap_;                          // chunk -> bits
	std::map<uint64_t, bool> bitmap_dirty_;
	NodeTable nodes_{0, 0};
	JournalTable journal_{0, OpFormat()};
};

} // namespace qmdb::pg
