// Answering a peer's Request from a database (spec §5.1): the proof is
// against the historical tree of `size` leaves, with k from the floor of the
// commit at size - 1, so only commit boundaries are servable.
#pragma once

#include "node_store.h"
#include "wire.h"

namespace qmdb {

// What serving reads from a database, whatever stores it.
class ServeSource {
public:
	virtual ~ServeSource() = default;
	virtual uint64_t size() const = 0;             // leaves
	virtual uint64_t pruning_boundary() const = 0; // first location still held
	// The floor of the commit at n - 1; Error(NotCommitBoundary) if it is not a commit.
	virtual uint64_t floor_at(uint64_t n) const = 0;
	virtual std::vector<Bytes> read_ops(uint64_t start, uint64_t end) = 0;
	virtual NodeStore &nodes() = 0;
};

// Checks the request against the database (size within it, start not
// pruned, size a commit boundary at or above the pruning boundary) before
// doing any work; each failure is a distinct Error code.
Response serve_request(Hasher &hasher, ServeSource &db, const Request &request);

} // namespace qmdb
