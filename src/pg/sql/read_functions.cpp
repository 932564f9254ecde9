// SQL functions that read an authenticated database: decoded operations,
// a full self-check, and proofs for applications that verify ranges.
#include "../datum.h"
#include "../gucs.h"
#include "../spi.h"
#include "../store/state_table.h"
#include "../store/table_db.h"

#include "core/mmr.h"
#include "core/proof.h"

extern "C" {
#include "utils/guc.h"
}

#include <chrono>
#include <cstring>
#include <functional>

using namespace qmdb;
using namespace qmdb::pg;

namespace {

Datum
text_datum(const std::string &s) {
	return pg_call([&] { return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
}

} // namespace

// qmdb.operations(db, from_loc, to_loc) -> (loc, kind, key, value, floor,
// metadata, op, next_key) (a 0.3.0 schema's row type stops at op)
QMDB_FUNCTION(qmdb_operations) {
	RowSink sink(fcinfo);
	std::string name = text_arg(fcinfo, 0, "db");
	Spi spi(true);
	TableDatabase db(spi, name, false);
	// By default from the oldest operation kept: the pruning boundary (a
	// replica's range_start, or where qmdb.prune left the journal).
	uint64_t from = PG_ARGISNULL(1) ? db.pruning_boundary() : location_arg(fcinfo, 1, "from_loc");
	uint64_t to = PG_ARGISNULL(2) ? db.size() : std::min<uint64_t>(location_arg(fcinfo, 2, "to_loc"), db.size());
	if (from < db.pruning_boundary() && from < to)
		throw Error(ErrorCode::Pruned, "operations below " + std::to_string(db.pruning_boundary()) + " are pruned");
	const uint64_t chunk = 4096;
	for (uint64_t start = from; start < to; start += chunk) {
		uint64_t end = std::min(to, start + chunk);
		std::vector<Bytes> ops = db.read_ops(start, end);
		for (uint64_t i = 0; i < ops.size(); i++) {
			Operation op = decode_op(db.info().format, ops[i]);
			Datum v[8];
			bool n[8];
			v[0] = Int64GetDatum(static_cast<int64>(start + i));
			n[0] = n[6] = false;
			operation_datums(op, v + 1, n + 1);
			v[6] = PointerGetDatum(to_bytea(ops[i]));
			next_key_datum(db.info().format, op, &v[7], &n[7]);
			sink.put(v, n);
		}
	}
	return (Datum)0;
}

namespace {

// Node digests recomputed from the journal, compared with the stored ones
// as they come instead of kept: the tree's peaks live in the Mmr, so this
// store holds nothing, whatever the database's size.
class CompareNodes : public NodeStore {
public:
	CompareNodes(Spi &spi, int32 db_id) : spi_(spi), db_id_(db_id) {}
	std::optional<Digest> get(uint64_t) override { return std::nullopt; }
	void put(uint64_t pos, const Digest &digest) override {
		checked++;
		if (first_bad != UINT64_MAX)
			return;
		const Bytes &row = chunk(pos / NODES_PER_CHUNK);
		size_t at = (pos % NODES_PER_CHUNK) * 32;
		if (row.size() < at + 32 || std::memcmp(row.data() + at, digest.data(), 32) != 0)
			first_bad = pos;
	}
	void reset(uint64_t, const std::map<uint64_t, Digest> &) override {}
	void rebase(uint64_t, const std::map<uint64_t, Digest> &) override {}
	uint64_t checked = 0, first_bad = UINT64_MAX;

private:
	// The recomputed nodes come in position order, all above the pruning
	// boundary's pins: the stored rows are read WINDOW at a time, and only
	// those are held (memory flat in the database's size).
	static constexpr uint64_t WINDOW = 1024;
	const Bytes &chunk(uint64_t index) {
		if (index < window_start_ || index >= window_start_ + window_.size()) {
			window_.assign(WINDOW, Bytes());
			window_start_ = index;
			uint64 n =
			    spi_.exec("SELECT chunk, digests FROM qmdb.nodes WHERE db_id = $1 AND chunk >= $2 AND chunk < $3",
			              {int4_param(db_id_), int8_param(static_cast<int64>(index)),
			               int8_param(static_cast<int64>(index + WINDOW))});
			for (uint64 i = 0; i < n; i++)
				window_[static_cast<uint64_t>(spi_.i64(i, 0)) - index] = spi_.bytes(i, 1);
		}
		return window_[index - window_start_];
	}
	Spi &spi_;
	int32 db_id_;
	uint64_t window_start_ = 0;
	std::vector<Bytes> window_;
};

// A NOTICE every ten seconds of a long verify, so a DBA sees it move.
class Progress {
public:
	explicit Progress(const std::string &db) : db_(db), last_(std::chrono::steady_clock::now()) {}
	void at(const char *what, uint64_t done, uint64_t total) {
		check_for_interrupts();
		auto now = std::chrono::steady_clock::now();
		if (now - last_ < std::chrono::seconds(10))
			return;
		last_ = now;
		std::string msg =
		    "qmdb.verify of \"" + db_ + "\": " + what + " " + std::to_string(done) + " of " + std::to_string(total);
		pg_call([&] { ereport(NOTICE, (errmsg("%s", msg.c_str()))); });
	}

private:
	std::string db_;
	std::chrono::steady_clock::time_point last_;
};

using Report = std::function<void(const char *check, bool ok, const std::string &detail)>;

// qmdb.verify's checks, in order; a failed check ends the ones that need it.
// Memory is bounded at any size: the journal is read in batches, node
// digests are compared as they are recomputed, and the replay of the state
// is a sorted query (which spills to disk past work_mem), merged with the
// tables.
void
verify_checks(Spi &spi, TableDatabase &db, const Report &report) {
	const DbInfo &info = db.info();
	Progress progress(info.name);

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
		return;

	// Journal: every row present and decodable; rebuild the MMR as we go,
	// comparing each node with the stored one.
	CompareNodes nodes(spi, info.id);
	Mmr mmr(info.pruning_boundary, pins);
	Hasher hasher;
	std::string journal_problem;
	Operation last;
	for (uint64_t start = info.pruning_boundary; start < info.size && journal_problem.empty(); start += 4096) {
		progress.at("operations read:", start - info.pruning_boundary, info.size - info.pruning_boundary);
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
			mmr.append(hasher, nodes, ops[i]);
		}
	}
	report("journal", journal_problem.empty(),
	       journal_problem.empty() ? std::to_string(info.size - info.pruning_boundary) + " operations decode"
	                               : journal_problem);
	if (!journal_problem.empty())
		return;

	bool commit_ok = last.kind == OpKind::CommitFloor && last.floor == info.floor;
	report("floor", commit_ok,
	       commit_ok ? "the last commit declares floor " + std::to_string(info.floor)
	                 : "the last operation is not a commit declaring the catalog floor " + std::to_string(info.floor));

	Digest root = mmr.root(hasher, inactive_peaks(info.size, info.floor));
	report("root", root == info.root,
	       root == info.root
	           ? "recomputed root matches " + to_hex(root)
	           : "recomputed root " + to_hex(root) + " differs from the catalog root " + to_hex(info.root));

	report("nodes", nodes.first_bad == UINT64_MAX,
	       nodes.first_bad == UINT64_MAX
	           ? std::to_string(nodes.checked) + " node digests match"
	           : "node digest at position " + std::to_string(nodes.first_bad) + " differs from the journal");

	// State against a replay from the floor: both sides in SQL, in one
	// merge full join that also counts them (the replay comes sorted by
	// key; the state is sorted or read in key order). A hash join's batch
	// files take a buffer each, and their number grows with the state (76
	// MiB at 8M keys); CTEs read twice would be materialized, each taking
	// work_mem of its own. The first differing key is the least by bytes:
	// its hex in the C collation sorts the same way.
	std::string replay = last_writes_query(info.format);
	std::vector<qmdb::pg::Param> params = last_writes_params(info.id, info.format, info.floor, info.size);
	spi.exec_once("SELECT count(s.key), count(r.key), pg_catalog.min(pg_catalog.encode(coalesce(r.key, s.key), "
	              "'hex') COLLATE \"C\") FILTER (WHERE r.key IS NULL OR s.key IS NULL OR r.loc <> s.loc OR "
	              "r.value <> s.value) FROM (" +
	                  replay +
	                  ") r FULL JOIN (SELECT key, loc, value FROM qmdb.state WHERE db_id = $1) s ON s.key = r.key",
	              params);
	int64 rows = spi.i64(0, 0), replayed = spi.i64(0, 1);
	std::string state_problem;
	if (rows != replayed)
		state_problem = std::to_string(rows) + " live keys stored, " + std::to_string(replayed) + " after replay";
	else if (!spi.is_null(0, 2))
		state_problem = "key " + spi.str(0, 2) + " differs from the replay";
	report("state", state_problem.empty(),
	       state_problem.empty() ? std::to_string(rows) + " live keys match the replay" : state_problem);

	// The activity bitmap: exactly the replayed locations and the last
	// commit, walked in order beside the replay sorted by location.
	std::string bitmap_problem;
	std::string by_loc = "SELECT loc FROM (" + replay + ") r ORDER BY loc";
	spi.open_cursor(by_loc.c_str(), params);
	std::vector<uint64_t> active; // one fetch's worth, copied out before the bitmap is read
	size_t next = 0;
	bool more = true;
	for (uint64_t loc = info.floor; loc < info.size && bitmap_problem.empty(); loc++) {
		if (next == active.size() && more) {
			progress.at("bitmap locations checked:", loc - info.floor, info.size - info.floor);
			uint64 n = spi.fetch(10000);
			active.clear();
			next = 0;
			for (uint64 i = 0; i < n; i++)
				active.push_back(static_cast<uint64_t>(spi.i64(i, 0)));
			more = n > 0;
		}
		bool want = loc == info.size - 1 || (next < active.size() && active[next] == loc);
		if (next < active.size() && active[next] == loc)
			next++;
		if (loc % BITS_PER_CHUNK == 0)
			db.forget_bitmap_rows(); // rows behind us are done with
		bool have = db.active_bit(loc);
		if (have != want)
			bitmap_problem = "bit " + std::to_string(loc) + " is " + (have ? "set" : "clear") +
			                 " but the operation is " + (want ? "active" : "inactive");
	}
	spi.close_cursor();
	report("bitmap", bitmap_problem.empty(),
	       bitmap_problem.empty() ? "activity bitmap matches the replay" : bitmap_problem);
}

} // namespace

// qmdb.verify(db) -> (check_name, ok, detail): recompute everything from the
// journal and the pins, and compare with what the tables hold.
QMDB_FUNCTION(qmdb_verify) {
	RowSink sink(fcinfo);
	std::string name = text_arg(fcinfo, 0, "db");
	Spi spi(true);
	TableDatabase db(spi, name, false);
	// Settings for this call only (a nest level, as a function's SET clause
	// makes; an error's abort undoes it too). No hash join: see the state
	// check. No JIT: the queries are a sort and scans, which it does not
	// speed up, and its LLVM (some 20 MiB, loaded once a query's estimated
	// cost passes jit_above_cost) made the memory grow with the database.
	int guc_level = pg_call([] {
		int level = NewGUCNestLevel();
		for (const char *setting : {"enable_hashjoin", "jit"})
			(void)set_config_option(setting, "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
		return level;
	});
	verify_checks(spi, db, [&](const char *check, bool ok, const std::string &detail) {
		Datum v[3] = {text_datum(check), BoolGetDatum(ok), text_datum(detail)};
		bool n[3] = {false, false, false};
		sink.put(v, n);
	});
	pg_call([&] { AtEOXact_GUC(true, guc_level); });
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

// Reads of a database's state, in C so that an error (no such database, a
// sync not complete) reads as ours, without a PL/pgSQL context line.

// qmdb.get(db, key) -> the key's value, NULL when it is not live.
QMDB_FUNCTION(qmdb_get) {
	std::string name = text_arg(fcinfo, 0, "db");
	Bytes key = bytes_arg(fcinfo, 1, "key");
	std::optional<Bytes> value;
	{
		Spi spi(true);
		TableDatabase db(spi, name, false);
		db.check_has_keys();
		if (spi.exec("SELECT value FROM qmdb.state WHERE db_id = $1 AND key = $2",
		             {int4_param(db.info().id), bytea_param(key)}) > 0)
			value = spi.bytes(0, 0);
	}
	if (!value)
		PG_RETURN_NULL();
	return PointerGetDatum(to_bytea(*value));
}

// The rows of an open cursor of (key, value, loc), into the sink.
static void
put_entries(Spi &spi, RowSink &sink) {
	for (uint64 n; (n = spi.fetch(1000)) > 0;) {
		check_for_interrupts();
		for (uint64 i = 0; i < n; i++) {
			// A long value may be stored out of line: the row keeps its bytes.
			Datum value = spi.datum(i, 1);
			value = pg_call([&] { return PointerGetDatum(PG_DETOAST_DATUM_PACKED(value)); });
			Datum v[3] = {spi.datum(i, 0), value, spi.datum(i, 2)};
			bool nulls[3] = {false, false, false};
			sink.put(v, nulls);
		}
	}
	spi.close_cursor();
}

// qmdb.entries(db) -> (key, value, loc) of every live key, in key order.
QMDB_FUNCTION(qmdb_entries) {
	RowSink sink(fcinfo);
	std::string name = text_arg(fcinfo, 0, "db");
	Spi spi(true);
	TableDatabase db(spi, name, false);
	db.check_has_keys();
	spi.open_cursor("SELECT key, value, loc FROM qmdb.state WHERE db_id = $1 ORDER BY key", {int4_param(db.info().id)});
	put_entries(spi, sink);
	return (Datum)0;
}

// qmdb.scan(db, from_key, to_key) -> (key, value, loc) of the live keys in
// [from_key, to_key), in key order (NULL: unbounded). One index range scan.
QMDB_FUNCTION(qmdb_scan) {
	RowSink sink(fcinfo);
	std::string name = text_arg(fcinfo, 0, "db");
	std::optional<Bytes> from = opt_bytes_arg(fcinfo, 1), to = opt_bytes_arg(fcinfo, 2);
	Spi spi(true);
	TableDatabase db(spi, name, false);
	db.check_has_keys();
	spi.open_cursor("SELECT key, value, loc FROM qmdb.state WHERE db_id = $1 AND ($2::bytea IS NULL OR key >= $2) "
	                "AND ($3::bytea IS NULL OR key < $3) ORDER BY key",
	                {int4_param(db.info().id), from ? bytea_param(*from) : null_bytea_param(),
	                 to ? bytea_param(*to) : null_bytea_param()});
	put_entries(spi, sink);
	return (Datum)0;
}

// qmdb.span(db, key) -> (span_key, value, next_key, loc): in an ordered
// database, the live key's Update whose span [key, next_key) (cyclic, as
// upstream's get_span) holds `key`: the key's own Update when it is live,
// else its predecessor's, whose span shows it absent. NULL when the
// database has no live key. qmdb.proof(db, size, loc, 1) proves that
// operation is in the log.
QMDB_FUNCTION(qmdb_span) {
	std::string name = text_arg(fcinfo, 0, "db");
	Bytes key = bytes_arg(fcinfo, 1, "key");
	std::optional<Operation> op;
	uint64_t loc = 0;
	bool empty = false;
	{
		Spi spi(true);
		TableDatabase db(spi, name, false);
		if (db.info().format.kind != DbKind::Ordered)
			throw Error(ErrorCode::WrongKind, "qmdb database \"" + name + "\" is " +
			                                      db_kind_phrase(db.info().format.kind) +
			                                      " database: spans are an ordered database's");
		qmdb::pg::Param id = int4_param(db.info().id);
		// The largest live key at or below `key`, else (cyclic) the largest.
		if (spi.exec("SELECT loc FROM qmdb.state WHERE db_id = $1 AND key <= $2 ORDER BY key DESC LIMIT 1",
		             {id, bytea_param(key)}) == 0 &&
		    spi.exec("SELECT loc FROM qmdb.state WHERE db_id = $1 ORDER BY key DESC LIMIT 1", {id}) == 0)
			empty = true;
		else {
			loc = static_cast<uint64_t>(spi.i64(0, 0));
			op = decode_op(db.info().format, db.read_ops(loc, loc + 1).at(0));
		}
	}
	if (empty)
		PG_RETURN_NULL();
	if (op->kind != OpKind::Update)
		throw Error(ErrorCode::DataCorrupted,
		            "the state points at location " + std::to_string(loc) + ", which holds no Update");
	Datum v[4] = {PointerGetDatum(to_bytea(op->key)), PointerGetDatum(to_bytea(op->value)),
	              PointerGetDatum(to_bytea(op->next_key)), Int64GetDatum(static_cast<int64>(loc))};
	bool n[4] = {false, false, false, false};
	return tuple_datum(fcinfo, v, n);
}

// qmdb.root(db) -> the database's root.
QMDB_FUNCTION(qmdb_root) {
	std::string name = text_arg(fcinfo, 0, "db");
	Digest root;
	{
		Spi spi(true);
		root = TableDatabase(spi, name, false).info().root;
	}
	return PointerGetDatum(to_bytea(root));
}

// qmdb.target(db) -> (root, range_start, range_end) = (root, floor, size).
QMDB_FUNCTION(qmdb_target) {
	std::string name = text_arg(fcinfo, 0, "db");
	DbInfo info;
	{
		Spi spi(true);
		info = TableDatabase(spi, name, false).info();
	}
	Datum v[3] = {PointerGetDatum(to_bytea(info.root)), Int64GetDatum(static_cast<int64>(info.floor)),
	              Int64GetDatum(static_cast<int64>(info.size))};
	bool n[3] = {false, false, false};
	return tuple_datum(fcinfo, v, n);
}
