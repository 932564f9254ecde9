// The batch writers of the two kinds whose log is only appended to
// (family spec §1.2, §2.2): keyless appends values in the order given,
// immutable sets keys in key order (the last set of a key in a batch
// wins). Neither moves anything: the caller chooses the floor the commit
// declares, from the database's floor up to the commit's own location.
#pragma once

#include "writer.h"

namespace qmdb {

// Keyless: one Append per value, then Commit(metadata, floor).
Batch append_batch(WriterState &state, const std::vector<Bytes> &values, const std::optional<Bytes> &metadata,
                   uint64_t floor);

// Immutable: one Set per key in key order, then Commit(metadata, floor).
// Every write must carry a value (keys are never deleted). A key set
// again gets another Set; reads see the newest.
Batch set_batch(WriterState &state, const Mutations &sets, const std::optional<Bytes> &metadata, uint64_t floor);

} // namespace qmdb
