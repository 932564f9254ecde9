// Appending many rows to one of the extension's tables the way COPY does:
// the tuples go in with table_multi_insert (a WAL record per page, not per
// row) and their index entries after, instead of one executor pass per row
// through SPI. For the journal, the bulk of what a sync and a writer store.
//
// No triggers, rules or privilege checks apply: callers are the extension's
// own SECURITY DEFINER functions and its sync worker, on its own tables.
#pragma once

#include "../guard.h"

#include "core/bytes.h"

#include <vector>

namespace qmdb::pg {

// Insert `rows` rows of `ncols` columns into qmdb.<table>: values[r * ncols
// + c] is column c of row r, none NULL. Unique indexes are checked as usual
// (a duplicate raises unique_violation). Datums must already be built.
void bulk_insert(const char *table, int ncols, size_t rows, const std::vector<Datum> &values);

// Rows (db_id, keys[i], rows[i]) of a table keyed by (db_id, a bigint):
// the journal (loc, ops) and the nodes (chunk, digests).
void insert_keyed_rows(const char *table, int32 db_id, const std::vector<int64> &keys, const std::vector<Bytes> &rows);
// The same with keys first, first + 1, ...
void insert_numbered_rows(const char *table, int32 db_id, uint64_t first, const std::vector<Bytes> &rows);

} // namespace qmdb::pg
