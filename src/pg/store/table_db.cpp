#include "table_db.h"
#include "bulk_insert.h"
#include "state_table.h"
#include "../sync/job.h"

#include "core/mmr.h"

#include <cstring>

namespace qmdb::pg {

static OpFormat
format_of(const std::string &kind, const std::string &encoding, std::optional<int64> key_size,
          std::optional<int64> value_size) {
	OpFormat f;
	std::optional<DbKind> k = db_kind_from_name(kind);
	if (!k)
		throw Error(ErrorCode::DataCorrupted, "unknown database kind \"" + kind + "\"");
	f.kind = *k;
	f.encoding = encoding == "fixed" ? Encoding::Fixed : Encoding::Variable;
	if (key_size)
		f.key_size = static_cast<uint32_t>(*key_size);
	if (value_size)
		f.value_size = static_cast<uint32_t>(*value_size);
	return f;
}

TableDatabase::TableDatabase(Spi &spi, const std::string &name, bool lock, Access access) : spi_(spi) {
	// A schema from before 0.4.0 (this library, before ALTER EXTENSION
	// UPDATE) has no kind column: every database there is `any`.
	const char *sql_lock = "SELECT id, encoding, key_size::int8, value_size::int8, size, floor, pruning_boundary, "
	                       "active_keys, root, role, COALESCE(pg_catalog.to_jsonb(d) ->> 'kind', 'any') "
	                       "FROM qmdb.databases d WHERE name = $1 FOR UPDATE";
	const char *sql_read = "SELECT id, encoding, key_size::int8, value_size::int8, size, floor, pruning_boundary, "
	                       "active_keys, root, role, COALESCE(pg_catalog.to_jsonb(d) ->> 'kind', 'any') "
	                       "FROM qmdb.databases d WHERE name = $1";
	if (spi_.exec(lock ? sql_lock : sql_read, {text_param(name)}) == 0)
		throw Error(ErrorCode::NotFound, "qmdb database \"" + name + "\" does not exist");
	info_.id = static_cast<int32>(spi_.i64(0, 0));
	info_.name = name;
	info_.format = format_of(spi_.str(0, 10), spi_.str(0, 1), spi_.opt_int8(0, 2), spi_.opt_int8(0, 3));
	info_.size = static_cast<uint64_t>(spi_.i64(0, 4));
	info_.floor = static_cast<uint64_t>(spi_.i64(0, 5));
	info_.pruning_boundary = static_cast<uint64_t>(spi_.i64(0, 6));
	info_.active_keys = static_cast<uint64_t>(spi_.i64(0, 7));
	info_.role = spi_.str(0, 9);
	if (info_.role == "syncing") {
		if (access == Access::Verified)
			throw Error(ErrorCode::NotReady, "qmdb database \"" + name +
			                                     "\" is being synced and has no verified state yet (see "
			                                     "qmdb.sync_status)");
	} else {
		Bytes root = spi_.bytes(0, 8);
		if (root.size() != 32)
			throw Error(ErrorCode::DataCorrupted, "stored root is not 32 bytes");
		std::memcpy(info_.root.data(), root.data(), 32);
	}
	nodes_ = NodeTable(info_.id, location_to_position(info_.size));
	nodes_.attach(spi_);
	journal_ = JournalTable(info_.id, info_.format);
	journal_.attach(spi_);
}

void
TableDatabase::create(Spi &spi, const std::string &name, const OpFormat &format) {
	format.validate();
	if (spi.exec("SELECT 1 FROM qmdb.databases WHERE name = $1", {text_param(name)}) != 0)
		throw Error(ErrorCode::AlreadyExists, "qmdb database \"" + name + "\" already exists");
	// The initial state: one operation, CommitFloor(None, 0).
	Hasher hasher;
	Bytes op = encode_op(format, Operation::commit(std::nullopt, 0));
	MemoryNodeStore nodes;
	Mmr mmr;
	mmr.append(hasher, nodes, op);
	Digest root = mmr.root(hasher, 0);
	// Before 0.4.0's schema (no kind column), only `any` databases.
	spi.exec(
	    "SELECT count(*)::int4 FROM pg_catalog.pg_attribute WHERE attrelid = 'qmdb.databases'::pg_catalog.regclass "
	    "AND attname = 'kind' AND NOT attisdropped",
	    {});
	bool has_kind = spi.i32(0, 0) > 0;
	if (!has_kind && format.kind != DbKind::Any)
		require_current_schema(spi);
	std::vector<Param> params = {text_param(name), text_param(encoding_name(format.encoding)),
	                             opt_int4_param(format.key_size), opt_int4_param(format.value_size), bytea_param(root)};
	if (has_kind)
		params.push_back(text_param(db_kind_name(format.kind)));
	spi.exec(has_kind ? "INSERT INTO qmdb.databases (name, encoding, key_size, value_size, size, floor, root, kind) "
	                    "VALUES ($1, $2, $3, $4, 1, 0, $5, $6) RETURNING id"
	                  : "INSERT INTO qmdb.databases (name, encoding, key_size, value_size, size, floor, root) "
	                    "VALUES ($1, $2, $3, $4, 1, 0, $5) RETURNING id",
	         params);
	int64 id = spi.i32(0, 0);
	spi.exec("INSERT INTO qmdb.journal (db_id, loc, ops) VALUES ($1, 0, $2)",
	         {int4_param(static_cast<int32>(id)), bytea_param(op)});
	spi.exec("INSERT INTO qmdb.nodes (db_id, chunk, digests) VALUES ($1, 0, $2)",
	         {int4_param(static_cast<int32>(id)), bytea_param(*nodes.get(0))});
	Bytes bits(BITS_PER_CHUNK / 8, 0);
	bits[0] = 1; // the initial commit is the last operation, so it is active
	spi.exec("INSERT INTO qmdb.bitmap (db_id, chunk, bits) VALUES ($1, 0, $2)",
	         {int4_param(static_cast<int32>(id)), bytea_param(bits)});
	create_state_partition(spi, static_cast<int32>(id));
}

void
TableDatabase::delete_data(Spi &spi, int32 db_id) {
	for (const char *sql :
	     {"DELETE FROM qmdb.journal WHERE db_id = $1", "DELETE FROM qmdb.nodes WHERE db_id = $1",
	      "DELETE FROM qmdb.pins WHERE db_id = $1", "DELETE FROM qmdb.bitmap WHERE db_id = $1",
	      "DELETE FROM qmdb.signing_keys WHERE db_id = $1", "DELETE FROM qmdb.checkpoints WHERE db_id = $1"})
		spi.exec(sql, {int4_param(db_id)});
	drop_state_partition(spi, db_id);
}

void
TableDatabase::drop() {
	// The job that made this database goes with it, so the name can be
	// synced again. (qmdb.drop_database refused a live one first.)
	delete_sync_job(spi_, info_.id);
	delete_data(spi_, info_.id);
	spi_.exec("DELETE FROM qmdb.databases WHERE id = $1", {int4_param(info_.id)});
}

void
TableDatabase::prefetch_locations(const Mutations &mutations) {
	std::vector<const Bytes *> keys;
	for (const auto &m : mutations) {
		keys.push_back(&m.first);
		locations_[m.first] = std::nullopt;
	}
	std::vector<int64> locs = state_locations(info_.id, keys);
	for (size_t i = 0; i < keys.size(); i++)
		if (locs[i] >= 0)
			locations_[*keys[i]] = static_cast<uint64_t>(locs[i]);
}

std::optional<uint64_t>
TableDatabase::location_of(const Bytes &key) {
	auto it = locations_.find(key);
	if (it != locations_.end())
		return it->second;
	uint64 n =
	    spi_.exec("SELECT loc FROM qmdb.state WHERE db_id = $1 AND key = $2", {int4_param(info_.id), bytea_param(key)});
	std::optional<uint64_t> loc = n ? std::optional<uint64_t>(spi_.i64(0, 0)) : std::nullopt;
	locations_[key] = loc;
	return loc;
}

Operation
TableDatabase::read(uint64_t loc) {
	// The floor scan walks up from the floor. Inactive locations are known
	// from the bitmap alone; active ones are read from the journal a range
	// at a time (one index range scan; only active operations are decoded).
	// The scan only goes up: clean bitmap rows below it are not needed
	// again (a long inactive run would otherwise keep every row it crossed).
	for (auto it = bitmap_.begin(); it != bitmap_.end() && it->first < loc / BITS_PER_CHUNK;)
		it = bitmap_dirty_.count(it->first) ? std::next(it) : bitmap_.erase(it);
	if (!active_bit(loc))
		return Operation::commit(std::nullopt, 0); // not an active Update
	if (loc < window_start_ || loc >= window_end_) {
		window_.clear();
		window_start_ = loc;
		window_end_ = std::min(info_.size, loc + 2048);
		std::vector<Bytes> ops = journal_.read(window_start_, window_end_);
		for (uint64_t at = window_start_; at < window_end_; at++) {
			if (!active_bit(at))
				continue;
			Operation op = decode_op(info_.format, ops[at - window_start_]);
			if (op.kind == OpKind::Update)
				locations_.emplace(op.key, at); // active: the key's current location
			window_[at] = std::move(op);
		}
	}
	auto it = window_.find(loc);
	if (it == window_.end())
		throw Error(ErrorCode::DataCorrupted,
		            "bitmap marks " + std::to_string(loc) + " active but the journal has no row");
	return it->second;
}

Bytes &
TableDatabase::bitmap_chunk(uint64_t index) {
	auto it = bitmap_.find(index);
	if (it != bitmap_.end())
		return it->second;
	uint64 n = spi_.exec("SELECT bits FROM qmdb.bitmap WHERE db_id = $1 AND chunk = $2",
	                     {int4_param(info_.id), int8_param(static_cast<int64>(index))});
	Bytes bits = n ? spi_.bytes(0, 0) : Bytes();
	bits.resize(BITS_PER_CHUNK / 8, 0);
	return bitmap_[index] = std::move(bits);
}

void
TableDatabase::forget_bitmap_rows() {
	if (!bitmap_dirty_.empty())
		throw Error(ErrorCode::Internal, "forget_bitmap_rows with unwritten bitmap rows");
	bitmap_.clear();
}

bool
TableDatabase::active_bit(uint64_t loc) {
	return bitmap_bit(bitmap_chunk(loc / BITS_PER_CHUNK), loc);
}

void
TableDatabase::set_active_bit(uint64_t loc, bool on) {
	set_bitmap_bit(bitmap_chunk(loc / BITS_PER_CHUNK), loc, on);
	bitmap_dirty_[loc / BITS_PER_CHUNK] = true;
}

void
TableDatabase::flush_bitmap() {
	if (bitmap_dirty_.empty())
		return;
	std::vector<int64> indexes;
	std::vector<const Bytes *> rows;
	for (const auto &d : bitmap_dirty_) {
		indexes.push_back(static_cast<int64>(d.first));
		rows.push_back(&bitmap_.at(d.first));
	}
	spi_.exec(
	    "INSERT INTO qmdb.bitmap (db_id, chunk, bits) SELECT $1, c, b FROM unnest($2::int8[], $3::bytea[]) AS t(c, b) "
	    "ON CONFLICT (db_id, chunk) DO UPDATE SET bits = EXCLUDED.bits",
	    {int4_param(info_.id), int8_array_param(indexes), bytea_array_param(rows)});
	bitmap_dirty_.clear();
}

// Rows of the state partition a batch changes: live keys that move (HOT
// updates: only the key is indexed), new keys, and keys deleted.
struct StateChanges {
	std::vector<const Bytes *> update_keys, update_values, insert_keys, insert_values, delete_keys;
	std::vector<int64> update_locs, insert_locs;

