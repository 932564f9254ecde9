#include "node_table.h"
#include "bulk_insert.h"

#include <cstring>

namespace qmdb::pg {

const Bytes &
NodeTable::chunk(uint64_t index) {
	auto it = chunks_.find(index);
	if (it != chunks_.end())
		return it->second;
	uint64 n = spi_->exec("SELECT digests FROM qmdb.nodes WHERE db_id = $1 AND chunk = $2",
	                      {int4_param(db_id_), int8_param(static_cast<int64>(index))});
	return chunks_[index] = n ? spi_->bytes(0, 0) : Bytes();
}

std::optional<Digest>
NodeTable::get(uint64_t pos) {
	if (pos >= pending_start_ && pos < pending_start_ + pending_.size())
		return pending_[pos - pending_start_];
	// Pins first: the row holding a boundary may be padded below it (after
	// a sync) or pruned (after qmdb.prune); the pins are the truth there.
	if (!pins_loaded_) {
		pins_.clear();
		uint64 n = spi_->exec("SELECT pos, digest FROM qmdb.pins WHERE db_id = $1", {int4_param(db_id_)});
		for (uint64 i = 0; i < n; i++) {
			Bytes b = spi_->bytes(i, 1);
			Digest d;
			std::memcpy(d.data(), b.data(), 32);
			pins_[static_cast<uint64_t>(spi_->i64(i, 0))] = d;
		}
		pins_loaded_ = true;
	}
	auto pin = pins_.find(pos);
	if (pin != pins_.end())
		return pin->second;
	const Bytes &c = chunk(pos / NODES_PER_CHUNK);
	size_t off = (pos % NODES_PER_CHUNK) * 32;
	if (off + 32 > c.size())
		return std::nullopt;
	Digest d;
	std::memcpy(d.data(), c.data() + off, 32);
	return d;
}

void
NodeTable::put(uint64_t pos, const Digest &digest) {
	if (pos != pending_start_ + pending_.size())
		throw Error(ErrorCode::Internal, "MMR nodes must be appended in order");
	pending_.push_back(digest);
}

// The pins of a boundary: what qmdb.pins holds for the database.
static void
write_pins(Spi &spi, int32 db_id, const std::map<uint64_t, Digest> &pins) {
	Param id = int4_param(db_id);
	spi.exec("DELETE FROM qmdb.pins WHERE db_id = $1", {id});
	std::vector<int64> positions;
	std::vector<Bytes> digests;
	for (const auto &p : pins) {
		positions.push_back(static_cast<int64>(p.first));
		digests.emplace_back(p.second.begin(), p.second.end());
	}
	if (!positions.empty())
		spi.exec("INSERT INTO qmdb.pins (db_id, pos, digest) SELECT $1, p, d FROM unnest($2::int8[], $3::bytea[]) AS "
		         "t(p, d)",
		         {id, int8_array_param(positions), bytea_array_param(digests)});
}

void
NodeTable::reset(uint64_t pos, const std::map<uint64_t, Digest> &pins) {
	spi_->exec("DELETE FROM qmdb.nodes WHERE db_id = $1", {int4_param(db_id_)});
	write_pins(*spi_, db_id_, pins);
	chunks_.clear();
	pins_ = pins;
	pins_loaded_ = true;
	pending_.clear();
	pending_start_ = pos;
}

void
NodeTable::rebase(uint64_t pos, const std::map<uint64_t, Digest> &pins) {
	write_pins(*spi_, db_id_, pins);
	// Only whole rows below the boundary go (as qmdb.prune does).
	spi_->exec("DELETE FROM qmdb.nodes WHERE db_id = $1 AND (chunk + 1) * 32 <= $2",
	           {int4_param(db_id_), int8_param(static_cast<int64>(pos))});
	chunks_.clear();
	pins_ = pins;
	pins_loaded_ = true;
}

void
NodeTable::truncate(uint64_t pos) {
	pending_.clear();
	pending_start_ = pos;
	uint64_t index = pos / NODES_PER_CHUNK;
	spi_->exec("DELETE FROM qmdb.nodes WHERE db_id = $1 AND chunk > $2",
	           {int4_param(db_id_), int8_param(static_cast<int64>(index))});
	spi_->exec("UPDATE qmdb.nodes SET digests = substr(digests, 1, $3) WHERE db_id = $1 AND chunk = $2 AND "
	           "length(digests) > $3",
	           {int4_param(db_id_), int8_param(static_cast<int64>(index)),
	            int4_param(static_cast<int32>((pos % NODES_PER_CHUNK) * 32))});
	chunks_.clear();
}

void
NodeTable::flush() {
	if (pending_.empty())
		return;
	std::vector<Bytes> rows;
	uint64_t pos = pending_start_, first = pos / NODES_PER_CHUNK;
	size_t i = 0;
	while (i < pending_.size()) {
		uint64_t index = pos / NODES_PER_CHUNK;
		// Only a row we start in the middle of holds digests to keep.
		Bytes row;
		if (pos % NODES_PER_CHUNK != 0) {
			row = chunk(index);
			row.resize((pos % NODES_PER_CHUNK) * 32);
		}
		while (i < pending_.size() && pos / NODES_PER_CHUNK == index) {
			row.insert(row.end(), pending_[i].begin(), pending_[i].end());
			i++;
			pos++;
		}
		rows.push_back(std::move(row));
	}
	// Only the last row can be partly filled, and so be read back by the
	// next flush: cache it (a sync writes a million rows' worth of digests).
	chunks_[first + rows.size() - 1] = rows.back();
	// Replace the rows wholesale: the first may exist partly filled, and a
	// tree re-hashed after a crash rewrites rows that exist already.
	uint64_t last = first + rows.size() - 1;
	spi_->exec("DELETE FROM qmdb.nodes WHERE db_id = $1 AND chunk BETWEEN $2 AND $3",
	           {int4_param(db_id_), int8_param(static_cast<int64>(first)), int8_param(static_cast<int64>(last))});
	insert_numbered_rows("nodes", db_id_, first, rows);
	pending_start_ = pos;
	pending_.clear();
}

} // namespace qmdb::pg
