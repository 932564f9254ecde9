// MMR node digests in qmdb.nodes (32 consecutive positions per row) and the
// pins of a pruning or sync boundary in qmdb.pins. Appends are buffered and
// written by flush(), which rewrites only the last, partial row.
#pragma once

#include "../spi.h"

#include "core/node_store.h"

#include <map>

namespace qmdb::pg {

constexpr uint64_t NODES_PER_CHUNK = 32;

class NodeTable : public NodeStore {
public:
	// `next_pos`: the position the next put() will write (the tree's size).
	NodeTable(int32 db_id, uint64_t next_pos) : db_id_(db_id), pending_start_(next_pos) {}

	// The SPI connection to use from now on (one per transaction in the worker).
	void attach(Spi &spi) {
		spi_ = &spi;
		chunks_.clear();
		pins_loaded_ = false;
	}

	std::optional<Digest> get(uint64_t pos) override;
	void put(uint64_t pos, const Digest &digest) override;
	void reset(uint64_t pos, const std::map<uint64_t, Digest> &pins) override;
	void rebase(uint64_t pos, const std::map<uint64_t, Digest> &pins) override;
	void flush();
	// Forget every node at or above `pos` (what a failed catch-up of a
	// replica of that size left); the next put() writes `pos`.
	void truncate(uint64_t pos);
	// Forget cached rows (after rows were deleted underneath).
	void drop_cache() {
		chunks_.clear();
		pins_loaded_ = false;
	}

private:
	const Bytes &chunk(uint64_t index);

	int32 db_id_;
	Spi *spi_ = nullptr;
	std::map<uint64_t, Bytes> chunks_; // chunk index -> digests as stored
	std::map<uint64_t, Digest> pins_;  // the boundary's pins (at most 64)
	bool pins_loaded_ = false;
	uint64_t pending_start_;      // position of pending_[0]
	std::vector<Digest> pending_; // appended, not yet written
};

} // namespace qmdb::pg
