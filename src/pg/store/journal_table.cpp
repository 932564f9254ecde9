#include "journal_table.h"
#include "bulk_insert.h"

namespace qmdb::pg {

namespace {

uint64_t
window_start(uint64_t loc) {
	return loc - loc % JOURNAL_WINDOW;
}

// The lower bound of a range scan for rows holding `loc` or later.
Param
first_row_param(uint64_t loc) {
	return int8_param(static_cast<int64>(window_start(loc)));
}

} // namespace

std::vector<ByteView>
JournalTable::split(ByteView row, uint64_t loc) const {
	std::vector<ByteView> parts;
	try {
		parts = split_ops(format_, row);
	} catch (const DecodeError &e) {
		throw Error(ErrorCode::DataCorrupted,
		            "journal row at " + std::to_string(loc) + " does not split into operations: " + e.what());
	}
	if (parts.empty() || loc + parts.size() > window_start(loc) + JOURNAL_WINDOW)
		throw Error(ErrorCode::DataCorrupted, "journal row at " + std::to_string(loc) + " holds " +
		                                          std::to_string(parts.size()) + " operations, outside its window");
	return parts;
}

void
JournalTable::append(uint64_t next_loc, const std::vector<Bytes> &ops) {
	std::vector<int64> locs;
	std::vector<Bytes> rows;
	uint64_t loc = next_loc;
	for (size_t i = 0; i < ops.size(); loc++, i++) {
		bool new_row =
		    rows.empty() || loc % JOURNAL_WINDOW == 0 || rows.back().size() + ops[i].size() > JOURNAL_ROW_BYTES;
		if (new_row) {
			locs.push_back(static_cast<int64>(loc));
			rows.emplace_back();
			rows.back().reserve(JOURNAL_ROW_BYTES);
		}
		rows.back().insert(rows.back().end(), ops[i].begin(), ops[i].end());
	}
	insert_keyed_rows("journal", db_id_, locs, rows);
}

std::vector<Bytes>
JournalTable::read(uint64_t start, uint64_t end) const {
	std::vector<Bytes> out;
	if (start >= end)
		return out;
	out.reserve(end - start);
	uint64 n = spi_->exec("SELECT loc, ops FROM qmdb.journal WHERE db_id = $1 AND loc >= $2 AND loc < $3 ORDER BY loc",
	                      {int4_param(db_id_), first_row_param(start), int8_param(static_cast<int64>(end))});
	uint64_t expect = start;
	for (uint64 r = 0; r < n && expect < end; r++) {
		uint64_t loc = static_cast<uint64_t>(spi_->i64(r, 0));
		std::vector<ByteView> parts = split(spi_->view(r, 1), loc); // the row in place: no copy
		if (loc + parts.size() <= start)
			continue; // a row of the first window ending before the range
		if (loc > expect || (expect > start && loc != expect))
			break; // a gap or an overlap: reported below
		for (uint64_t i = expect - loc; i < parts.size() && expect < end; i++, expect++)
			out.push_back(parts[i].to_bytes());
	}
	if (expect != end)
		throw Error(ErrorCode::DataCorrupted, "journal operation " + std::to_string(expect) + " is missing (reading [" +
		                                          std::to_string(start) + ", " + std::to_string(end) + "))");
	return out;
}

uint64_t
JournalTable::bytes(uint64_t start, uint64_t end) const {
	if (start >= end)
		return 0;
	// A row starting at or after `start` whose window ends by `end` lies
	// inside; any other may reach past an end and is split.
	uint64 n = spi_->exec(
	    "SELECT loc, pg_catalog.octet_length(ops)::int8, CASE WHEN loc < $4 OR loc - loc % $5 + $5 > $3 THEN ops END "
	    "FROM qmdb.journal WHERE db_id = $1 AND loc >= $2 AND loc < $3",
	    {int4_param(db_id_), first_row_param(start), int8_param(static_cast<int64>(end)),
	     int8_param(static_cast<int64>(start)), int8_param(static_cast<int64>(JOURNAL_WINDOW))});
	uint64_t total = 0;
	for (uint64 r = 0; r < n; r++) {
		if (spi_->is_null(r, 2)) {
			total += static_cast<uint64_t>(spi_->i64(r, 1));
			continue;
		}
		uint64_t loc = static_cast<uint64_t>(spi_->i64(r, 0));
		std::vector<ByteView> parts = split(spi_->view(r, 2), loc);
		for (uint64_t i = 0; i < parts.size(); i++)
			if (loc + i >= start && loc + i < end)
				total += parts[i].size;
	}
	return total;
}

std::optional<JournalTable::Cut>
JournalTable::cut_at(uint64_t loc) const {
	if (loc % JOURNAL_WINDOW == 0)
		return std::nullopt; // rows never cross a window's start
	// Only the last row starting before loc in its window can reach it.
	if (spi_->exec("SELECT loc, ops FROM qmdb.journal WHERE db_id = $1 AND loc >= $2 AND loc < $3 "
	               "ORDER BY loc DESC LIMIT 1",
	               {int4_param(db_id_), first_row_param(loc), int8_param(static_cast<int64>(loc))}) == 0)
		return std::nullopt;
	Cut cut{static_cast<uint64_t>(spi_->i64(0, 0)), spi_->bytes(0, 1), 0};
	std::vector<ByteView> parts = split(cut.ops, cut.loc);
	if (cut.loc + parts.size() <= loc)
		return std::nullopt; // the row ends below loc
	for (uint64_t i = 0; i < loc - cut.loc; i++)
		cut.below += parts[i].size;
	return cut;
}

void
JournalTable::drop_below(uint64_t loc) {
	std::optional<Cut> cut = cut_at(loc);
	spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1 AND loc < $2",
	           {int4_param(db_id_), int8_param(static_cast<int64>(loc))});
	if (cut) // the row's operations from loc on, as a row starting at loc
		spi_->exec("INSERT INTO qmdb.journal (db_id, loc, ops) VALUES ($1, $2, $3)",
		           {int4_param(db_id_), int8_param(static_cast<int64>(loc)),
		            bytea_param(ByteView(cut->ops.data() + cut->below, cut->ops.size() - cut->below))});
}

