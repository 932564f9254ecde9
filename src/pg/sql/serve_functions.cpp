// Serving peers: the handshake and commonware Request -> Response.
#include "../batch_memory.h"
#include "../datum.h"
#include "../gucs.h"
#include "../spi.h"
#include "../store/table_db.h"

#include "core/proof.h"

using namespace qmdb;
using namespace qmdb::pg;

// Version of our peer protocol (the handshake plus commonware's Request and
// Response codecs through qmdb.serve). Bumped on any incompatible change.
constexpr int32 PROTOCOL_VERSION = 1;

// qmdb.hello(db): what a peer needs to know before it sends requests.
QMDB_FUNCTION(qmdb_hello) {
	std::string name = text_arg(fcinfo, 0, "db");
	DbInfo info;
	{
		Spi spi(true);
		TableDatabase db(spi, name, false);
		info = db.info();
	}
	const OpFormat &f = info.format;
	Datum v[16];
	bool n[16] = {};
	v[0] = Int32GetDatum(PROTOCOL_VERSION);
	v[1] = CStringGetTextDatum(PG_QMDB_VERSION);
	v[2] = CStringGetTextDatum("sha256");
	v[3] = CStringGetTextDatum("mmr");
	v[4] = CStringGetTextDatum(encoding_name(f.encoding));
	v[5] = Int32GetDatum(f.key_size ? static_cast<int32>(*f.key_size) : 0);
	n[5] = !f.key_size;
	v[6] = Int32GetDatum(f.value_size ? static_cast<int32>(*f.value_size) : 0);
	n[6] = !f.value_size;
	v[7] = Int32GetDatum(static_cast<int32>(f.max_key_len));
	v[8] = Int32GetDatum(static_cast<int32>(f.max_value_len));
	v[9] = Int64GetDatum(max_serve_ops);
	v[10] = Int64GetDatum(max_response_bytes);
	v[11] = Int64GetDatum(static_cast<int64>(info.size));
	v[12] = Int64GetDatum(static_cast<int64>(info.floor));
	v[13] = Int64GetDatum(static_cast<int64>(info.pruning_boundary));
	v[14] = PointerGetDatum(to_bytea(info.root));
	v[15] = CStringGetTextDatum(db_kind_name(f.kind)); // ignored by a 0.3.0 schema's 15 columns
	return tuple_datum(fcinfo, v, n);
}

// qmdb.serve(db, request) -> response: one commonware Request in, one
// Response out. Caps are checked before any proof is built.
QMDB_FUNCTION(qmdb_serve) {
	keep_batch_memory();
	std::string name = text_arg(fcinfo, 0, "db");
	Request req = decode_request(bytea_view(PG_GETARG_BYTEA_PP(1)));
	if (req.kind == RequestKind::Operations && req.max_ops > static_cast<uint64_t>(max_serve_ops))
		throw Error(ErrorCode::LimitExceeded, "request asks for " + std::to_string(req.max_ops) +
		                                          " operations; qmdb.max_serve_ops is " +
		                                          std::to_string(max_serve_ops));
	Response resp;
	{
		Spi spi(true);
		TableDatabase db(spi, name, false);
		if (req.size > db.size())
			throw Error(ErrorCode::OutOfRange, "requested size " + std::to_string(req.size) +
			                                       " is beyond the database size " + std::to_string(db.size()));
		if (req.start < db.pruning_boundary())
			throw Error(ErrorCode::Pruned, "location " + std::to_string(req.start) + " is below the pruning boundary " +
			                                   std::to_string(db.pruning_boundary()));
		uint64_t end = req.start + std::min(req.max_ops, req.size - req.start);
		// Every digest a proof can need, plus framing, on top of the operations.
		uint64_t estimate = db.ops_bytes(req.start, end) + (MAX_PROOF_DIGESTS_PER_ELEMENT + 64) * 32 + 64;
		if (estimate > static_cast<uint64_t>(max_response_bytes))
			throw Error(ErrorCode::LimitExceeded, "the response would exceed qmdb.max_response_bytes (" +
			                                          std::to_string(max_response_bytes) +
			                                          " bytes); ask for fewer operations");
		resp = serve_request(db.hasher(), db, req);
	}
	// Encoded straight into the bytea returned: a response is hundreds of
	// kilobytes, and a copy of it into fresh memory costs as much as the
	// encoding.
	size_t bound = encoded_response_bound(resp);
	bytea *out = pg_call([&] { return static_cast<bytea *>(palloc(VARHDRSZ + bound)); });
	Writer w(reinterpret_cast<uint8_t *>(VARDATA(out)), bound);
	encode_response(resp, w);
	SET_VARSIZE(out, VARHDRSZ + w.size());
	PG_RETURN_BYTEA_P(out);
}

// qmdb.verify_response(db, root, request, response) -> boolean: check a
// peer's answer the way the sync engine does (decode with the database's
// format and the request's caps, then the range proof, and for a boundary
// response at the root's own size the pinned nodes too).
QMDB_FUNCTION(qmdb_verify_response) {
	std::string name = text_arg(fcinfo, 0, "db");
	ByteView root = bytea_view(PG_GETARG_BYTEA_PP(1));
	if (root.size != 32)
		throw Error(ErrorCode::InvalidArgument, "root must be 32 bytes, got " + std::to_string(root.size));
	Request req = decode_request(bytea_view(PG_GETARG_BYTEA_PP(2)));
	OpFormat format;
	{
		Spi spi(true);
		format = TableDatabase(spi, name, false, TableDatabase::Access::Any).info().format;
	}
	Response resp = decode_response(bytea_view(PG_GETARG_BYTEA_PP(3)), req.max_ops, format);
	Digest expected;
	std::copy(root.begin(), root.end(), expected.begin());
	Hasher hasher;
	std::vector<ByteView> ops(resp.operations.begin(), resp.operations.end());
	bool ok = resp.kind == req.kind && resp.proof.leaves == req.size && !ops.empty() && ops.size() <= req.max_ops;
	if (ok && req.kind == RequestKind::Boundary)
		ok = verify_proof_and_pinned_nodes(hasher, resp.proof, ops, req.start, resp.pinned_nodes, expected);
	else if (ok)
		ok = verify_range_inclusion(hasher, resp.proof, ops, req.start, expected);
	PG_RETURN_BOOL(ok);
}
