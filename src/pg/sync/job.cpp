#include "job.h"
#include "job_registry.h"

#include "core/checkpoint.h"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
}

#include <cstring>

namespace qmdb::pg {

// {"trust": {"keys": [verifier keys], "threshold": k, "origin": text,
// "interval": seconds}}: every key parsed, k between 1 and the keys.
static std::optional<TrustPolicy>
parse_trust_policy(Spi &spi, const std::string &json) {
	spi.exec("SELECT jsonb_typeof(o->'trust'), (SELECT string_agg(k, ', ') FROM jsonb_object_keys(CASE WHEN "
	         "jsonb_typeof(o->'trust') = 'object' THEN o->'trust' ELSE '{}' END) k WHERE k NOT IN ('keys', "
	         "'threshold', 'origin', 'interval')), jsonb_typeof(o->'trust'->'keys'), o->'trust'->>'origin', "
	         "(o->'trust'->>'threshold')::int8, (o->'trust'->>'interval')::float8::text "
	         "FROM (SELECT $1::jsonb AS o) s",
	         {text_param(json)});
	if (spi.is_null(0, 0))
		return std::nullopt;
	if (spi.str(0, 0) != "object")
		throw Error(ErrorCode::InvalidArgument, "trust must be an object: {\"keys\": [...], \"threshold\": k, "
		                                        "\"origin\": \"...\"}");
	if (!spi.is_null(0, 1))
		throw Error(ErrorCode::InvalidArgument,
		            "unknown trust option: " + spi.str(0, 1) + " (known: keys, threshold, origin, interval)");
	if (spi.is_null(0, 2) || spi.str(0, 2) != "array")
		throw Error(ErrorCode::InvalidArgument, "trust.keys must be an array of verifier keys");
	if (spi.is_null(0, 3))
		throw Error(ErrorCode::InvalidArgument,
		            "trust.origin must name the checkpoints' origin (a key may sign several databases)");
	TrustPolicy t;
	t.origin = spi.str(0, 3);
	if (!valid_origin(t.origin))
		throw Error(ErrorCode::InvalidArgument, "trust.origin is not a valid checkpoint origin");
	int64 threshold = spi.is_null(0, 4) ? 1 : spi.i64(0, 4);
	if (!spi.is_null(0, 5)) {
		t.interval = std::stod(spi.str(0, 5));
		if (!(t.interval >= 0.1 && t.interval <= 3600))
			throw Error(ErrorCode::InvalidArgument, "trust.interval must be between 0.1 and 3600 seconds");
	}
	uint64 n = spi.exec("SELECT k FROM jsonb_array_elements_text($1::jsonb->'trust'->'keys') k", {text_param(json)});
	if (n == 0 || n > 64)
		throw Error(ErrorCode::InvalidArgument, "trust.keys holds 1 to 64 verifier keys");
	for (uint64 i = 0; i < n; i++) {
		t.key_texts.push_back(spi.str(i, 0));
		t.keys.push_back(parse_verifier_key(t.key_texts.back()));
	}
	if (threshold < 1 || static_cast<uint64_t>(threshold) > t.keys.size())
		throw Error(ErrorCode::InvalidArgument, "trust.threshold must be between 1 and the number of keys");
	t.threshold = static_cast<uint64_t>(threshold);
	return t;
}

SyncOptions
parse_sync_options(Spi &spi, const std::string &json) {
	spi.exec("SELECT string_agg(k, ', ') FROM jsonb_object_keys($1::jsonb) k WHERE k NOT IN "
	         "('max_outstanding_requests', 'fetch_batch_size', 'max_retained_roots', 'explicit_finish', "
	         "'request_timeout', 'kind', 'encoding', 'key_size', 'value_size', 'source_db', 'follow', 'trust')",
	         {text_param(json)});
	if (!spi.is_null(0, 0))
		throw Error(ErrorCode::InvalidArgument, "unknown sync option: " + spi.str(0, 0) +
		                                            " (known: max_outstanding_requests, fetch_batch_size, "
		                                            "max_retained_roots, explicit_finish, request_timeout, kind, "
		                                            "encoding, key_size, value_size, source_db, follow, trust)");
	spi.exec("SELECT (o->>'max_outstanding_requests')::int8, (o->>'fetch_batch_size')::int8, "
	         "(o->>'max_retained_roots')::int8, (o->>'explicit_finish')::bool::int4::int8, "
	         "(o->>'request_timeout')::float8::int8, o->>'encoding', (o->>'key_size')::int8, (o->>'value_size')::int8, "
	         "o->>'source_db', (o->>'follow')::bool::int4::int8, o->>'kind' FROM (SELECT $1::jsonb AS o) s",
	         {text_param(json)});
	SyncOptions o;
	auto bounded = [&](int col, const char *name, int64 lo, int64 hi, uint64_t &out) {
		if (spi.is_null(0, col))
			return;
		int64 v = spi.i64(0, col);
		if (v < lo || v > hi)
			throw Error(ErrorCode::InvalidArgument,
			            std::string(name) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi));
		out = static_cast<uint64_t>(v);
	};
	bounded(0, "max_outstanding_requests", 1, 1024, o.max_outstanding_requests);
	bounded(1, "fetch_batch_size", 1, 1000000, o.fetch_batch_size);
	bounded(2, "max_retained_roots", 0, 1024, o.max_retained_roots);
	uint64_t explicit_finish = 0, timeout = 30;
	bounded(3, "explicit_finish", 0, 1, explicit_finish);
	bounded(4, "request_timeout", 1, 86400, timeout);
	o.explicit_finish = explicit_finish != 0;
	o.request_timeout = static_cast<double>(timeout);
	std::string enc = spi.is_null(0, 5) ? "variable" : spi.str(0, 5);
	if (enc != "variable" && enc != "fixed")
		throw Error(ErrorCode::InvalidArgument, "encoding must be 'variable' or 'fixed'");
	o.format.encoding = enc == "fixed" ? Encoding::Fixed : Encoding::Variable;
	if (!spi.is_null(0, 10)) {
		std::optional<DbKind> kind = db_kind_from_name(spi.str(0, 10));
		if (!kind)
			throw Error(ErrorCode::InvalidArgument, "kind must be 'any', 'ordered', 'immutable' or 'keyless'");
		o.format.kind = *kind;
	}
	uint64_t ks = 0, vs = 0;
	bounded(6, "key_size", 1, 1024, ks);
	bounded(7, "value_size", 1, 1 << 20, vs);
	if (ks)
		o.format.key_size = static_cast<uint32_t>(ks);
	if (vs)
		o.format.value_size = static_cast<uint32_t>(vs);
	o.format.validate();
	if (!spi.is_null(0, 8))
		o.source_db = spi.str(0, 8);
	uint64_t follow = 0;
	bounded(9, "follow", 0, 1, follow);
	o.follow = follow != 0;
	o.trust = parse_trust_policy(spi, json);
	if (o.trust && !o.follow)
		throw Error(ErrorCode::InvalidArgument,
		            "the option trust needs \"follow\": true (checkpoints are targets to follow)");
	return o;
}

