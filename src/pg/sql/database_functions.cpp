// SQL functions that create, write, prune and drop authenticated databases.
#include "../datum.h"
#include "../spi.h"
#include "../staging.h"
#include "../store/table_db.h"
#include "../sync/job.h"

using namespace qmdb;
using namespace qmdb::pg;

namespace {

Datum
commit_result(FunctionCallInfo fcinfo, const CommitResult &r) {
	Datum values[3];
	bool nulls[3] = {false, false, false};
	values[0] = PointerGetDatum(to_bytea(r.root));
	values[1] = Int64GetDatum(static_cast<int64>(r.size));
	values[2] = Int64GetDatum(static_cast<int64>(r.floor));
	return tuple_datum(fcinfo, values, nulls);
}

void
check_writable(const TableDatabase &db) {
	if (db.info().role == "syncing")
		throw Error(ErrorCode::InvalidArgument,
		            "qmdb database \"" + db.info().name + "\" is being synced and cannot be written");
	// A replica holds what its source committed, verified; a local write
	// would make it another history. promote ends that first.
	if (db.info().role == "replica")
		throw Error(ErrorCode::ReadOnly, "qmdb database \"" + db.info().name +
		                                     "\" is a replica: it changes only through sync (qmdb.promote('" +
		                                     db.info().name + "') makes it a writable source)");
}

// Arguments n and n + 1 as keys[] and vals[] of equal length, into
// mutations (duplicates: the last wins). A NULL value deletes, unless the
// kind never deletes (`deletes` names it for the error).
Mutations
key_value_args(FunctionCallInfo fcinfo, int n, const char *deletes = nullptr) {
	auto keys = bytea_array_arg(fcinfo, n, "keys");
	auto vals = bytea_array_arg(fcinfo, n + 1, "vals");
	if (keys.size() != vals.size())
		throw Error(ErrorCode::InvalidArgument, "keys and vals must have the same length (" +
		                                            std::to_string(keys.size()) + " keys, " +
		                                            std::to_string(vals.size()) + " values)");
	Mutations m;
	for (size_t i = 0; i < keys.size(); i++) {
		if (!keys[i])
			throw Error(ErrorCode::NullValue, "keys[" + std::to_string(i + 1) + "] is NULL");
		if (deletes && !vals[i])
			throw Error(ErrorCode::NullValue, "vals[" + std::to_string(i + 1) + "] is NULL: " + deletes);
		m[std::move(*keys[i])] = std::move(vals[i]);
	}
	return m;
}

// The floor argument of set_batch and append_batch (NULL: the database's).
std::optional<uint64_t>
floor_arg(FunctionCallInfo fcinfo, int n) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	return location_arg(fcinfo, n, "floor");
}

// One batch into database `name`, its row locked, as `write` does it.
template <typename Write>
Datum
commit_batch(FunctionCallInfo fcinfo, const std::string &name, Write write) {
	CommitResult r;
	{
		Spi spi;
		TableDatabase db(spi, name, true, TableDatabase::Access::Any);
		check_writable(db);
		r = write(db);
	}
	return commit_result(fcinfo, r);
}

} // namespace

// qmdb.create_database(name, encoding, key_size, value_size, kind) -> (root, size, floor)
QMDB_FUNCTION(qmdb_create_database) {
	std::string name = text_arg(fcinfo, 0, "name");
	if (name.empty() || name.size() > 63)
		throw Error(ErrorCode::InvalidArgument, "a database name has 1 to 63 bytes");
	OpFormat format = format_args(fcinfo, 1, 4);
	CommitResult r;
	{ // results are built after SPI_finish, in the caller's memory context
		Spi spi;
		TableDatabase::create(spi, name, format);
		TableDatabase db(spi, name, false);
		r = {db.info().root, db.info().size, db.info().floor};
	}
	return commit_result(fcinfo, r);
}

