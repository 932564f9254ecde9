// SQL access to the wire codecs: encode and inspect the sync messages an
// operator may meet in logs or tests. Read-only, harmless, PUBLIC.
#include "../datum.h"

#include "core/mmr.h"
#include "core/wire.h"

#include <cstring>

using namespace qmdb;
using namespace qmdb::pg;

// qmdb.version() -> text
QMDB_FUNCTION(qmdb_version) {
	(void)fcinfo;
	return CStringGetTextDatum(PG_QMDB_VERSION);
}

// qmdb.encode_request(kind text, size bigint, start bigint, max_ops bigint) -> bytea
QMDB_FUNCTION(qmdb_encode_request) {
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		throw Error(ErrorCode::InvalidArgument, "kind, size and start must not be NULL");
	char *kind = text_to_cstring(PG_GETARG_TEXT_PP(0));
	uint64_t size = location_arg(fcinfo, 1, "size");
	uint64_t start = location_arg(fcinfo, 2, "start");
	Request req;
	if (std::strcmp(kind, "operations") == 0) {
		if (PG_ARGISNULL(3))
			throw Error(ErrorCode::InvalidArgument, "an operations request needs max_ops");
		req = Request::operations(size, start, location_arg(fcinfo, 3, "max_ops"));
		if (req.max_ops == 0)
			throw Error(ErrorCode::InvalidArgument, "max_ops must be positive");
	} else if (std::strcmp(kind, "boundary") == 0) {
		req = Request::boundary(size, start);
	} else {
		throw Error(ErrorCode::InvalidArgument, "request kind must be 'operations' or 'boundary'");
	}
	if (start >= size || size > MAX_LEAVES)
		throw Error(ErrorCode::InvalidArgument, "a request needs start < size <= 2^62");
	Bytes bytes = encode_request(req);
	PG_RETURN_BYTEA_P(to_bytea(bytes));
}

// qmdb.decode_request(bytea) -> (kind text, size bigint, start bigint, max_ops bigint)
QMDB_FUNCTION(qmdb_decode_request) {
	Request req = decode_request(bytea_view(PG_GETARG_BYTEA_PP(0)));
	Datum values[4];
	bool nulls[4] = {false, false, false, false};
	values[0] = CStringGetTextDatum(req.kind == RequestKind::Operations ? "operations" : "boundary");
	values[1] = Int64GetDatum(static_cast<int64>(req.size));
	values[2] = Int64GetDatum(static_cast<int64>(req.start));
	values[3] = Int64GetDatum(static_cast<int64>(req.max_ops));
	return tuple_datum(fcinfo, values, nulls);
}

// qmdb.decode_target(bytea) -> (root bytea, range_start bigint, range_end bigint)
QMDB_FUNCTION(qmdb_decode_target) {
	Target t = decode_target(bytea_view(PG_GETARG_BYTEA_PP(0)));
	Datum values[3];
	bool nulls[3] = {false, false, false};
	values[0] = PointerGetDatum(to_bytea(t.root));
	values[1] = Int64GetDatum(static_cast<int64>(t.start));
	values[2] = Int64GetDatum(static_cast<int64>(t.end));
	return tuple_datum(fcinfo, values, nulls);
}

// qmdb.encode_target(root bytea, range_start bigint, range_end bigint) -> bytea
QMDB_FUNCTION(qmdb_encode_target) {
	ByteView root = bytea_view(PG_GETARG_BYTEA_PP(0));
	if (root.size != 32)
		throw Error(ErrorCode::InvalidArgument, "root must be 32 bytes, got " + std::to_string(root.size));
	Target t;
	std::memcpy(t.root.data(), root.data, 32);
	t.start = location_arg(fcinfo, 1, "range_start");
	t.end = location_arg(fcinfo, 2, "range_end");
	if (t.start >= t.end || t.end > MAX_LEAVES)
		throw Error(ErrorCode::InvalidArgument, "a target needs range_start < range_end <= 2^62");
	Bytes bytes = encode_target(t);
	PG_RETURN_BYTEA_P(to_bytea(bytes));
}

// qmdb.decode_operation(op, encoding, key_size, value_size, db_kind)
//   -> (kind text, key bytea, value bytea, floor bigint, metadata bytea, next_key bytea)
// One operation in SQL terms; the state rebuild after a sync runs it once
// per operation of a variable-size database.
QMDB_FUNCTION(qmdb_decode_operation) {
	if (PG_ARGISNULL(0))
		throw Error(ErrorCode::NullValue, "op must not be NULL");
	OpFormat format = format_args(fcinfo, 1, 4);
	Operation op = decode_op(format, bytea_view(PG_GETARG_BYTEA_PP(0)));
	Datum values[6];
	bool nulls[6];
	operation_datums(op, values, nulls);
	next_key_datum(format, op, &values[5], &nulls[5]);
	return tuple_datum(fcinfo, values, nulls);
}

// qmdb.split_operations(ops, loc, encoding, key_size, value_size, db_kind) -> (loc, op)
// A journal row's operations, one row each, numbered from the row's loc.
QMDB_FUNCTION(qmdb_split_operations) {
	RowSink sink(fcinfo);
	if (PG_ARGISNULL(0))
		throw Error(ErrorCode::NullValue, "ops must not be NULL");
	uint64_t loc = location_arg(fcinfo, 1, "loc");
	OpFormat format = format_args(fcinfo, 2, 5);
	for (ByteView op : split_ops(format, bytea_view(PG_GETARG_BYTEA_PP(0)))) {
		Datum v[2] = {Int64GetDatum(static_cast<int64>(loc++)), PointerGetDatum(to_bytea(op))};
		bool n[2] = {false, false};
		sink.put(v, n);
	}
	return (Datum)0;
}