	void put(const Bytes &key, uint64_t loc, const Bytes &value, bool live) {
		(live ? update_keys : insert_keys).push_back(&key);
		(live ? update_locs : insert_locs).push_back(static_cast<int64>(loc));
		(live ? update_values : insert_values).push_back(&value);
	}
	void write(Spi &spi, int32 db_id) const {
		Param id = int4_param(db_id);
		if (!update_keys.empty())
			spi.exec(
			    "UPDATE qmdb.state s SET loc = t.l, value = t.v FROM unnest($2::bytea[], $3::int8[], "
			    "$4::bytea[]) AS t(k, l, v) WHERE s.db_id = $1 AND s.key = t.k",
			    {id, bytea_array_param(update_keys), int8_array_param(update_locs), bytea_array_param(update_values)});
		if (!insert_keys.empty())
			spi.exec(
			    "INSERT INTO qmdb.state (db_id, key, loc, value) "
			    "SELECT $1, k, l, v FROM unnest($2::bytea[], $3::int8[], $4::bytea[]) AS t(k, l, v)",
			    {id, bytea_array_param(insert_keys), int8_array_param(insert_locs), bytea_array_param(insert_values)});
		if (!delete_keys.empty())
			spi.exec("DELETE FROM qmdb.state WHERE db_id = $1 AND key = ANY($2)", {id, bytea_array_param(delete_keys)});
	}
};

void
TableDatabase::check_kind(bool ok, const char *instead) const {
	if (!ok)
		throw Error(ErrorCode::WrongKind, "qmdb database \"" + info_.name + "\" is " +
		                                      db_kind_phrase(info_.format.kind) + " database: use " + instead);
}

static const char *
writer_of(DbKind kind) {
	switch (kind) {
	case DbKind::Immutable:
		return "qmdb.set_batch";
	case DbKind::Keyless:
		return "qmdb.append_batch";
	default:
		return "qmdb.apply_batch, or qmdb.write and qmdb.commit";
	}
}

void
TableDatabase::check_key_value_writes() const {
	check_kind(info_.format.kind == DbKind::Any || info_.format.kind == DbKind::Ordered, writer_of(info_.format.kind));
}

void
TableDatabase::check_has_keys() const {
	if (!db_kind_has_keys(info_.format.kind))
		throw Error(ErrorCode::WrongKind,
		            "qmdb database \"" + info_.name + "\" is a keyless database: it has no keys (see qmdb.operations)");
}

CommitResult
TableDatabase::apply(const Mutations &mutations, const std::optional<Bytes> &metadata) {
	check_key_value_writes();
	check_batch(info_.format, mutations, metadata);
	prefetch_locations(mutations);
	if (info_.format.kind != DbKind::Ordered)
		return commit_batch(merkleize_batch(*this, mutations, metadata));
	prefetch_neighbours(mutations);
	return commit_batch(merkleize_ordered_batch(*this, mutations, metadata));
}

CommitResult
TableDatabase::set_keys(const Mutations &sets, const std::optional<Bytes> &metadata, std::optional<uint64_t> floor) {
	check_kind(info_.format.kind == DbKind::Immutable, writer_of(info_.format.kind));
	check_batch(info_.format, sets, metadata);
	prefetch_locations(sets);
	return commit_batch(set_batch(*this, sets, metadata, floor.value_or(info_.floor)));
}

CommitResult
TableDatabase::append_values(const std::vector<Bytes> &values, const std::optional<Bytes> &metadata,
                             std::optional<uint64_t> floor) {
	check_kind(info_.format.kind == DbKind::Keyless, writer_of(info_.format.kind));
	check_batch(info_.format, values, metadata);
	return commit_batch(append_batch(*this, values, metadata, floor.value_or(info_.floor)));
}

void
TableDatabase::prefetch_neighbours(const Mutations &mutations) {
	std::vector<const Bytes *> keys;
	for (const auto &m : mutations)
		keys.push_back(&m.first);
	Param id = int4_param(info_.id);
	// Each a descent of the primary key (LATERAL: a probe a key, whatever the
	// planner thinks of the state's size).
	uint64 n = spi_.exec(
	    "SELECT k.key, p.key, p.loc, p.value, x.key FROM unnest($2::bytea[]) AS k(key) "
	    "LEFT JOIN LATERAL (SELECT s.key, s.loc, s.value FROM qmdb.state s WHERE s.db_id = $1 AND s.key < k.key "
	    "ORDER BY s.key DESC LIMIT 1) p ON true "
	    "LEFT JOIN LATERAL (SELECT s.key FROM qmdb.state s WHERE s.db_id = $1 AND s.key > k.key ORDER BY s.key "
	    "LIMIT 1) x ON true",
	    {id, bytea_array_param(keys)});
	// A live key read with its location and value (columns 1 to 3 of a
	// row, NULL when there is none): all the writer asks of a predecessor.
	auto live_key = [&](uint64 row) -> std::optional<Bytes> {
		if (spi_.is_null(row, 1))
			return std::nullopt;
		Bytes key = spi_.bytes(row, 1);
		locations_.emplace(key, static_cast<uint64_t>(spi_.i64(row, 2)));
		values_[key] = spi_.bytes(row, 3);
		return key;
	};
	for (uint64 i = 0; i < n; i++) {
		Bytes key = spi_.bytes(i, 0);
		prev_key_[key] = live_key(i);
		next_key_[key] = spi_.is_null(i, 4) ? std::nullopt : std::optional<Bytes>(spi_.bytes(i, 4));
	}
	// The writer also steps forward from each predecessor it rewrites: its
	// next live key is the written key when that is live, else the written
	// key's own next (no live key lies between them).
	for (const auto &m : mutations) {
		const std::optional<Bytes> &prev = prev_key_[m.first];
		if (!prev || mutations.count(*prev))
			continue;
		auto loc = locations_.find(m.first);
		bool live = loc != locations_.end() && loc->second;
		next_key_.emplace(*prev, live ? std::optional<Bytes>(m.first) : next_key_[m.first]);
	}
	// The ends, for the cyclic wrap (the last with its value: a predecessor
	// of the first keys).
	n = spi_.exec("SELECT (SELECT key FROM qmdb.state WHERE db_id = $1 ORDER BY key LIMIT 1), l.key, l.loc, l.value "
	              "FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT key, loc, value FROM qmdb.state WHERE db_id = $1 "
	              "ORDER BY key DESC LIMIT 1) l ON true",
	              {id});
	first_key_ = spi_.is_null(0, 0) ? std::nullopt : std::optional<Bytes>(spi_.bytes(0, 0));
	last_key_ = live_key(0);
}

std::pair<uint64_t, Bytes>
TableDatabase::live_entry(const Bytes &key) {
	auto v = values_.find(key);
	std::optional<uint64_t> loc = location_of(key);
	if (!loc)
		throw Error(ErrorCode::DataCorrupted, "ordered writer: a key taken for live has no location");
	if (v != values_.end())
		return {*loc, v->second};
	if (spi_.exec("SELECT value FROM qmdb.state WHERE db_id = $1 AND key = $2",
	              {int4_param(info_.id), bytea_param(key)}) == 0)
		throw Error(ErrorCode::DataCorrupted, "ordered writer: a key taken for live has no row");
	return {*loc, spi_.bytes(0, 0)};
}

std::optional<Bytes>
TableDatabase::live_neighbour(const Bytes *key, bool after) {
	const std::optional<std::optional<Bytes>> &end = after ? first_key_ : last_key_;
	if (!key && end)
		return *end;
	if (key) {
		const auto &known = after ? next_key_ : prev_key_;
		auto it = known.find(*key);
		if (it != known.end())
			return it->second;
	}
	std::string sql = std::string("SELECT key FROM qmdb.state WHERE db_id = $1") +
	                  (key ? (after ? " AND key > $2" : " AND key < $2") : "") + " ORDER BY key" +
	                  (after ? "" : " DESC") + " LIMIT 1";
	std::vector<Param> params = {int4_param(info_.id)};
	if (key)
		params.push_back(bytea_param(*key));
	return spi_.exec(sql.c_str(), params) ? std::optional<Bytes>(spi_.bytes(0, 0)) : std::nullopt;
}

CommitResult
TableDatabase::commit_batch(const Batch &batch) {
	std::vector<Bytes> encoded;
	encoded.reserve(batch.ops.size());
	for (const Operation &op : batch.ops)
		encoded.push_back(encode_op(info_.format, op));
	Param id = int4_param(info_.id);
	journal_.append(batch.base, encoded);

	Mmr mmr(nodes_, info_.size);
	for (const Bytes &op : encoded)
		mmr.append(hasher_, nodes_, op);
	nodes_.flush();
	uint64_t new_size = batch.base + batch.ops.size();
	Digest root = mmr.root(hasher_, inactive_peaks(new_size, batch.floor));

	// State: the writer knows which keys were live (prefetched or scanned),
	// so live keys are updated (HOT: only the key is indexed) and new ones
	// inserted; no speculative upsert.
	StateChanges changes;
	for (const auto &d : batch.diff) {
		if (!d.second) {
			changes.delete_keys.push_back(&d.first);
			continue;
		}
		auto was = locations_.find(d.first);
		bool live = was != locations_.end() && was->second.has_value();
		changes.put(d.first, *d.second, batch.ops[*d.second - batch.base].value, live);
	}
	changes.write(spi_, info_.id);

	// Bitmap: old locations of changed keys and the old commit go inactive;
	// the new locations and the new commit become active.
	for (const auto &d : batch.diff) {
		auto was = locations_.find(d.first);
		if (was != locations_.end() && was->second)
			set_active_bit(*was->second, false);
		if (d.second)
			set_active_bit(*d.second, true);
	}
	set_active_bit(info_.size - 1, false);
	set_active_bit(new_size - 1, true);
	flush_bitmap();
	uint64_t active_keys = batch.active_keys - retire_below_floor(info_.floor, batch.floor);
	spi_.exec("UPDATE qmdb.databases SET size = $2, floor = $3, active_keys = $4, root = $5 WHERE id = $1",
	          {id, int8_param(static_cast<int64>(new_size)), int8_param(static_cast<int64>(batch.floor)),
	           int8_param(static_cast<int64>(active_keys)), bytea_param(root)});
	info_.size = new_size;
	info_.floor = batch.floor;
	info_.active_keys = active_keys;
	info_.root = root;
	return {root, new_size, batch.floor};
}

CommitResult
TableDatabase::advance_replica(uint64_t end) {
	if (end <= info_.size)
		return {info_.root, info_.size, info_.floor};
	Param id = int4_param(info_.id);
	uint64_t floor = info_.floor;
	uint64_t active = info_.active_keys;
	constexpr uint64_t WINDOW = 4096;
	for (uint64_t from = info_.size; from < end; from += WINDOW) {
		uint64_t to = std::min(end, from + WINDOW);
		std::vector<Bytes> ops = journal_.read(from, to);
		// Each key's last write in the window decides (a replay in order).
		std::map<Bytes, std::pair<uint64_t, std::optional<Bytes>>> last;
		for (uint64_t loc = from; loc < to; loc++) {
			Operation op = decode_op(info_.format, ops[loc - from]);
			if (op.kind == OpKind::CommitFloor)
				floor = op.floor;
			else if (op.kind == OpKind::Update)
				last[op.key] = {loc, std::move(op.value)};
			else if (op.kind == OpKind::Delete)
				last[op.key] = {loc, std::nullopt};
		}
		ops.clear();
		if (last.empty())
			continue;
		std::vector<const Bytes *> keys;
		for (const auto &l : last)
			keys.push_back(&l.first);
		std::vector<int64> was = state_locations(info_.id, keys);
		StateChanges changes;
		size_t i = 0;
		for (const auto &l : last) {
			int64 old = was[i++]; // keys and was are in the order of last
			bool live = old >= 0;
			if (live)
				set_active_bit(static_cast<uint64_t>(old), false);
			if (!l.second.second) {
				if (live) {
					changes.delete_keys.push_back(&l.first);
					active--;
				}
				continue;
			}
			set_active_bit(l.second.first, true);
			changes.put(l.first, l.second.first, *l.second.second, live);
			active += live ? 0 : 1;
		}
		changes.write(spi_, info_.id);
		flush_bitmap();
		forget_bitmap_rows();
	}
	// Only the last commit is active.
	set_active_bit(info_.size - 1, false);
	set_active_bit(end - 1, true);
	flush_bitmap();
	active -= retire_below_floor(info_.floor, floor);
	Mmr mmr(nodes_, end);
	Digest root = mmr.root(hasher_, inactive_peaks(end, floor));
	spi_.exec("UPDATE qmdb.databases SET size = $2, floor = $3, active_keys = $4, root = $5 WHERE id = $1",
	          {id, int8_param(static_cast<int64>(end)), int8_param(static_cast<int64>(floor)),
	           int8_param(static_cast<int64>(active)), bytea_param(root)});
	info_.size = end;
	info_.floor = floor;
	info_.active_keys = active;
	info_.root = root;
	return {root, end, floor};
}

uint64_t
TableDatabase::retire_below_floor(uint64_t from, uint64_t to) {
	if (info_.format.kind != DbKind::Immutable || to <= from)
		return 0;
	uint64_t retired = 0;
	constexpr uint64_t WINDOW = 4096;
	for (uint64_t a = from; a < to; a += WINDOW) {
		uint64_t b = std::min(to, a + WINDOW);
		std::vector<uint64_t> active;
		for (uint64_t loc = a; loc < b; loc++)
			if (active_bit(loc))
				active.push_back(loc);
		if (active.empty())
			continue;
		std::vector<Bytes> ops = journal_.read(active.front(), active.back() + 1);
		std::vector<Bytes> keys;
		for (uint64_t loc : active) {
			Operation op = decode_op(info_.format, ops[loc - active.front()]);
			if (op.kind != OpKind::Update)
				continue;
			// Its bit says this Set is the key's current one: the key goes.
			keys.push_back(std::move(op.key));
			set_active_bit(loc, false);
		}
		std::vector<const Bytes *> refs;
		for (const Bytes &k : keys)
			refs.push_back(&k);
		if (!refs.empty())
			spi_.exec("DELETE FROM qmdb.state WHERE db_id = $1 AND key = ANY($2)",
			          {int4_param(info_.id), bytea_array_param(refs)});
		retired += keys.size();
		flush_bitmap();
		forget_bitmap_rows();
	}
	return retired;
}

uint64_t
TableDatabase::prune(uint64_t loc) {
	if (loc > info_.floor)
		throw Error(ErrorCode::InvalidArgument,
		            "cannot prune to " + std::to_string(loc) + ": beyond the floor " + std::to_string(info_.floor));
	if (loc <= info_.pruning_boundary)
		return info_.pruning_boundary;
	Param id = int4_param(info_.id);
	// Keep the peaks of the tree at the new boundary, then drop what lies below.
	std::vector<int64> positions;
	std::vector<Bytes> digests;
	for (uint64_t pos : nodes_to_pin(loc)) {
		auto d = nodes_.get(pos);
		if (!d)
			throw Error(ErrorCode::DataCorrupted, "pinned node " + std::to_string(pos) + " is missing");
		positions.push_back(static_cast<int64>(pos));
		digests.emplace_back(d->begin(), d->end());
	}
	spi_.exec("DELETE FROM qmdb.pins WHERE db_id = $1", {id});
	if (!positions.empty())
		spi_.exec("INSERT INTO qmdb.pins (db_id, pos, digest) SELECT $1, p, d FROM unnest($2::int8[], $3::bytea[]) AS "
		          "t(p, d)",
		          {id, int8_array_param(positions), bytea_array_param(digests)});
	journal_.drop_below(loc);
	// Only whole chunks below the boundary go; a straddling chunk stays.
	spi_.exec("DELETE FROM qmdb.nodes WHERE db_id = $1 AND (chunk + 1) * 32 <= $2",
	          {id, int8_param(static_cast<int64>(location_to_position(loc)))});
	spi_.exec("DELETE FROM qmdb.bitmap WHERE db_id = $1 AND (chunk + 1) * 8192 <= $2",
	          {id, int8_param(static_cast<int64>(loc))});
	spi_.exec("UPDATE qmdb.databases SET pruning_boundary = $2 WHERE id = $1",
	          {id, int8_param(static_cast<int64>(loc))});
	nodes_.drop_cache();
	info_.pruning_boundary = loc;
	return loc;
}

uint64_t
TableDatabase::floor_at(uint64_t n) const {
	if (n == 0 || n > info_.size)
		throw Error(ErrorCode::OutOfRange,
		            "size " + std::to_string(n) + " is outside the database (size " + std::to_string(info_.size) + ")");
	if (n - 1 < info_.pruning_boundary)
		throw Error(ErrorCode::Pruned, "the commit ending size " + std::to_string(n) +
		                                   " is below the pruning boundary " + std::to_string(info_.pruning_boundary));
	Operation op = decode_op(info_.format, journal_.read(n - 1, n)[0]);
	if (op.kind != OpKind::CommitFloor)
		throw Error(ErrorCode::NotCommitBoundary, "size " + std::to_string(n) + " is not a commit boundary");
	if (op.floor > n - 1)
		throw Error(ErrorCode::DataCorrupted, "commit floor beyond its own location");
	return op.floor;
}

std::vector<Bytes>
TableDatabase::read_ops(uint64_t start, uint64_t end) {
	return journal_.read(start, end);
}

uint64_t
TableDatabase::ops_bytes(uint64_t start, uint64_t end) {
	if (info_.format.encoding == Encoding::Fixed)
		return (end - start) * info_.format.fixed_total();
	return journal_.bytes(start, end);
}

} // namespace qmdb::pg
