#include "state_table.h"
#include "../datum.h"
#include "new_btree.h"
#include "new_heap.h"
#include "journal_table.h"

#include "bulk_insert.h"

#include "core/first_sightings.h"
#include "core/key_set.h"

extern "C" {
#include "access/xlog.h"
#include "miscadmin.h"
}

#include <cstring>
#include <malloc.h>

namespace qmdb::pg {

namespace {

// Identifiers are built from the integer id only, so nothing needs quoting.
// The partition in schema qmdb, and its primary key's index.
std::string
partition_table(int32 db_id) {
	return "state_" + std::to_string(db_id);
}
std::string
partition_name(int32 db_id) {
	return "qmdb." + partition_table(db_id);
}
std::string
partition_key(int32 db_id) {
	return partition_table(db_id) + "_pkey";
}

} // namespace

void
create_state_partition(Spi &spi, int32 db_id) {
	std::string id = std::to_string(db_id);
	// Moving a key is an UPDATE of loc and value only: room on the page keeps it HOT.
	spi.exec_once("CREATE TABLE " + partition_name(db_id) + " PARTITION OF qmdb.state FOR VALUES IN (" + id +
	              ") WITH (fillfactor = 80)");
	spi.exec_once("ALTER TABLE " + partition_name(db_id) + " ADD PRIMARY KEY (key)");
}

void
drop_state_partition(Spi &spi, int32 db_id) {
	// Looked up first rather than DROP ... IF EXISTS, which would NOTICE the caller.
	spi.exec("SELECT (pg_catalog.to_regclass($1) IS NOT NULL)::int4", {text_param(partition_name(db_id))});
	if (spi.i32(0, 0))
		spi.exec_once("DROP TABLE " + partition_name(db_id));
}

const char *
last_writes_query(const OpFormat &format) {
	// Each Update or Delete in the range as (key, loc, live, value); $5 and
	// $6 are the key and value sizes, $4 the encoding, $7 JOURNAL_WINDOW.
	static const char *fixed_sizes =
	    // Fixed sizes put the key and the value at fixed offsets in both
	    // encodings (tag, key, value): plain substrings, no decoder call.
	    "SELECT key, loc, value FROM (SELECT DISTINCT ON (key) key, loc, live, value FROM ("
	    "SELECT substr(o.op, 2, $5) AS key, o.loc, pg_catalog.get_byte(o.op, 0) = 210 AS live, "
	    "substr(o.op, 2 + $5, $6) AS value FROM qmdb.journal j, qmdb.split_operations(j.ops, j.loc, $4, $5, $6) o "
	    "WHERE j.db_id = $1 AND j.loc >= $2 - $2 % $7 AND j.loc < $3 AND o.loc >= $2 AND o.loc < $3 "
	    "AND pg_catalog.get_byte(o.op, 0) IN (209, 210)) changes "
	    "ORDER BY key, loc DESC) last WHERE live";
	static const char *decoded =
	    // OFFSET 0 keeps the decoder to one call per row (not one per column).
	    "SELECT key, loc, value FROM (SELECT DISTINCT ON (key) key, loc, live, value FROM ("
	    "SELECT (d).key, loc, (d).kind = 'update' AS live, (d).value FROM ("
	    "SELECT o.loc, qmdb.decode_operation(o.op, $4, $5, $6) d "
	    "FROM qmdb.journal j, qmdb.split_operations(j.ops, j.loc, $4, $5, $6) o "
	    "WHERE j.db_id = $1 AND j.loc >= $2 - $2 % $7 AND j.loc < $3 AND o.loc >= $2 AND o.loc < $3 OFFSET 0) ops "
	    "WHERE (d).kind <> 'commit') changes "
	    "ORDER BY key, loc DESC) last WHERE live";
	static_assert(static_cast<int>(OpKind::Delete) == 209 && static_cast<int>(OpKind::Update) == 210,
	              "the tags in the query above");
	return format.key_size && format.value_size ? fixed_sizes : decoded;
}

std::vector<Param>
last_writes_params(int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end) {
	return {int4_param(db_id),
	        int8_param(static_cast<int64>(floor)),
	        int8_param(static_cast<int64>(end)),
	        text_param(encoding_name(format.encoding)),
	        opt_int4_param(format.key_size),
	        opt_int4_param(format.value_size),
	        int8_param(static_cast<int64>(JOURNAL_WINDOW))};
}

namespace {

// The key-set way: walk [floor, end) backwards, keep each key's first
// sighting (its last write), write the live ones; then write the primary
// key's index from the set's keys in order, with where each row went. One
// pass over the journal, no reread of the table, no sort on disk. The
// lookups run on a helper thread (FirstSightings) a few chunks behind the
// reading, and the rows of the updates it found are written meanwhile.
// nullopt when the keys do not fit `budget` bytes (nothing is counted as
// loaded then, but rows may have been written: the caller truncates).
std::optional<uint64_t>
load_by_key_set(int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end, size_t budget,
                const std::function<void(uint64_t loc)> &live) {
	constexpr size_t CHUNK_OPS = 1024, CHUNKS_AHEAD = 4;
	// Each key's payload: its row's address, or zeros (no offset is 0) for
	// a key whose last write deletes it.
	KeySet seen(budget, sizeof(ItemPointerData));
	seen.reserve(static_cast<size_t>(end - floor)); // at most a key an operation
	NewHeap heap(partition_table(db_id));
	ByteaBuffer key_datum, value_datum;
	JournalTable journal(db_id, format);
	bool full = false;
	{
		FirstSightings finder(seen, format);
		auto write_rows = [&](FirstSightings::Chunk c) {
			if (c.error)
				std::rethrow_exception(c.error);
			check_for_interrupts();
			for (size_t i = 0; i < c.size(); i++) {
				if (!c.first[i])
					continue;
				const OpView &o = c.views[i]; // read by the helper, into c.bytes
				Datum row[4] = {Int32GetDatum(db_id), key_datum.set(o.key),
				                Int64GetDatum(static_cast<int64>(c.locs[i])), value_datum.set(o.value)};
				ItemPointerData at = heap.add(row);
				std::memcpy(c.first[i], &at, sizeof at);
				live(c.locs[i]);
			}
			full = full || c.full;
		};
		FirstSightings::Chunk chunk;
		auto hand_over = [&] {
			finder.submit(std::move(chunk));
			chunk = FirstSightings::Chunk();
			while (finder.pending() > CHUNKS_AHEAD)
				write_rows(finder.next());
		};
		journal.scan_backward(floor, end, [&](uint64_t loc, ByteView op) {
			chunk.add(loc, op);
			if (chunk.size() == CHUNK_OPS)
				hand_over();
			return !full;
		});
		if (chunk.size() && !full)
			hand_over();
		while (finder.pending() > 0)
			write_rows(finder.next());
	} // the helper is gone: the set is this thread's again
	heap.finish();
	if (full)
		return std::nullopt;
	NewBtree index(partition_table(db_id), partition_key(db_id));
	uint64_t visited = 0;
	seen.visit_sorted([&](ByteView key, const uint8_t *row_address) {
		if (++visited % 65536 == 0)
			check_for_interrupts();
		ItemPointerData at;
		std::memcpy(&at, row_address, sizeof at);
		if (ItemPointerGetOffsetNumberNoCheck(&at) != InvalidOffsetNumber)
			index.add(key, at);
	});
	index.finish();
	if (index.keys() != heap.rows())
		throw Error(ErrorCode::DataCorrupted, "state rebuild indexed " + std::to_string(index.keys()) + " of " +
		                                          std::to_string(heap.rows()) + " rows");
	return heap.rows();
}

// The sort way, for key sets beyond the budget: the last write of each key
// by one sorted query, which spills to disk as it must. `decodable`: rows go
// in by ordinary (multi-)inserts, which logical decoding sees, instead of
// page images.
uint64_t
load_by_sort(Spi &spi, int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end,
             const std::function<void(uint64_t loc)> &live, bool decodable) {
	// Sorting is maintenance work, like building an index: give it that budget.
	spi.exec("SELECT pg_catalog.set_config('work_mem', pg_catalog.current_setting('maintenance_work_mem'), true)", {});
	spi.open_cursor(last_writes_query(format), last_writes_params(db_id, format, floor, end));
	std::optional<NewHeap> heap;
	if (!decodable)
		heap.emplace(partition_table(db_id));
	std::string table = partition_table(db_id);
	std::vector<Datum> rows;
	uint64_t count = 0;
	for (uint64 n; (n = spi.fetch(10000)) > 0;) {
		check_for_interrupts();
		rows.clear();
		for (uint64 i = 0; i < n; i++) {
			int64 loc = spi.i64(i, 1);
			Datum row[4] = {Int32GetDatum(db_id), spi.datum(i, 0), Int64GetDatum(loc), spi.datum(i, 2)};
			if (heap)
				heap->add(row);
			else
				rows.insert(rows.end(), row, row + 4);
			live(static_cast<uint64_t>(loc));
		}
		if (!heap)
			bulk_insert(table.c_str(), 4, n, rows); // the Datums point into this fetch's rows
		count += n;
	}
	spi.close_cursor();
	if (heap)
		heap->finish();
	return count;
}

} // namespace

uint64_t
load_state_partition(Spi &spi, int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end,
                     const std::function<void(uint64_t loc)> &live, std::string *plain_reason) {
	std::string id = std::to_string(db_id), table = partition_name(db_id);
	drop_state_partition(spi, db_id);
	// The CHECK lets ATTACH skip scanning the rows to prove they belong.
	// Loaded with full pages (a fifth fewer pages to write); pages added
	// by later writes keep the usual room for HOT updates (set below).
	spi.exec_once("CREATE TABLE " + table + " (LIKE qmdb.state, CONSTRAINT state_" + id +
	              "_db_id CHECK (db_id = " + id + "))");
	// The primary key's index, empty: the key-set way fills its pages.
	spi.exec_once("CREATE UNIQUE INDEX " + partition_key(db_id) + " ON " + table + " (key)");
	// Logical decoding needs rows in the WAL, not page images: CDC consumers
	// of qmdb.state must see a synced database's keys.
	bool decodable = XLogLogicalInfoActive();
	// Both ways are maintenance work, like building an index: that budget.
	std::optional<uint64_t> count;
	if (!decodable)
		count = load_by_key_set(db_id, format, floor, end, static_cast<size_t>(maintenance_work_mem) * 1024, live);
	// The key set is gone: hand its memory back before an index build
	// takes its own maintenance_work_mem, so the two never add up.
	malloc_trim(0);
	*plain_reason = decodable ? "wal_level = logical: rows inserted for logical decoding"
	                : !count  ? "sorted: the keys exceed maintenance_work_mem"
	                          : "";
	if (count) {
		spi.exec_once("ALTER TABLE " + table + " ADD PRIMARY KEY USING INDEX " + partition_key(db_id));
	} else {
		// Rows a partial pass inserted go; the live locations it reported
		// were right (each a key's last write) and are reported again. The
		// index is built by CREATE INDEX's sort once the rows are in.
		spi.exec_once("DROP INDEX qmdb." + partition_key(db_id));
		spi.exec_once("TRUNCATE " + table);
		count = load_by_sort(spi, db_id, format, floor, end, live, decodable);
		spi.exec_once("ALTER TABLE " + table + " ADD PRIMARY KEY (key)");
	}
	spi.exec_once("ALTER TABLE " + table + " SET (fillfactor = 80)");
	spi.exec_once("ALTER TABLE qmdb.state ATTACH PARTITION " + table + " FOR VALUES IN (" + id + ")");
	spi.exec_once("ALTER TABLE " + table + " DROP CONSTRAINT state_" + id + "_db_id");
	return *count;
}

} // namespace qmdb::pg