QMDB_FUNCTION(qmdb_drop_database) {
	std::string name = text_arg(fcinfo, 0, "name");
	Spi spi;
	lock_sync_job_for_drop(spi, name); // before the database's row (see there)
	TableDatabase db(spi, name, true, TableDatabase::Access::Any);
	db.drop();
	PG_RETURN_VOID();
}

// qmdb.write(db, key, value): stage in this transaction; NULL value deletes.
QMDB_FUNCTION(qmdb_write) {
	std::string name = text_arg(fcinfo, 0, "db");
	Bytes key = bytes_arg(fcinfo, 1, "key");
	std::optional<Bytes> value = opt_bytes_arg(fcinfo, 2);
	{
		Spi spi;
		TableDatabase db(spi, name, false, TableDatabase::Access::Any);
		check_writable(db);
		db.check_key_value_writes();
		db.info().format.check_key(key);
		if (value)
			db.info().format.check_value(*value);
	}
	stage_write(name, std::move(key), std::move(value));
	PG_RETURN_VOID();
}

// qmdb.commit(db, metadata) -> (root, size, floor): applies the staged writes
// (possibly none: an empty batch still commits).
QMDB_FUNCTION(qmdb_commit) {
	std::string name = text_arg(fcinfo, 0, "db");
	std::optional<Bytes> metadata = opt_bytes_arg(fcinfo, 1);
	return commit_batch(fcinfo, name, [&](TableDatabase &db) { return db.apply(take_staged(name), metadata); });
}

// qmdb.apply_batch(db, keys[], vals[], metadata): one call, one commit.
// Duplicate keys: the last wins. A NULL value deletes.
QMDB_FUNCTION(qmdb_apply_batch) {
	std::string name = text_arg(fcinfo, 0, "db");
	Mutations m = key_value_args(fcinfo, 1);
	std::optional<Bytes> metadata = opt_bytes_arg(fcinfo, 3);
	return commit_batch(fcinfo, name, [&](TableDatabase &db) { return db.apply(m, metadata); });
}

// qmdb.set_batch(db, keys[], vals[], metadata, floor): an immutable
// database's sets, in key order (the last of duplicate keys wins).
QMDB_FUNCTION(qmdb_set_batch) {
	std::string name = text_arg(fcinfo, 0, "db");
	Mutations m = key_value_args(fcinfo, 1, "an immutable database never deletes a key");
	std::optional<Bytes> metadata = opt_bytes_arg(fcinfo, 3);
	std::optional<uint64_t> floor = floor_arg(fcinfo, 4);
	return commit_batch(fcinfo, name, [&](TableDatabase &db) { return db.set_keys(m, metadata, floor); });
}

// qmdb.append_batch(db, vals[], metadata, floor): a keyless database's
// appends, in the order given.
QMDB_FUNCTION(qmdb_append_batch) {
	std::string name = text_arg(fcinfo, 0, "db");
	auto vals = bytea_array_arg(fcinfo, 1, "vals");
	std::optional<Bytes> metadata = opt_bytes_arg(fcinfo, 2);
	std::optional<uint64_t> floor = floor_arg(fcinfo, 3);
	std::vector<Bytes> values;
	values.reserve(vals.size());
	for (size_t i = 0; i < vals.size(); i++) {
		if (!vals[i])
			throw Error(ErrorCode::NullValue, "vals[" + std::to_string(i + 1) + "] is NULL");
		values.push_back(std::move(*vals[i]));
	}
	return commit_batch(fcinfo, name, [&](TableDatabase &db) { return db.append_values(values, metadata, floor); });
}

// qmdb.prune(db, loc) -> the new pruning boundary.
QMDB_FUNCTION(qmdb_prune) {
	std::string name = text_arg(fcinfo, 0, "db");
	uint64_t loc = location_arg(fcinfo, 1, "loc");
	Spi spi;
	TableDatabase db(spi, name, true);
	PG_RETURN_INT64(static_cast<int64>(db.prune(loc)));
}
