// SQL functions that read an authenticated database: decoded operations,
// a full self-check, and proofs for applications that verify ranges.
#include "../datum.h"
#include "../gucs.h"
#include "../spi.h"
#include "../store/table_db.h"

#include "core/mmr.h"
#include "core/proof.h"

using namespace qmdb;
using namespace qmdb::pg;

namespace {

Datum
text_datum(const std::string &s) {
	return pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
}

} // namespace

// qmdb.operations(db, from_loc, to_loc) -> (loc, kind, key, value, floor, metadata, op)
QMDB_FUNCTION(qmdb_operations) {
	RowSink sink(fcinfo);
	std::string name = text_arg(fcinfo, 0, "db");
	uint64_t from = PG_ARGISNULL(1) ? 0 : location_arg(fcinfo, 1, "from_loc");
	Spi spi(true);
	TableDatabase db(spi, name, false);
	uint64_t to = PG_ARGISNULL(2) ? db.size() : std::min<uint64_t>(location_arg(fcinfo, 2, "to_loc"), db.size());
	if (from < db.pruning_boundary() && from < to)
		throw Error(ErrorCode::Pruned, "operations below " + std::to_string(db.pruning_boundary()) + " are pruned");
	const uint64_t chunk = 4096;
	for (uint64_t start = from; start < to; start += chunk) {
		uint64_t end = std::min(to, start + chunk);
		std::vector<Bytes> ops = db.read_ops(start, end);
		for (uint64_t i = 0; i < ops.size(); i++) {
			Operation op = decode_op(db.info().format, ops[i]);
			Datum v[7];
			bool n[7];
			v[0] = Int64GetDatum(static_cast<int64>(start + i));
			n[0] = n[6] = false;
			operation_datums(op, v + 1, n + 1);
			v[6] = PointerGetDatum(to_bytea(ops[i]));
			sink.put(v, n);
		}
	}
	return (Datum)0;
}

// qmdb.verify(db) -> (check_name, ok, detail): recompute everything from the
// journal and the pins, and compare with what the tables hold.
QMDB_FUNCTION(qmdb_verify) {
	RowSink sink(fcinfo);
	std::string name = text_arg(fcinfo, 0, "db");
	Spi spi(true);
	TableDatabase db(spi, name, false);
	const DbInfo &info = db.info();
	auto report = [&](const char *check, bool ok, const std::string &detail) {
		Datum v[3] = {text_datum(check), BoolGetDatum(ok), text_datum(detail)};
		bool n[3] = {false, false, false};
		sink.put(v, n);
	};

	// Pins of the pruning boundary.
	std::vector<Digest> pins;
	bool pins_ok = true;
	for (uint64_t pos : nodes_to_pin(info.pruning_boundary)) {
		auto d = db.nodes().get(pos);
		if (!d) {
			pins_ok = false;
			break;
		}
		pins.push_back(*d);
	}
	report("pins", pins_ok,
	       pins_ok ? std::to_string(pins.size()) + " pinned nodes at boundary " + std::to_string(info.pruning_boundary)
	               : "a pinned node of the boundary is missing");
	if (!pins_ok)
		return (Datum)0;

	// Journal: every row present and decodable; rebuild the MMR as we go.
	MemoryNodeStore rebuilt;
	std::map<uint64_t, Digest> pin_map;
	auto positions = nodes_to_pin(info.pruning_boundary);
	for (size_t i = 0; i < positions.size(); i++)
		pin_map[positions[i]] = pins[i];
	rebuilt.reset(location_to_position(info.pruning_boundary), pin_map);
	Mmr mmr(info.pruning_boundary, pins);
	Hasher hasher;
	std::string journal_problem;
	Operation last;
	std::map<Bytes, std::pair<uint64_t, Bytes>> replay; // from the floor
	for (uint64_t start = info.pruning_boundary; start < info.size && journal_problem.empty(); start += 4096) {
		uint64_t end = std::min(info.size, start + 4096);
		std::vector<Bytes> ops;
		try {
			ops = db.read_ops(start, end);
		} catch (const Error &e) {
			journal_problem = e.what();
			break;
		}
		for (uint64_t i = 0; i < ops.size(); i++) {
			uint64_t loc = start + i;
			try {
				last = decode_op(info.format, ops[i]);
			} catch (const DecodeError &e) {
				journal_problem = "operation " + std::to_string(loc) + " does not decode: " + e.what();
				break;
			}
			mmr.append(hasher, rebuilt, ops[i]);
			if (loc >= info.floor) {
				if (last.kind == OpKind::Update)
					replay[last.key] = {loc, last.value};
				else if (last.kind == OpKind::Delete)
					replay.erase(last.key);
			}
		}
	}
	report("journal", journal_problem.empty(),
	       journal_problem.empty() ? std::to_string(info.size - info.pruning_boundary) + " operations decode"
	                               : journal_problem);
	if (!journal_problem.empty())
		return (Datum)0;

	bool commit_ok = last.kind == OpKind::CommitFloor && last.floor == info.floor;
	report("floor", commit_ok,
	       commit_ok ? "the last commit declares floor " + std::to_string(info.floor)
	                 : "the last operation is not a commit declaring the catalog floor " + std::to_string(info.floor));

	Digest root = mmr.root(hasher, inactive_peaks(info.size, info.floor));
	report("root", root == info.root,
	       root == info.root
	           ? "recomputed root matches " + to_hex(root)
	           : "recomputed root " + to_hex(root) + " differs from the catalog root " + to_hex(info.root));

	// Stored node digests against the recomputed ones.
	uint64_t first_bad = UINT64_MAX, checked = 0;
	for (uint64_t pos = location_to_position(info.pruning_boundary); pos < location_to_position(info.size); pos++) {
		auto stored = db.nodes().get(pos);
		checked++;
		if (!stored || *stored != *rebuilt.get(pos)) {
			first_bad = pos;
			break;
		}
	}
	report("nodes", first_bad == UINT64_MAX,
	       first_bad == UINT64_MAX
	           ? std::to_string(checked) + " node digests match"
	           : "node digest at position " + std::to_string(first_bad) + " differs from the journal");

	// State against a replay from the floor.
	uint64 rows = spi.exec("SELECT key, loc, value FROM qmdb.state WHERE db_id = $1", {int4_param(info.id)});
	std::string state_problem;
	if (rows != replay.size())
		state_problem = std::to_string(rows) + " live keys stored, " + std::to_string(replay.size()) + " after replay";
	for (uint64 i = 0; i < rows && state_problem.empty(); i++) {
		auto it = replay.find(spi.bytes(i, 0));
		if (it == replay.end() || it->second.first != static_cast<uint64_t>(spi.i64(i, 1)) ||
		    it->second.second != spi.bytes(i, 2))
			state_problem = "key " + to_hex(spi.bytes(i, 0)) + " differs from the replay";
	}
	report("state", state_problem.empty(),
	       state_problem.empty() ? std::to_string(rows) + " live keys match the replay" : state_problem);

	// The activity bitmap: exactly the replayed locations and the last commit.
	std::map<uint64_t, bool> active;
	for (const auto &e : replay)
		active[e.second.first] = true;
	active[info.size - 1] = true;
	std::string bitmap_problem;
	for (uint64_t loc = info.floor; loc < info.size && bitmap_problem.empty(); loc++)
		if (db.active_bit(loc) != (active.count(loc) != 0))
			bitmap_problem = "bit " + std::to_string(loc) + " is " + (db.active_bit(loc) ? "set" : "clear") +
			                 " but the operation is " + (active.count(loc) ? "active" : "inactive");
	report("bitmap", bitmap_problem.empty(),
	       bitmap_problem.empty() ? "activity bitmap matches the replay" : bitmap_problem);
	return (Datum)0;
}