void
require_current_schema(Spi &spi) {
	spi.exec("SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_qmdb'", {});
	std::string installed = spi.rows() ? spi.str(0, 0) : "none";
	if (installed != PG_QMDB_VERSION)
		throw Error(ErrorCode::NotReady, "the pg_qmdb library is version " PG_QMDB_VERSION
		                                 " but the extension's SQL objects are at " +
		                                     installed + ": run ALTER EXTENSION pg_qmdb UPDATE");
}

std::optional<SyncJob>
load_sync_job(Spi &spi, int32 db_id) {
	if (spi.exec("SELECT j.db_name, j.root, j.range_start, j.range_end, j.options::text, j.state, "
	             "j.finish_requested::int4, j.journal_start, j.journal_size, j.pins, "
	             "coalesce((SELECT rolsuper::int4 FROM pg_catalog.pg_roles WHERE rolname = j.created_by), 0), "
	             "(j.home = qmdb.sync_home())::int4 "
	             "FROM qmdb.sync_jobs j WHERE j.db_id = $1 FOR NO KEY UPDATE OF j",
	             {int4_param(db_id)}) == 0)
		return std::nullopt;
	SyncJob job;
	job.db_id = db_id;
	job.db_name = spi.str(0, 0);
	// Our own rows are checked too: a bad length would read past a buffer.
	Bytes root = spi.bytes(0, 1);
	if (root.size() != 32)
		throw Error(ErrorCode::DataCorrupted, "sync job " + std::to_string(db_id) + ": stored root is not 32 bytes");
	std::memcpy(job.target.root.data(), root.data(), 32);
	job.target.start = static_cast<uint64_t>(spi.i64(0, 2));
	job.target.end = static_cast<uint64_t>(spi.i64(0, 3));
	std::string options = spi.str(0, 4);
	job.state = spi.str(0, 5);
	job.finish_requested = spi.i32(0, 6) != 0;
	job.journal_start = static_cast<uint64_t>(spi.i64(0, 7));
	job.journal_size = static_cast<uint64_t>(spi.i64(0, 8));
	if (!spi.is_null(0, 9)) {
		Bytes pins = spi.bytes(0, 9);
		if (pins.size() % 32 != 0)
			throw Error(ErrorCode::DataCorrupted,
			            "sync job " + std::to_string(db_id) + ": stored pins are not whole digests");
		std::vector<Digest> ds(pins.size() / 32);
		for (size_t i = 0; i < ds.size(); i++)
			std::memcpy(ds[i].data(), pins.data() + 32 * i, 32);
		job.pins = ds;
	}
	job.creator_is_superuser = spi.i32(0, 10) != 0;
	job.at_home = spi.i32(0, 11) != 0;
	uint64 n = spi.exec("SELECT p FROM qmdb.sync_jobs j, unnest(j.peers) WITH ORDINALITY AS t(p, i) "
	                    "WHERE j.db_id = $1 ORDER BY i",
	                    {int4_param(db_id)});
	for (uint64 i = 0; i < n; i++)
		job.peers.push_back(spi.str(i, 0));
	job.options = parse_sync_options(spi, options);
	return job;
}