void
JournalTable::drop_from(uint64_t loc) {
	std::optional<Cut> cut = cut_at(loc);
	spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1 AND loc >= $2",
	           {int4_param(db_id_), int8_param(static_cast<int64>(loc))});
	if (cut) // the row keeps its operations below loc
		spi_->exec(
		    "UPDATE qmdb.journal SET ops = pg_catalog.substr(ops, 1, $3::int4) WHERE db_id = $1 AND loc = $2",
		    {int4_param(db_id_), int8_param(static_cast<int64>(cut->loc)), int8_param(static_cast<int64>(cut->below))});
}

bool
JournalTable::scan_backward(uint64_t start, uint64_t end,
                            const std::function<bool(uint64_t loc, ByteView op)> &visit) const {
	// Up to 64 rows at a time, newest first, each query bounded to 64
	// windows below the last row read. The bound is what keeps every plan
	// cheap: over the whole range below, the planner may sort (or
	// bitmap-scan and sort) every row to return 64, and with fresh
	// statistics it does. The LIMIT bounds memory when operations are big.
	const uint64 page = 64;
	const uint64_t span = page * JOURNAL_WINDOW, lowest = window_start(start);
	bool more = true, gap = false;
	uint64_t expect = end; // [expect, end) has been visited
	uint64_t below = end;  // rows still to read start below this
	while (more && !gap && expect > start && below > lowest) {
		uint64_t from = std::max(lowest, below > span ? window_start(below - span) : 0);
		uint64 n = spi_->exec("SELECT loc, ops FROM qmdb.journal WHERE db_id = $1 AND loc >= $2 AND loc < $3 "
		                      "ORDER BY loc DESC LIMIT $4",
		                      {int4_param(db_id_), int8_param(static_cast<int64>(from)),
		                       int8_param(static_cast<int64>(below)), int8_param(static_cast<int64>(page))});
		below = n == page ? static_cast<uint64_t>(spi_->i64(n - 1, 0)) : from;
		for (uint64 r = 0; more && !gap && expect > start && r < n; r++) {
			uint64_t loc = static_cast<uint64_t>(spi_->i64(r, 0));
			ByteView row = spi_->view(r, 1);
			std::vector<ByteView> parts = split(row, loc);
			// Rows come newest first: each must hold the location just below
			// what was visited (the first may also run past `end`).
			if (loc >= expect || loc + parts.size() < expect) {
				gap = true;
				break;
			}
			for (uint64_t l = expect; more && l > std::max(loc, start);) {
				l--;
				more = visit(l, parts[l - loc]);
				expect = l;
			}
		}
	}
	if (more && expect > start)
		throw Error(ErrorCode::DataCorrupted, "journal operation " + std::to_string(expect - 1) +
		                                          " is missing (reading [" + std::to_string(start) + ", " +
		                                          std::to_string(end) + ") backwards)");
	return more;
}

void
JournalTable::drop_all() {
	spi_->exec("DELETE FROM qmdb.journal WHERE db_id = $1", {int4_param(db_id_)});
}

} // namespace qmdb::pg