// qmdb.proof(db, size, start, max_ops) -> (proof, operations)
QMDB_FUNCTION(qmdb_proof) {
	std::string name = text_arg(fcinfo, 0, "db");
	uint64_t size = location_arg(fcinfo, 1, "size");
	uint64_t start = location_arg(fcinfo, 2, "start");
	uint64_t max_ops = location_arg(fcinfo, 3, "max_ops");
	if (max_ops == 0 || max_ops > static_cast<uint64_t>(max_serve_ops))
		throw Error(ErrorCode::LimitExceeded,
		            "max_ops must be between 1 and qmdb.max_serve_ops (" + std::to_string(max_serve_ops) + ")");
	Response resp;
	{
		Spi spi(true);
		TableDatabase db(spi, name, false);
		resp = serve_request(db.hasher(), db, Request::operations(size, start, max_ops));
	}
	Writer w;
	encode_proof(resp.proof, w);
	Datum v[2] = {PointerGetDatum(to_bytea(w.bytes())), bytea_array_datum(resp.operations)};
	bool n[2] = {false, false};
	return tuple_datum(fcinfo, v, n);
}

// qmdb.verify_proof(root, proof, start, operations) -> boolean
QMDB_FUNCTION(qmdb_verify_proof) {
	ByteView root = bytea_view(PG_GETARG_BYTEA_PP(0));
	if (root.size != 32)
		throw Error(ErrorCode::InvalidArgument, "root must be 32 bytes, got " + std::to_string(root.size));
	ByteView proof_bytes = bytea_view(PG_GETARG_BYTEA_PP(1));
	uint64_t start = location_arg(fcinfo, 2, "start");
	auto ops = bytea_array_arg(fcinfo, 3, "operations");
	std::vector<Bytes> elements;
	for (auto &op : ops) {
		if (!op)
			throw Error(ErrorCode::NullValue, "operations must not contain NULL");
		elements.push_back(std::move(*op));
	}
	Reader r(proof_bytes);
	Proof proof = decode_proof(r, std::max<size_t>(1, elements.size()) * MAX_PROOF_DIGESTS_PER_ELEMENT);
	r.finish("proof");
	Digest expected;
	std::copy(root.begin(), root.end(), expected.begin());
	Hasher hasher;
	std::vector<ByteView> views(elements.begin(), elements.end());
	PG_RETURN_BOOL(verify_range_inclusion(hasher, proof, views, start, expected));
}
