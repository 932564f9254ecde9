#include "state_table.h"
#include "../datum.h"
#include "new_btree.h"
#include "new_heap.h"
#include "journal_table.h"

#include "bulk_insert.h"
#include "spill_file.h"

#include "core/first_sightings.h"
#include "core/key_ranges.h"
#include "core/key_set.h"

extern "C" {
#include "access/genam.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
}

#include <algorithm>
#include <cstring>
#include <malloc.h>
#include <memory>

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

// A column's number in a relation, by name (a partition made from a table
// with dropped columns numbers them differently).
AttrNumber
attnum_of(Relation rel, const char *name) {
	TupleDesc desc = RelationGetDescr(rel);
	for (int i = 0; i < desc->natts; i++) {
		Form_pg_attribute a = TupleDescAttr(desc, i);
		if (!a->attisdropped && std::strcmp(NameStr(a->attname), name) == 0)
			return a->attnum;
	}
	elog(ERROR, "qmdb: relation \"%s\" has no column \"%s\"", RelationGetRelationName(rel), name);
	return InvalidAttrNumber;
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

std::vector<int64>
state_locations(int32 db_id, const std::vector<const Bytes *> &keys) {
	std::vector<int64> locs(keys.size(), -1);
	size_t longest = 0;
	for (const Bytes *k : keys)
		longest = std::max(longest, k->size());
	std::string table = partition_table(db_id);
	// Nothing in here allocates on the C++ side: a PostgreSQL error leaves
	// through pg_call, and the abort it leads to releases the scan.
	pg_call([&] {
		if (keys.empty())
			return;
		Oid relid = RangeVarGetRelid(makeRangeVar(const_cast<char *>("qmdb"), const_cast<char *>(table.c_str()), -1),
		                             AccessShareLock, true);
		if (!OidIsValid(relid))
			return;
		// As SPI before each query: this command sees the ones before it
		// (under REPEATABLE READ too: it advances the transaction snapshot).
		CommandCounterIncrement();
		Relation rel = table_open(relid, AccessShareLock);
		Relation index = index_open(RelationGetPrimaryKeyIndex(rel), AccessShareLock);
		Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
		TupleTableSlot *slot = table_slot_create(rel, nullptr);
		IndexScanDesc scan = index_beginscan(rel, index, snapshot, 1, 0);
		bytea *key = static_cast<bytea *>(palloc(VARHDRSZ + longest));
		AttrNumber loc_attr = attnum_of(rel, "loc");
		for (size_t i = 0; i < keys.size(); i++) {
			if (i % 1024 == 0)
				CHECK_FOR_INTERRUPTS();
			SET_VARSIZE(key, VARHDRSZ + keys[i]->size());
			if (!keys[i]->empty())
				std::memcpy(VARDATA(key), keys[i]->data(), keys[i]->size());
			ScanKeyData eq;
			ScanKeyInit(&eq, 1, BTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(key));
			index_rescan(scan, &eq, 1, nullptr, 0);
			if (index_getnext_slot(scan, ForwardScanDirection, slot)) {
				bool null;
				locs[i] = DatumGetInt64(slot_getattr(slot, loc_attr, &null));
				ExecClearTuple(slot);
			}
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		pfree(key);
		UnregisterSnapshot(snapshot);
		index_close(index, AccessShareLock);
		table_close(rel, AccessShareLock);
	});
	return locs;
}

void
drop_state_partition(Spi &spi, int32 db_id) {
	// Looked up first rather than DROP ... IF EXISTS, which would NOTICE the caller.
	spi.exec("SELECT (pg_catalog.to_regclass($1) IS NOT NULL)::int4", {text_param(partition_name(db_id))});
	if (spi.i32(0, 0))
		spi.exec_once("DROP TABLE " + partition_name(db_id));
}

std::string
last_writes_query(const OpFormat &format) {
	// Each Update or Delete in the range as (key, loc, live, value); $5 and
	// $6 are the key and value sizes, $4 the encoding, $7 JOURNAL_WINDOW;
	// for kinds other than any, $8 the kind (the functions' 0.4.0 argument:
	// an `any` database reads as before on an older schema too).
	bool any = format.kind == DbKind::Any;
	std::string kind_arg = any ? "" : ", $8";
	std::string split = "qmdb.split_operations(j.ops, j.loc, $4, $5, $6" + kind_arg + ")";
	if (format.key_size && format.value_size) {
		// Fixed sizes put the key and the value at fixed offsets in both
		// encodings (tag, key, value): plain substrings, no decoder call.
		std::string update = std::to_string(op_tag(format.kind, OpKind::Update));
		std::string tags = format.has(OpKind::Delete)
		                       ? "(" + std::to_string(op_tag(format.kind, OpKind::Delete)) + ", " + update + ")"
		                       : "(" + update + ")";
		return "SELECT key, loc, value FROM (SELECT DISTINCT ON (key) key, loc, live, value FROM ("
		       "SELECT substr(o.op, 2, $5) AS key, o.loc, pg_catalog.get_byte(o.op, 0) = " +
		       update + " AS live, substr(o.op, 2 + $5, $6) AS value FROM qmdb.journal j, " + split +
		       " o WHERE j.db_id = $1 AND j.loc >= $2 - $2 % $7 AND j.loc < $3 AND o.loc >= $2 AND o.loc < $3 "
		       "AND pg_catalog.get_byte(o.op, 0) IN " +
		       tags +
		       ") changes "
		       "ORDER BY key, loc DESC) last WHERE live";
	}
	// OFFSET 0 keeps the decoder to one call per row (not one per column).
	return "SELECT key, loc, value FROM (SELECT DISTINCT ON (key) key, loc, live, value FROM ("
	       "SELECT (d).key, loc, (d).kind = 'update' AS live, (d).value FROM ("
	       "SELECT o.loc, qmdb.decode_operation(o.op, $4, $5, $6" +
	       kind_arg + ") d FROM qmdb.journal j, " + split +
	       " o WHERE j.db_id = $1 AND j.loc >= $2 - $2 % $7 AND j.loc < $3 AND o.loc >= $2 AND o.loc < $3 OFFSET 0) "
	       "ops WHERE (d).kind IN ('update', 'delete')) changes "
	       "ORDER BY key, loc DESC) last WHERE live";
}

std::vector<Param>
last_writes_params(int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end) {
	std::vector<Param> params = {int4_param(db_id),
	                             int8_param(static_cast<int64>(floor)),
	                             int8_param(static_cast<int64>(end)),
	                             text_param(encoding_name(format.encoding)),
	                             opt_int4_param(format.key_size),
	                             opt_int4_param(format.value_size),
	                             int8_param(static_cast<int64>(JOURNAL_WINDOW))};
	if (format.kind != DbKind::Any)
		params.push_back(text_param(db_kind_name(format.kind)));
	return params;
}

namespace {

constexpr size_t ROW_ADDRESS = sizeof(ItemPointerData);

// Operations handed newest first: each(visit) calls visit(loc, op) for each,
// and stops when it returns false.
using NewestFirst = std::function<void(const std::function<bool(uint64_t loc, ByteView op)> &visit)>;

// The key-set pass: keep each key's first sighting (its last write) among
// operations handed newest first, and write the rows of the live ones,
// each one's address into its key's payload (zeros, which no address is,
// for a key whose last write deletes it). The lookups run on a helper
// thread (FirstSightings) a few chunks behind the reading, and the rows of
// the updates it found are written meanwhile. False when the keys did not
// fit the set's budget (rows may have been written then); *handed counts
// the operations handed before that.
bool
write_first_sightings(KeySet &seen, int32 db_id, const OpFormat &format, NewHeap &heap, const NewestFirst &each,
                      const std::function<void(uint64_t loc)> &live, uint64_t *handed = nullptr) {
	constexpr size_t CHUNK_OPS = 1024, CHUNKS_AHEAD = 4;
	ByteaBuffer key_datum, value_datum;
	bool full = false;
	uint64_t count = 0;
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
			count += chunk.size();
			finder.submit(std::move(chunk));
			chunk = FirstSightings::Chunk();
			while (finder.pending() > CHUNKS_AHEAD)
				write_rows(finder.next());
		};
		each([&](uint64_t loc, ByteView op) {
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
	if (handed)
		*handed = count;
	return !full;
}

// The primary key's entries for the set's keys, in order.
void
index_keys(KeySet &seen, NewBtree &index) {
	uint64_t visited = 0;
	seen.visit_sorted([&](ByteView key, const uint8_t *row_address) {
		if (++visited % 65536 == 0)
			check_for_interrupts();
		ItemPointerData at;
		std::memcpy(&at, row_address, sizeof at);
		if (ItemPointerGetOffsetNumberNoCheck(&at) != InvalidOffsetNumber)
			index.add(key, at);
	});
}

void
check_indexed(const NewBtree &index, const NewHeap &heap) {
	if (index.keys() != heap.rows())
		throw Error(ErrorCode::DataCorrupted, "state rebuild indexed " + std::to_string(index.keys()) + " of " +
		                                          std::to_string(heap.rows()) + " rows");
}

// The key-set way: walk [floor, end) backwards once through one set of
// keys, then write the primary key's index from the set's keys in order,
// with where each row went. No reread of the table, no sort on disk.
// nullopt when the keys do not fit `budget` bytes (rows may have been
// written: the caller truncates); *handed then says how far it got.
std::optional<uint64_t>
load_by_key_set(int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end, size_t budget,
                const std::function<void(uint64_t loc)> &live, uint64_t *handed) {
	KeySet seen(budget, ROW_ADDRESS);
	seen.reserve(static_cast<size_t>(end - floor)); // at most a key an operation
	NewHeap heap(partition_table(db_id));
	JournalTable journal(db_id, format);
	bool fits = write_first_sightings(
	    seen, db_id, format, heap, [&](const auto &visit) { journal.scan_backward(floor, end, visit); }, live, handed);
	heap.finish();
	if (!fits)
		return std::nullopt;
	NewBtree index(partition_table(db_id), partition_key(db_id));
	index_keys(seen, index);
	index.finish();
	check_indexed(index, heap);
	return heap.rows();
}

// The range way, for keys beyond the budget: one walk of the journal
// writes each Update and Delete, newest first, to the temporary file of
// its key's range (even_splitters); then each range, in key order, gets a
// key-set pass of its own: its rows, then its keys into the index, which
// so grows in order. A range whose operations could hold more keys than
// the budget is first cut again, at the quantiles of a sample of its keys
// (keys sharing a prefix crowd one even range). Each operation is written
// and read back once more per cut; memory stays within the budget plus a
// file buffer per range.
class RangeRebuild {
public:
	RangeRebuild(int32 db_id, const OpFormat &format, size_t budget, const std::function<void(uint64_t loc)> &live)
	    : db_id_(db_id), format_(format), budget_(budget), live_(live), heap_(partition_table(db_id)),
	      index_(partition_table(db_id), partition_key(db_id)) {}

	uint64_t run(uint64_t floor, uint64_t end, size_t parts) {
		JournalTable journal(db_id_, format_);
		split(even_splitters(parts), 0, [&](const auto &visit) { journal.scan_backward(floor, end, visit); });
		heap_.finish();
		index_.finish();
		check_indexed(index_, heap_);
		return heap_.rows();
	}

	uint64_t ranges() const { return ranges_; }

private:
	static constexpr size_t MAX_PARTS = 1024; // a file buffer each
	static constexpr int MAX_CUTS = 8;

	// Writes the keyed operations `each` hands to one file per range of
	// `splitters`, then rebuilds the ranges in order.
	void split(const std::vector<Bytes> &splitters, int cuts, const NewestFirst &each) {
		std::vector<std::unique_ptr<SpillFile>> files;
		for (size_t i = 0; i <= splitters.size(); i++)
			files.push_back(std::make_unique<SpillFile>());
		uint64_t n = 0;
		each([&](uint64_t loc, ByteView op) {
			if (++n % 65536 == 0)
				check_for_interrupts();
			OpView o = FirstSightings::read(format_, op);
			if (o.kind == OpKind::Update || o.kind == OpKind::Delete)
				files[range_of(splitters, o.key)]->write(loc, op, o.key.size);
			return true;
		});
		for (auto &f : files) {
			rebuild(*f, cuts);
			f.reset(); // its disk space back before the next range's
		}
	}

	void rebuild(SpillFile &file, int cuts) {
		if (file.count() == 0)
			return;
		auto replay = [&](const auto &visit) {
			file.rewind();
			uint64_t loc;
			ByteView op;
			while (file.read(loc, op) && visit(loc, op)) {
			}
		};
		size_t need = KeySet::memory_for(file.count(), file.key_bytes(), file.longest_key(), ROW_ADDRESS);
		if (need > budget_ && cuts < MAX_CUTS) {
			// Cut this range at its sample's quantiles, into parts that fit.
			size_t parts = std::min(MAX_PARTS, need / budget_ * 2 + 2);
			KeySample sample(parts * 64, budget_ / 4, file.count());
			replay([&](uint64_t, ByteView op) {
				sample.offer(FirstSightings::read(format_, op).key);
				return true;
			});
			std::vector<Bytes> splitters = sample_splitters(sample.keys(), parts);
			if (!splitters.empty()) {
				split(splitters, cuts + 1, replay);
				return;
			}
			// One key throughout the sample: few keys, however many writes.
		}
		ranges_++;
		KeySet seen(budget_, ROW_ADDRESS);
		seen.reserve(static_cast<size_t>(file.count()));
		if (!write_first_sightings(seen, db_id_, format_, heap_, replay, live_))
			throw Error(ErrorCode::LimitExceeded,
			            "the state rebuild could not fit the keys of one range in maintenance_work_mem (" +
			                std::to_string(budget_ >> 10) + " kB): raise it for the sync worker");
		index_keys(seen, index_);
	}

	int32 db_id_;
	const OpFormat &format_;
	size_t budget_;
	const std::function<void(uint64_t loc)> &live_;
	NewHeap heap_;
	NewBtree index_;
	uint64_t ranges_ = 0;
};

// How many even ranges keep each one's worst case (every operation a new
// key) within the budget, with room for the unevenness of real keys.
size_t
parts_for(size_t need, size_t budget) {
	if (need <= budget)
		return 1;
	size_t parts = static_cast<size_t>(static_cast<double>(need) * 1.15 / static_cast<double>(budget)) + 1;
	return std::clamp<size_t>(parts, 2, 1024);
}

// The sort way, under wal_level = logical: the last write of each key by
// one sorted query (it spills to disk as it must), its rows in by ordinary
// multi-inserts, which logical decoding sees, instead of page images.
uint64_t
load_by_sort(Spi &spi, int32 db_id, const OpFormat &format, uint64_t floor, uint64_t end,
             const std::function<void(uint64_t loc)> &live) {
	// Sorting is maintenance work, like building an index: give it that budget.
	spi.exec("SELECT pg_catalog.set_config('work_mem', pg_catalog.current_setting('maintenance_work_mem'), true)", {});
	spi.open_cursor(last_writes_query(format).c_str(), last_writes_params(db_id, format, floor, end));
	std::string table = partition_table(db_id);
	std::vector<Datum> rows;
	uint64_t count = 0;
	for (uint64 n; (n = spi.fetch(10000)) > 0;) {
		check_for_interrupts();
		rows.clear();
		for (uint64 i = 0; i < n; i++) {
			int64 loc = spi.i64(i, 1);
			Datum row[4] = {Int32GetDatum(db_id), spi.datum(i, 0), Int64GetDatum(loc), spi.datum(i, 2)};
			rows.insert(rows.end(), row, row + 4);
			live(static_cast<uint64_t>(loc));
		}
		bulk_insert(table.c_str(), 4, n, rows); // the Datums point into this fetch's rows
		count += n;
	}
	spi.close_cursor();
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
	size_t budget = static_cast<size_t>(maintenance_work_mem) * 1024;
	std::optional<uint64_t> count;
	*plain_reason = "";
	if (!decodable) {
		uint64_t ops = end - floor;
		// Fixed-size keys tell up front whether one set can fit; others
		// find out by trying, and how far the try got sizes the ranges.
		size_t parts = 1;
		if (format.key_size)
			parts = parts_for(KeySet::memory_for(ops, ops * *format.key_size, *format.key_size, ROW_ADDRESS), budget);
		if (parts == 1) {
			uint64_t handed = 0;
			count = load_by_key_set(db_id, format, floor, end, budget, live, &handed);
			if (!count) {
				// Rows the partial pass wrote go; the live locations it
				// reported were right (each a key's last write) and are
				// reported again.
				spi.exec_once("TRUNCATE " + table);
				parts = std::min<size_t>(1024, std::max<uint64_t>(2, ops * 3 / 2 / std::max<uint64_t>(handed, 1) + 1));
			}
		}
		if (!count) {
			RangeRebuild ranges(db_id, format, budget, live);
			count = ranges.run(floor, end, parts);
			*plain_reason =
			    "in " + std::to_string(ranges.ranges()) + " key ranges: the keys exceed maintenance_work_mem";
		}
	}
	// The key set is gone: hand its memory back.
	malloc_trim(0);
	if (count) {
		spi.exec_once("ALTER TABLE " + table + " ADD PRIMARY KEY USING INDEX " + partition_key(db_id));
	} else {
		*plain_reason = "wal_level = logical: rows inserted for logical decoding";
		// The index is built by CREATE INDEX's sort once the rows are in.
		spi.exec_once("DROP INDEX qmdb." + partition_key(db_id));
		count = load_by_sort(spi, db_id, format, floor, end, live);
		spi.exec_once("ALTER TABLE " + table + " ADD PRIMARY KEY (key)");
	}
	spi.exec_once("ALTER TABLE " + table + " SET (fillfactor = 80)");
	spi.exec_once("ALTER TABLE qmdb.state ATTACH PARTITION " + table + " FOR VALUES IN (" + id + ")");
	spi.exec_once("ALTER TABLE " + table + " DROP CONSTRAINT state_" + id + "_db_id");
	return *count;
}

} // namespace qmdb::pg
