// The batch writer of `any::ordered` (family spec §3.2): like unordered's,
// but every Update carries next_key, the next live key in cyclic key order,
// so a batch also rewrites the live predecessor of each key it creates or
// deletes. Deletes, updates and those rewrites count as steps of the floor
// raise; creates do not.
#pragma once

#include "writer.h"

namespace qmdb {

// What the ordered writer needs beyond WriterState: the committed live keys
// in key order (unsigned bytewise).
class OrderedWriterState : public WriterState {
public:
	// The smallest live key greater than *key (key == nullptr: the smallest
	// live key), if there is one.
	virtual std::optional<Bytes> live_key_after(const Bytes *key) = 0;
	// The largest live key less than *key (key == nullptr: the largest).
	virtual std::optional<Bytes> live_key_before(const Bytes *key) = 0;
	// The location and value of a live key's current Update (the writer
	// rewrites a predecessor with its value). Error(DataCorrupted) if the
	// key is not live after all.
	virtual std::pair<uint64_t, Bytes> live_entry(const Bytes &key) = 0;
};

Batch merkleize_ordered_batch(OrderedWriterState &state, const Mutations &mutations,
                              const std::optional<Bytes> &metadata);

} // namespace qmdb
