// The state of each database lives in its own partition of qmdb.state,
// qmdb.state_<id>. A partition per database lets a synced state be loaded
// the fast way (rows first, then the index from sorted keys, then attach) and
// lets a dropped database take its state with it in one step.
#pragma once

#include "../spi.h"

#include "core/operation.h"

#include <functional>

namespace qmdb::pg {

// An empty, attached partition for a new database.
void create_state_partition(Spi &spi, int32 db_id);

// Drop the database's partition if it has one (a syncing database has none).
void drop_state_partition(Spi &spi, int32 db_id);

// The live location of each of `keys` in the database's partition, or -1
// where the key has none (or the database has no partition yet): one
// descent of the primary key a key, run straight on the index (the same
// probes as a query, through the executor, took 1.5-2 times as long). Sees what a query would now, this transaction's
// writes too.
std::vector<int64> state_locations(int32 db_id, const std::vector<const Bytes *> &keys);

// A replay from the floor, in SQL: for each key whose last Update or
// Delete in [floor, end) is an Update, (key, loc, value) of that Update,
// ordered by key. Sorts spill to disk past work_mem, so memory is bounded
// at any size. Its parameters come from last_writes_params ($1 to $7, and
// $8 for kinds other than any).
std::string last_writes_query(const OpFormat &format);
std::vector<Param> last_writes_params(int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end);

// Build the database's partition from its journal: the last Update or
// Delete of each key in [floor, end) decides whether the key is live, as a
// replay from the floor would. The journal is walked backwards once, each
// key's first sighting kept with where its row went, the live rows written
// straight into the pages of the new table (NewHeap, as CLUSTER writes);
// then the primary key's pages are written from the kept keys, sorted in
// memory (NewBtree, as CREATE INDEX writes), and the partition attached.
// When the keys do not fit one set within maintenance_work_mem, the walk
// writes them to temporary files by range of keys and each range, in key
// order, gets a set of its own. Under wal_level = logical the rows go in by
// ordinary inserts instead (page images carry no rows for logical
// decoding), after one sorted query, and CREATE INDEX builds the primary
// key. *plain_reason says why the one-set way did not run ("" if it did).
// Memory is bounded by maintenance_work_mem. `live` sees each live key's
// loc (a one-set pass that ran out of memory may report some before the
// ranges report them again). Returns the number of live keys.
uint64_t load_state_partition(Spi &spi, int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end,
                              const std::function<void(uint64_t loc)> &live, std::string *plain_reason);

} // namespace qmdb::pg
