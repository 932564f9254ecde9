// Writes staged by qmdb.write until qmdb.commit, per backend. They belong to
// the transaction that made them: a rollback (or a rollback to a savepoint)
// discards them, and a transaction that ends with writes never committed
// warns that they were dropped.
#pragma once

#include "core/writer.h"

#include <string>

namespace qmdb::pg {

void stage_write(const std::string &db, Bytes key, std::optional<Bytes> value);
// Remove and return the writes staged for `db`, last write per key winning.
Mutations take_staged(const std::string &db);
void register_staging_callbacks();

} // namespace qmdb::pg