bool
start_sync_worker(int32 db_id, Oid dboid) {
	BackgroundWorker worker;
	std::memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART; // the launcher restarts unfinished jobs
	std::strcpy(worker.bgw_library_name, "pg_qmdb");
	std::strcpy(worker.bgw_function_name, "qmdb_sync_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "qmdb sync worker for database id %d", db_id);
	std::strcpy(worker.bgw_type, "qmdb sync worker");
	worker.bgw_main_arg = Int32GetDatum(db_id);
	std::memcpy(worker.bgw_extra, &dboid, sizeof(Oid));
	worker.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&worker, nullptr);
}

namespace {

std::vector<int32> &
pending_starts() {
	static auto *v = new std::vector<int32>();
	return *v;
}

void
on_xact(XactEvent event, void *) {
	auto &p = pending_starts();
	if (event == XACT_EVENT_COMMIT) {
		for (int32 id : p) {
			// The launcher restarts its worker whenever it is gone.
			(void)registry_add(MyDatabaseId, id);
			if (!start_sync_worker(id, MyDatabaseId))
				ereport(WARNING, (errmsg("could not start a qmdb sync worker: no background worker slot free"),
				                  errhint("Raise max_worker_processes; with shared_preload_libraries the launcher "
				                          "retries by itself.")));
		}
		p.clear();
	} else if (event == XACT_EVENT_ABORT) {
		p.clear();
	}
}

} // namespace

void
start_sync_worker_at_commit(int32 db_id) {
	static bool registered = false;
	if (!registered) {
		RegisterXactCallback(on_xact, nullptr);
		registered = true;
	}
	pending_starts().push_back(db_id);
}

void
delete_sync_job(Spi &spi, int32 db_id) {
	for (const char *sql :
	     {"DELETE FROM qmdb.sync_updates WHERE db_id = $1", "DELETE FROM qmdb.sync_peer_stats WHERE db_id = $1",
	      "DELETE FROM qmdb.sync_jobs WHERE db_id = $1"})
		spi.exec(sql, {int4_param(db_id)});
}

void
lock_sync_job_for_drop(Spi &spi, const std::string &db) {
	if (spi.exec("SELECT state FROM qmdb.sync_jobs WHERE db_name = $1 FOR UPDATE", {text_param(db)}) == 0)
		return;
	std::string state = spi.str(0, 0);
	if (state == "running" || state == "following" || state == "paused")
		throw Error(ErrorCode::InUse,
		            "qmdb database \"" + db + "\" is being synced: stop the sync with qmdb.sync_cancel first");
}

} // namespace qmdb::pg
