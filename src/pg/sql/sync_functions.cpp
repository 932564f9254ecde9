// SQL control of sync jobs: start, move the target, finish, pause, resume,
// cancel, wait; and asking a peer for its target.
#include "../datum.h"
#include "../spi.h"
#include "../store/table_db.h"
#include "../sync/job.h"
#include "../sync/peer.h"
#include "../sync/connector.h"
#include "../sync/remote.h"
#include "../memory_limit.h"

#include "core/checkpoint.h"
#include "core/mmr.h"

extern "C" {
#include "miscadmin.h"
#include "utils/acl.h"
#include "storage/latch.h"
#include "catalog/pg_type_d.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
}

#include <libpq-fe.h>

#include <cstring>
#include <functional>

using namespace qmdb;
using namespace qmdb::pg;

namespace {

Digest
root_arg(FunctionCallInfo fcinfo, int n) {
	Bytes b = bytes_arg(fcinfo, n, "root");
	if (b.size() != 32)
		throw Error(ErrorCode::InvalidArgument, "root must be 32 bytes, got " + std::to_string(b.size()));
	Digest d;
	std::memcpy(d.data(), b.data(), 32);
	return d;
}

void
check_range(uint64_t start, uint64_t end) {
	if (start >= end)
		throw Error(ErrorCode::InvalidArgument,
		            "range_start must be below range_end (an empty range has nothing to sync)");
	if (end > MAX_LEAVES)
		throw Error(ErrorCode::InvalidArgument, "range_end exceeds 2^62");
}

// The user who called us: these functions are SECURITY DEFINER, so
// superuser() would ask about their owner instead.
bool
caller_is_superuser() {
	return superuser_arg(GetOuterUserId());
}

// Non-superusers must authenticate to peers with a password (as postgres_fdw),
// and may not name this server's credentials or files.
void
check_peer_conninfo(const std::string &conninfo) {
	if (conninfo.size() > MAX_CONNINFO_BYTES)
		throw Error(ErrorCode::LimitExceeded,
		            "a peer connection string has at most " + std::to_string(MAX_CONNINFO_BYTES) + " bytes");
	std::string err = conninfo_error(conninfo);
	if (!err.empty())
		throw Error(ErrorCode::InvalidArgument, "invalid peer connection string: " + err);
	if (caller_is_superuser())
		return;
	if (!conninfo_has_password(conninfo))
		throw Error(ErrorCode::InvalidArgument,
		            "password is required: non-superusers must give a password in each peer's connection string");
	std::string forbidden = forbidden_conninfo_option(conninfo);
	if (!forbidden.empty())
		throw Error(ErrorCode::PermissionDenied, "only superusers may set \"" + forbidden +
		                                             "\" in a peer's connection string (it uses this server's files "
		                                             "or credentials)");
}

// The job of database `db`, locked for this transaction, if the caller may
// control it: its owner (the role that started it), a member of that role,
// or a superuser (as a subscription is its owner's).
int32
job_id(Spi &spi, const std::string &db, bool lock = true) {
	if (spi.exec(lock ? "SELECT db_id, created_by::text FROM qmdb.sync_jobs WHERE db_name = $1 FOR UPDATE"
	                  : "SELECT db_id, created_by::text FROM qmdb.sync_jobs WHERE db_name = $1",
	             {text_param(db)}) == 0)
		throw Error(ErrorCode::NotFound, "no sync job for database \"" + db + "\"");
	int32 id = spi.i32(0, 0);
	std::string owner = spi.str(0, 1);
	bool allowed = pg_call([&] {
		Oid caller = GetOuterUserId();
		Oid role = get_role_oid(owner.c_str(), true);
		return superuser_arg(caller) || (OidIsValid(role) && has_privs_of_role(caller, role));
	});
	if (!allowed)
		throw Error(ErrorCode::PermissionDenied, "must be the owner of the sync of \"" + db + "\" (role \"" + owner +
		                                             "\"), a member of that role, or a superuser");
	return id;
}

bool
worker_running(Spi &spi, int32 id) {
	spi.exec("SELECT pg_catalog.pg_try_advisory_lock($1, $2)::int4", {int4_param(SYNC_LOCK_CLASS), int4_param(id)});
	if (spi.i32(0, 0) == 0)
		return true;
	spi.exec("SELECT pg_catalog.pg_advisory_unlock($1, $2)", {int4_param(SYNC_LOCK_CLASS), int4_param(id)});
	return false;
}

} // namespace

namespace {

std::string options_with_peer_format(Spi &spi, const std::vector<std::string> &peers, const std::string &remote_db,
                                     const std::string &options);
void notice(const std::string &message);
std::string ask_checkpoint(const std::string &conninfo, const std::string &db);

struct InitialCheckpoint {
	std::string note; // "" when the target was given
	Checkpoint checkpoint;
	size_t signers = 0;
};

// The newest checkpoint any peer serves that the policy accepts; throws,
// naming each peer's reason, when none does.
InitialCheckpoint
newest_checkpoint(const std::vector<std::string> &peers, const std::string &remote_db, const TrustPolicy &trust) {
	InitialCheckpoint best;
	std::string reasons;
	for (size_t i = 0; i < peers.size(); i++) {
		std::string why;
		try {
			std::string text = ask_checkpoint(peers[i], remote_db);
			if (text.empty()) {
				why = "it has no signed checkpoint";
			} else {
				Note note = parse_note(text);
				size_t signers = verified_signers(note, trust.keys).size();
				Checkpoint c = parse_checkpoint_text(note.text);
				if (signers < trust.threshold)
					why = "signed by " + std::to_string(signers) + " of the trusted keys; " +
					      std::to_string(trust.threshold) + " required";
				else if (c.origin != trust.origin)
					why = "its origin is " + printable_peer_text(c.origin, 300) + ", not " + trust.origin;
				else if (best.note.empty() || c.target.end > best.checkpoint.target.end)
					best = {text, c, signers};
			}
		} catch (const PgError &) {
			throw; // a cancel, or this server's own trouble: not the peer's
		} catch (const Error &e) {
			why = e.what();
		}
		if (!why.empty())
			reasons += (reasons.empty() ? "" : "; ") + ("peer " + std::to_string(i + 1) + ": " + why);
	}
	if (best.note.empty())
		throw Error(
		    ErrorCode::PeerUnavailable,
		    printable_peer_text("no peer served a checkpoint the trust policy accepts (" + reasons + ")", 2000));
	return best;
}

void
record_initial_checkpoint(Spi &spi, const std::string &db, const InitialCheckpoint &initial) {
	if (initial.note.empty())
		return;
	spi.exec("UPDATE qmdb.sync_jobs SET checkpoint_note = $2, checkpoint_size = $3, checkpoint_signers = $4::int4, "
	         "checkpoint_at = now() WHERE db_name = $1",
	         {text_param(db), text_param(initial.note), int8_param(static_cast<int64>(initial.checkpoint.target.end)),
	          int8_param(static_cast<int64>(initial.signers))});
}

std::string
format_text(const OpFormat &f) {
	auto size = [](const std::optional<uint32_t> &n) { return n ? std::to_string(*n) : std::string("variable"); };
	return std::string("kind ") + db_kind_name(f.kind) + ", " + encoding_name(f.encoding) + ", key_size " +
	       size(f.key_size) + ", value_size " + size(f.value_size);
}

// What a catch-up appended beyond a replica's published size: never
// readable, and in the way of whatever comes next (a new catch-up, writes).
void
drop_unpublished(Spi &spi, const DbInfo &info) {
	JournalTable journal(info.id, info.format);
	journal.attach(spi);
	journal.drop_from(info.size);
	NodeTable nodes(info.id, location_to_position(info.size));
	nodes.attach(spi);
	nodes.truncate(location_to_position(info.size));
}

// The job's row and its peers' rows; its worker starts at commit.
void
insert_job(Spi &spi, int32 id, const std::string &db, const std::vector<std::string> &peers, const Target &target,
           const std::string &options, uint64_t journal_start, uint64_t journal_size) {
	std::vector<Bytes> peer_bytes;
	for (const auto &p : peers)
		peer_bytes.emplace_back(p.begin(), p.end());
	// No C++ object is made inside pg_call: an error there would skip its destructor.
	const char *caller_name = pg_call([] { return GetUserNameFromId(GetOuterUserId(), false); });
	std::string caller = caller_name;
	spi.exec("INSERT INTO qmdb.sync_jobs (db_id, db_name, peers, root, range_start, range_end, options, journal_start, "
	         "journal_size, created_by, newest_end) SELECT $1, $2, array_agg(convert_from(p, 'UTF8') ORDER BY i), $4, "
	         "$5, $6, $7::jsonb, $9, $10, $8, $6 FROM unnest($3::bytea[]) WITH ORDINALITY AS t(p, i)",
	         {int4_param(id), text_param(db), bytea_array_param(peer_bytes), bytea_param(target.root),
	          int8_param(static_cast<int64>(target.start)), int8_param(static_cast<int64>(target.end)),
	          text_param(options), text_param(caller), int8_param(static_cast<int64>(journal_start)),
	          int8_param(static_cast<int64>(journal_size))});
	for (size_t i = 0; i < peers.size(); i++)
		spi.exec(
		    "INSERT INTO qmdb.sync_peer_stats (db_id, peer, conninfo_masked, state) VALUES ($1, $2::int4, $3, 'idle')",
		    {int4_param(id), int8_param(static_cast<int64>(i + 1)), text_param(mask_conninfo(peers[i]))});
	start_sync_worker_at_commit(id);
}

// sync_start on an existing replica: a catch-up from its size to the
// target, fetching only what it lacks and publishing as it goes.
void
start_catch_up(Spi &spi, const std::string &db, const std::vector<std::string> &peers, const Target &target,
               std::string options, SyncOptions opts) {
	TableDatabase replica(spi, db, true, TableDatabase::Access::Any);
	const DbInfo &info = replica.info();
	// The format is the replica's: given options must agree with it.
	spi.exec("SELECT ($1::jsonb ?| ARRAY['kind', 'encoding', 'key_size', 'value_size'])::int4", {text_param(options)});
	if (spi.i32(0, 0) == 0) {
		spi.exec("SELECT ($1::jsonb || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('encoding', "
		         "$2::text, 'key_size', $3::int4, 'value_size', $4::int4, 'kind', $5::text)))::text",
		         {text_param(options), text_param(encoding_name(info.format.encoding)),
		          opt_int4_param(info.format.key_size), opt_int4_param(info.format.value_size),
		          text_param(db_kind_name(info.format.kind))});
		options = spi.str(0, 0);
		opts = parse_sync_options(spi, options);
	} else if (format_text(opts.format) != format_text(info.format)) {
		throw Error(ErrorCode::InvalidArgument, "the options' format (" + format_text(opts.format) +
		                                            ") is not the replica's (" + format_text(info.format) + ")");
	}
	if (target.end <= info.size)
		throw Error(ErrorCode::InvalidArgument, "replica \"" + db + "\" already holds " + std::to_string(info.size) +
		                                            " operations: a catch-up target must end beyond them (range_end " +
		                                            std::to_string(target.end) + ")");
	// A job of an earlier sync goes (it made this replica).
	delete_sync_job(spi, info.id);
	if (target.start > info.size) {
		// The source's range starts past what the replica holds (it may
		// have pruned what the replica lacks): a full sync of [start, end)
		// into a fresh database, which fetches less than a catch-up would.
		// The replica stays readable; the sync's completion replaces it in
		// one transaction (see the worker's finalize).
		spi.exec("INSERT INTO qmdb.databases (name, encoding, key_size, value_size, size, floor, pruning_boundary, "
		         "root, role, kind) VALUES ('resync:' || $1::int4, $2, $3, $4, $5, $5, $5, NULL, 'syncing', $6) "
		         "RETURNING id",
		         {int4_param(info.id), text_param(encoding_name(info.format.encoding)),
		          opt_int4_param(info.format.key_size), opt_int4_param(info.format.value_size),
		          int8_param(static_cast<int64>(target.start)), text_param(db_kind_name(info.format.kind))});
		int32 fresh = spi.i32(0, 0);
		insert_job(spi, fresh, db, peers, target, options, target.start, target.start);
		notice("the target starts at " + std::to_string(target.start) + ", past replica \"" + db + "\"'s " +
		       std::to_string(info.size) +
		       " operations: syncing it afresh; the replica stays readable until the new "
		       "state replaces it");
		return;
	}
	// Whatever an earlier catch-up that did not finish appended unpublished goes.
	drop_unpublished(spi, info);
	insert_job(spi, info.id, db, peers, target, options, info.pruning_boundary, info.size);
}

} // namespace

// qmdb.sync_start(db, peers, root, range_start, range_end, options)
QMDB_FUNCTION(qmdb_sync_start) {
	std::string db = text_arg(fcinfo, 0, "db");
	if (db.empty() || db.size() > 63)
		throw Error(ErrorCode::InvalidArgument, "a database name has 1 to 63 bytes");
	std::vector<std::string> peers = text_array_arg(fcinfo, 1, "peers");
	if (peers.empty())
		throw Error(ErrorCode::InvalidArgument, "no peers: give at least one connection string");
	if (peers.size() > MAX_PEERS)
		throw Error(ErrorCode::LimitExceeded,
		            "a sync has at most " + std::to_string(MAX_PEERS) + " peers, not " + std::to_string(peers.size()));
	for (const auto &p : peers)
		check_peer_conninfo(p);
	bool from_checkpoint = PG_ARGISNULL(2) && PG_ARGISNULL(3) && PG_ARGISNULL(4);
	Digest root{};
	uint64_t start = 0, end = 0;
	if (!from_checkpoint) {
		root = root_arg(fcinfo, 2);
		start = location_arg(fcinfo, 3, "range_start");
		end = location_arg(fcinfo, 4, "range_end");
		check_range(start, end);
	}
	std::string options = "{}";
	if (!PG_ARGISNULL(5)) {
		char *s = pg_call([&] { return DatumGetCString(DirectFunctionCall1(jsonb_out, PG_GETARG_DATUM(5))); });
		options = s;
	}
	Spi spi;
	require_current_schema(spi);
	SyncOptions opts = parse_sync_options(spi, options);
	// No target given: the newest checkpoint the trust policy accepts, from
	// any peer (a follower that needs nobody to type a target).
	InitialCheckpoint initial;
	if (from_checkpoint) {
		if (!opts.trust)
			throw Error(ErrorCode::NullValue, "root, range_start and range_end are required (or, with the option "
			                                  "trust, all NULL: the target comes from a signed checkpoint)");
		initial = newest_checkpoint(peers, opts.source_db.empty() ? db : opts.source_db, *opts.trust);
		root = initial.checkpoint.target.root;
		start = initial.checkpoint.target.start;
		end = initial.checkpoint.target.end;
	}
	if (spi.exec("SELECT state FROM qmdb.sync_jobs WHERE db_name = $1", {text_param(db)}) != 0) {
		std::string state = spi.str(0, 0);
		if (state == "running" || state == "following" || state == "paused")
			throw Error(ErrorCode::InUse, "a sync of \"" + db + "\" is " + state +
			                                  ": see qmdb.sync_status, and act on it with qmdb.sync_update_target, "
			                                  "sync_pause, sync_resume, sync_finish or sync_cancel");
		if (state != "complete")
			throw Error(ErrorCode::InUse, "the sync of \"" + db + "\" is " + state + ": qmdb.sync_resume('" + db +
			                                  "') retries it with what it verified, qmdb.sync_cancel('" + db +
			                                  "', drop_data => true) drops it");
	}
	if (spi.exec("SELECT role FROM qmdb.databases WHERE name = $1 FOR UPDATE", {text_param(db)}) != 0) {
		if (spi.str(0, 0) != "replica")
			throw Error(ErrorCode::AlreadyExists, "qmdb database \"" + db + "\" already exists and is a " +
			                                          spi.str(0, 0) +
			                                          ", not a replica (drop it with qmdb.drop_database, or sync "
			                                          "into another name)");
		start_catch_up(spi, db, peers, {root, start, end}, options, opts);
		record_initial_checkpoint(spi, db, initial);
		PG_RETURN_VOID();
	}
	// No format given: the peers tell it (each hello states it); a peer
	// that disagrees is refused at its handshake, as with a given format.
	spi.exec("SELECT ($1::jsonb ?| ARRAY['kind', 'encoding', 'key_size', 'value_size'])::int4", {text_param(options)});
	if (spi.i32(0, 0) == 0) {
		options = options_with_peer_format(spi, peers, opts.source_db.empty() ? db : opts.source_db, options);
		opts = parse_sync_options(spi, options);
	}
	spi.exec(
	    // No root: nothing is verified until the sync completes (qmdb.root and
	    // every read refuse a syncing database until then).
	    "INSERT INTO qmdb.databases (name, encoding, key_size, value_size, size, floor, pruning_boundary, root, role, "
	    "kind) VALUES ($1, $2, $3, $4, $5, $5, $5, NULL, 'syncing', $6) RETURNING id",
	    {text_param(db), text_param(encoding_name(opts.format.encoding)), opt_int4_param(opts.format.key_size),
	     opt_int4_param(opts.format.value_size), int8_param(static_cast<int64>(start)),
	     text_param(db_kind_name(opts.format.kind))});
	int32 id = spi.i32(0, 0);
	std::vector<Bytes> peer_bytes;
	for (const auto &p : peers)
		peer_bytes.emplace_back(p.begin(), p.end());
	// No C++ object is made inside pg_call: an error there would skip its destructor.
	const char *caller_name = pg_call([] { return GetUserNameFromId(GetOuterUserId(), false); });
	std::string caller = caller_name;
	insert_job(spi, id, db, peers, {root, start, end}, options, start, start);
	record_initial_checkpoint(spi, db, initial);
	PG_RETURN_VOID();
}

// qmdb.sync_update_target(db, root, range_start, range_end): queue a new target.
QMDB_FUNCTION(qmdb_sync_update_target) {
	std::string db = text_arg(fcinfo, 0, "db");
	Digest root = root_arg(fcinfo, 1);
	uint64_t start = location_arg(fcinfo, 2, "range_start");
	uint64_t end = location_arg(fcinfo, 3, "range_end");
	check_range(start, end);
	Spi spi;
	int32 id = job_id(spi, db);
	// The job row first: a worker about to rebuild holds it, so this either
	// sees the rebuild, or comes first and the worker sees this update.
	spi.exec("SELECT 1 FROM qmdb.sync_jobs WHERE db_id = $1 FOR UPDATE", {int4_param(id)});
	// Compare with the newest target, adopted or queued (a queued row stays
	// until the worker's target reaches it): only advancing ones count.
	spi.exec("SELECT state, range_start, range_end, phase, coalesce((options->>'follow')::bool, false)::int4 "
	         "FROM qmdb.sync_jobs WHERE db_id = $1 UNION ALL "
	         "(SELECT NULL, range_start, range_end, NULL, NULL FROM qmdb.sync_updates WHERE db_id = $1 "
	         "ORDER BY seq DESC LIMIT 1) ORDER BY state NULLS LAST",
	         {int4_param(id)});
	std::string state = spi.str(0, 0);
	if (state != "running" && state != "following" && state != "paused")
		throw Error(ErrorCode::InvalidArgument, "the sync of \"" + db + "\" is " + state + "; its target cannot move");
	bool follow = spi.i32(0, 4) != 0;
	// Past this point the worker only builds the state of the target it has
	// (a job that follows takes the update after the rebuild).
	if (!follow && spi.str(0, 3) == "rebuilding state")
		throw Error(ErrorCode::InvalidArgument, "the sync of \"" + db +
		                                            "\" has every operation of its target and is rebuilding its "
		                                            "state; its target cannot move");
	uint64 last = spi.rows() - 1;
	Target from{{}, static_cast<uint64_t>(spi.i64(last, 1)), static_cast<uint64_t>(spi.i64(last, 2))};
	if (!advances({root, start, end}, from))
		throw Error(ErrorCode::InvalidArgument, "the new target [" + std::to_string(start) + ", " +
		                                            std::to_string(end) + ") does not advance [" +
		                                            std::to_string(from.start) + ", " + std::to_string(from.end) +
		                                            ") (range_end must grow and range_start must not shrink)");
	spi.exec("INSERT INTO qmdb.sync_updates (db_id, root, range_start, range_end) VALUES ($1, $2, $3, $4)",
	         {int4_param(id), bytea_param(root), int8_param(static_cast<int64>(start)),
	          int8_param(static_cast<int64>(end))});
	// Not at the (new) target any more: sync_wait must not see the old phase.
	spi.exec("UPDATE qmdb.sync_jobs SET newest_end = $2, target_at = now(), phase = CASE WHEN state = 'following' "
	         "THEN 'catching up' WHEN state = 'running' THEN 'fetching' ELSE phase END WHERE db_id = $1",
	         {int4_param(id), int8_param(static_cast<int64>(end))});
	PG_RETURN_VOID();
}

namespace {

// The state of a job whose row job_id() locked.
std::string
job_state(Spi &spi, int32 id) {
	spi.exec("SELECT state FROM qmdb.sync_jobs WHERE db_id = $1", {int4_param(id)});
	return spi.str(0, 0);
}

// A control function called on a job in a state where it means nothing:
// object_not_in_prerequisite_state, naming the state and what can be done.
[[noreturn]] void
refuse_in_state(const std::string &db, const std::string &state, const char *what) {
	std::string hint = state == "complete"
	                       ? "it made a replica; qmdb.sync_cancel('" + db + "', drop_data => true) forgets the job"
	                       : "qmdb.sync_resume('" + db + "') retries it with what it verified";
	throw Error(ErrorCode::NotReady,
	            "the sync of \"" + db + "\" is " + state + ": there is nothing to " + what + " (" + hint + ")");
}

void
notice(const std::string &message) {
	pg_call([&] { ereport(NOTICE, (errmsg("%s", message.c_str()))); });
}

} // namespace

QMDB_FUNCTION(qmdb_sync_finish) {
	std::string db = text_arg(fcinfo, 0, "db");
	Spi spi;
	int32 id = job_id(spi, db);
	std::string state = job_state(spi, id);
	if (state != "running" && state != "following" && state != "paused")
		refuse_in_state(db, state, "finish");
	spi.exec("UPDATE qmdb.sync_jobs SET finish_requested = true WHERE db_id = $1", {int4_param(id)});
	PG_RETURN_VOID();
}

QMDB_FUNCTION(qmdb_sync_pause) {
	std::string db = text_arg(fcinfo, 0, "db");
	Spi spi;
	int32 id = job_id(spi, db);
	std::string state = job_state(spi, id);
	if (state == "paused")
		notice("the sync of \"" + db + "\" is already paused");
	else if (state != "running" && state != "following")
		refuse_in_state(db, state, "pause");
	spi.exec("UPDATE qmdb.sync_jobs SET state = 'paused', phase = 'paused' WHERE db_id = $1 AND state IN ('running', "
	         "'following')",
	         {int4_param(id)});
	PG_RETURN_VOID();
}

// Resume a paused job, or retry a failed or cancelled one from what it
// verified; also (re)starts the worker of a running job that has none
// (after a restart without shared_preload_libraries).
QMDB_FUNCTION(qmdb_sync_resume) {
	std::string db = text_arg(fcinfo, 0, "db");
	Spi spi;
	int32 id = job_id(spi, db);
	std::string state = job_state(spi, id);
	if (state == "complete")
		refuse_in_state(db, state, "resume");
	spi.exec("SELECT (home = qmdb.sync_home())::int4 FROM qmdb.sync_jobs WHERE db_id = $1", {int4_param(id)});
	bool at_home = spi.i32(0, 0) != 0;
	if (!at_home)
		notice("the sync of \"" + db + "\" was restored from another server or database: it resumes here");
	else if (state == "running" || state == "following")
		notice("the sync of \"" + db + "\" is already " + state);
	if (state == "failed" || state == "cancelled") {
		spi.exec("SELECT journal_size - journal_start FROM qmdb.sync_jobs WHERE db_id = $1", {int4_param(id)});
		notice("retrying the " + state + " sync of \"" + db + "\" from its " + std::to_string(spi.i64(0, 0)) +
		       " verified operations");
	}
	spi.exec("UPDATE qmdb.sync_jobs SET home = qmdb.sync_home(), worker_pid = NULL WHERE db_id = $1 AND $2 = 0",
	         {int4_param(id), int4_param(at_home ? 1 : 0)});
	spi.exec(
	    "UPDATE qmdb.sync_jobs SET state = 'running', phase = CASE WHEN state = 'paused' THEN 'fetching' "
	    "ELSE 'starting' END, completed_at = NULL, updated_at = now() WHERE db_id = $1 AND state NOT IN ('running', "
	    "'following')",
	    {int4_param(id)});
	if (!worker_running(spi, id))
		start_sync_worker_at_commit(id);
	PG_RETURN_VOID();
}

// qmdb.sync_cancel(db, drop_data): stop; with drop_data, forget everything.
QMDB_FUNCTION(qmdb_sync_cancel) {
	std::string db = text_arg(fcinfo, 0, "db");
	bool drop = !PG_ARGISNULL(1) && PG_GETARG_BOOL(1);
	Spi spi;
	int32 id = job_id(spi, db);
	qmdb::pg::Param p = int4_param(id);
	if (!drop) {
		std::string state = job_state(spi, id);
		if (state == "complete")
			refuse_in_state(db, state, "cancel");
		if (state == "cancelled")
			notice("the sync of \"" + db + "\" is already cancelled");
		spi.exec("UPDATE qmdb.sync_jobs SET state = 'cancelled', phase = 'cancelled', updated_at = now() "
		         "WHERE db_id = $1 AND state IN ('running', 'following', 'paused', 'failed')",
		         {p});
		PG_RETURN_VOID();
	}
	delete_sync_job(spi, id);
	// A completed sync made an ordinary replica: forgetting the job keeps it
	// (qmdb.drop_database drops it). Otherwise the partial data goes too.
	if (spi.exec("DELETE FROM qmdb.databases WHERE id = $1 AND role = 'syncing'", {p}) == 0)
		PG_RETURN_VOID();
	TableDatabase::delete_data(spi, id);
	PG_RETURN_VOID();
}

// qmdb.sync_wait(db, timeout) -> state: waits on the latch, polling the
// job row, until complete/failed/cancelled or at the target awaiting finish.
QMDB_FUNCTION(qmdb_sync_wait) {
	std::string db = text_arg(fcinfo, 0, "db");
	double timeout = -1;
	if (!PG_ARGISNULL(1)) {
		Interval *iv = PG_GETARG_INTERVAL_P(1);
		timeout = static_cast<double>(iv->time) / 1e6 + iv->day * 86400.0 + iv->month * 30.0 * 86400.0;
	}
	{
		Spi spi;
		(void)job_id(spi, db, false); // only its owner waits on a job
	}
	TimestampTz started = GetCurrentTimestamp();
	bool started_worker = false;
	for (;;) {
		std::string state, phase;
		{
			Spi spi;
			if (spi.exec(
			        "SELECT CASE WHEN state IN ('running', 'following') AND home <> qmdb.sync_home() THEN 'restored' "
			        "ELSE state END, CASE WHEN finish_requested THEN 'finishing' ELSE phase END, db_id "
			        "FROM qmdb.sync_jobs WHERE db_name = $1",
			        {text_param(db)}) == 0)
				throw Error(ErrorCode::NotFound, "no sync job for database \"" + db + "\"");
			state = spi.str(0, 0);
			phase = spi.str(0, 1);
			int32 id = spi.i32(0, 2);
			// A job whose worker is gone (restart without the launcher): start
			// it. Not in the first second: a worker sync_start or sync_resume
			// just asked for takes a moment to start and take its lock.
			double waited = static_cast<double>(GetCurrentTimestamp() - started) / 1e6;
			if (!started_worker && (state == "running" || state == "following") && waited >= 1.0 &&
			    !worker_running(spi, id)) {
				start_sync_worker(id, MyDatabaseId);
				started_worker = true;
			}
		}
		// A paused job makes no progress until someone resumes it: say so
		// now rather than wait for ever.
		if (state == "following" && phase == "caught up")
			return CStringGetTextDatum("caught up");
		if (state != "running" && state != "following")
			return CStringGetTextDatum(state.c_str());
		if (phase.rfind("at target", 0) == 0)
			return CStringGetTextDatum("at target");
		double waited = static_cast<double>(GetCurrentTimestamp() - started) / 1e6;
		if (timeout >= 0 && waited >= timeout)
			return CStringGetTextDatum(state.c_str());
		// The job's row is read again every 20 ms: a cheap index lookup, and
		// the caller learns of the end within a blink of it.
		pg_call([] {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 20, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		});
	}
}

// qmdb.fetch_target(conninfo, db) -> (root, range_start, range_end): the
// peer's answer is untrusted, and checked like a sync worker's (remote.h).
// The connection and the answer each get connect_timeout seconds, and the
// memory the answer may take is capped (qmdb.peer_memory_limit).
namespace {

// What one peer's qmdb.hello says of a database: its target and its format.
struct HelloAnswer {
	Bytes root;
	int64 start = 0, end = 0;
	OpFormat format;
};

// Ask one peer (conninfo already checked) one query with parameter `db`,
// whose single row must have `shape`; `read` takes the checked row. The
// connection and the answer each get connect_timeout seconds, the memory
// is capped, and the password rule is checked before the query.
void
ask_peer(const std::string &conninfo, const std::string &db, const char *what, const char *sql,
         const std::vector<ColumnShape> &shape_spec, const std::function<void(PGresult *)> &read) {
	bool password_required = !caller_is_superuser();
	double timeout = connect_timeout_of(conninfo);
	uint64_t notices = 0;
	PeerMemoryLimit limit;
	guard_connectors_at_exit();
	PGconn *conn = start_peer_connection(conninfo, "qmdb fetch_target", nullptr);
	TimestampTz deadline = 0;
	auto set_deadline = [&] { deadline = GetCurrentTimestamp() + static_cast<int64>(timeout * 1e6); };
	auto wait_socket = [&](int socket, int events, const char *what) {
		long left_ms = static_cast<long>((deadline - GetCurrentTimestamp()) / 1000);
		if (left_ms <= 0)
			throw Error(ErrorCode::PeerUnavailable, std::string(what) + " timed out after " +
			                                            std::to_string(static_cast<int>(timeout)) +
			                                            " s (connect_timeout)");
		pg_call([&] {
			(void)WaitLatchOrSocket(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | WL_TIMEOUT | events, socket,
			                        std::min(left_ms, 1000L), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS(); // a cancel closes the connection below (RAII-free: see catch)
		});
	};
	try {
		if (!conn || PQstatus(conn) == CONNECTION_BAD)
			throw Error(ErrorCode::PeerUnavailable, "could not connect: " + connection_error(conn));
		set_deadline();
		{
			// On its own thread (connector.h): whatever authentication the
			// peer asks for, a cancel or the deadline ends the wait.
			Connector connector(conn);
			conn = nullptr;
			Connector::Result r;
			while ((r = connector.result()) == Connector::Result::Running)
				wait_socket(connector.wake_fd(), WL_SOCKET_READABLE, "connecting");
			conn = connector.take();
			if (r == Connector::Result::Failed)
				throw Error(ErrorCode::PeerUnavailable, "could not connect: " + connection_error(conn));
		}
		set_notice_counter(conn, &notices);
		// Before any query (the peer's functions run as whoever we are there).
		std::string refused = password_rule_error(conn, password_required);
		if (!refused.empty())
			throw Error(ErrorCode::PermissionDenied, refused);
		const char *params[] = {db.c_str()};
		if (!PQsendQueryParams(conn, sql, 1, nullptr, params, nullptr, nullptr, 1))
			throw Error(ErrorCode::PeerUnavailable, connection_error(conn));
		set_deadline();
		PGresult *res = nullptr;
		std::string shape;
		for (int results = 0;; results++) {
			while (PQflush(conn) == 1 || PQisBusy(conn)) {
				wait_socket(PQsocket(conn), WL_SOCKET_READABLE | (PQflush(conn) == 1 ? WL_SOCKET_WRITEABLE : 0), what);
				if (!consume_peer_input(conn))
					throw Error(ErrorCode::PeerUnavailable, connection_error(conn));
			}
			PGresult *r = PQgetResult(conn);
			if (!r)
				break;
			ExecStatusType st = PQresultStatus(r);
			if (st == PGRES_FATAL_ERROR && !res) {
				// The peer's error (or libpq's, such as out of memory for a
				// huge row): what follows it does not matter.
				std::string why = peer_text(PQresultErrorMessage(r));
				PQclear(r);
				throw Error(ErrorCode::PeerUnavailable, "the peer refused: " + why);
			}
			if (results > 0 || st != PGRES_TUPLES_OK) {
				// A second result, or COPY (libpq keeps answering its state): never a handshake.
				PQclear(r);
				if (res)
					PQclear(res);
				throw Error(ErrorCode::PeerMisbehaved,
				            std::string("unexpected answer to ") + what +
				                " from the peer: " + (results > 0 ? "more than one result" : PQresStatus(st)));
			}
			res = r;
			shape = check_result_shape(res, shape_spec);
		}
		if (!res)
			throw Error(ErrorCode::PeerMisbehaved, std::string("the peer gave no answer to ") + what);
		if (!shape.empty()) {
			PQclear(res);
			throw Error(ErrorCode::PeerMisbehaved,
			            std::string("the peer's answer to ") + what + " is malformed: " + shape);
		}
		try {
			read(res);
		} catch (...) {
			PQclear(res);
			throw;
		}
		PQclear(res);
	} catch (...) {
		if (conn)
			PQfinish(conn);
		throw;
	}
	PQfinish(conn);
}

// Ask one peer (conninfo already checked) for its hello, as fetch_target
// does; throws with a clear error otherwise.
HelloAnswer
ask_hello(const std::string &conninfo, const std::string &db) {
	HelloAnswer answer;
	ask_peer(conninfo, db, "qmdb.hello",
	         // The handshake function, so a peer need only grant what a sync uses.
	         "SELECT pg_catalog.set_config('search_path', '', false), h.root, h.floor, h.size, "
	         "h.encoding, h.key_size, h.value_size, "
	         "COALESCE(pg_catalog.to_jsonb(h) OPERATOR(pg_catalog.->>) 'kind', 'any') FROM qmdb.hello($1) h",
	         {{"set_config", TEXTOID, true, 1024},
	          {"root", BYTEAOID, true, 32, 32},
	          {"floor", INT8OID, true, 8, 8},
	          {"size", INT8OID, true, 8, 8},
	          {"encoding", TEXTOID, true, 16},
	          {"key_size", INT4OID, true, 4, 4, true},
	          {"value_size", INT4OID, true, 4, 4, true},
	          {"coalesce", TEXTOID, true, 16}},
	         [&](PGresult *res) {
		         const uint8_t *r = reinterpret_cast<const uint8_t *>(PQgetvalue(res, 0, 1));
		         answer.root.assign(r, r + 32);
		         answer.start = binary_int8(PQgetvalue(res, 0, 2));
		         answer.end = binary_int8(PQgetvalue(res, 0, 3));
		         std::string encoding(PQgetvalue(res, 0, 4), static_cast<size_t>(PQgetlength(res, 0, 4)));
		         auto size = [&](int col) -> std::optional<uint32_t> {
			         if (PQgetisnull(res, 0, col))
				         return std::nullopt;
			         return static_cast<uint32_t>(binary_int4(PQgetvalue(res, 0, col)));
		         };
		         if (encoding != "fixed" && encoding != "variable")
			         throw Error(ErrorCode::PeerMisbehaved,
			                     "the peer answered an unknown encoding: " + peer_text(encoding.c_str()));
		         answer.format.encoding = encoding == "fixed" ? Encoding::Fixed : Encoding::Variable;
		         answer.format.key_size = size(5);
		         answer.format.value_size = size(6);
		         std::string kind(PQgetvalue(res, 0, 7), static_cast<size_t>(PQgetlength(res, 0, 7)));
		         std::optional<DbKind> k = db_kind_from_name(kind);
		         if (!k)
			         throw Error(ErrorCode::PeerMisbehaved,
			                     "the peer answered an unknown database kind: " + peer_text(kind.c_str()));
		         answer.format.kind = *k;
	         });
	try {
		answer.format.validate();
	} catch (const Error &e) {
		throw Error(ErrorCode::PeerMisbehaved, std::string("the peer answered an invalid format: ") + e.what());
	}
	if (answer.start < 0 || answer.start >= answer.end || static_cast<uint64_t>(answer.end) > MAX_LEAVES)
		throw Error(ErrorCode::PeerMisbehaved, "the peer answered an invalid range [" + std::to_string(answer.start) +
		                                           ", " + std::to_string(answer.end) + ")");
	return answer;
}

// One peer's newest signed checkpoint ("" when it has none), unchecked.
std::string
ask_checkpoint(const std::string &conninfo, const std::string &db) {
	std::string note;
	ask_peer(conninfo, db, "qmdb.checkpoint",
	         "SELECT pg_catalog.set_config('search_path', '', false), qmdb.checkpoint($1)",
	         {{"set_config", TEXTOID, true, 1024},
	          {"checkpoint", TEXTOID, true, static_cast<int>(MAX_NOTE_BYTES + MAX_NOTE_SIGNATURES * 400), -1, true}},
	         [&](PGresult *res) {
		         if (!PQgetisnull(res, 0, 1))
			         note.assign(PQgetvalue(res, 0, 1), static_cast<size_t>(PQgetlength(res, 0, 1)));
	         });
	return note;
}

// The options with the format the first peer that answers states.
std::string
options_with_peer_format(Spi &spi, const std::vector<std::string> &peers, const std::string &remote_db,
                         const std::string &options) {
	std::string errors;
	for (size_t i = 0; i < peers.size(); i++) {
		HelloAnswer a;
		try {
			a = ask_hello(peers[i], remote_db);
		} catch (const PgError &) {
			throw; // a cancel, or this server's own trouble: not the peer's
		} catch (const Error &e) {
			errors += (errors.empty() ? "" : "; ") + ("peer " + std::to_string(i + 1) + ": " + e.what());
			continue;
		}
		spi.exec(
		    "SELECT ($1::jsonb || pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('encoding', $2::text, "
		    "'key_size', $3::int4, 'value_size', $4::int4, 'kind', $5::text)))::text",
		    {text_param(options), text_param(encoding_name(a.format.encoding)), opt_int4_param(a.format.key_size),
		     opt_int4_param(a.format.value_size), text_param(db_kind_name(a.format.kind))});
		return spi.str(0, 0);
	}
	throw Error(ErrorCode::PeerUnavailable, printable_peer_text("no peer stated the database's format (" + errors +
	                                                                "): give encoding, key_size and value_size in "
	                                                                "the options",
	                                                            2000));
}

} // namespace

QMDB_FUNCTION(qmdb_fetch_target) {
	std::string conninfo = text_arg(fcinfo, 0, "conninfo");
	std::string db = text_arg(fcinfo, 1, "db");
	check_peer_conninfo(conninfo);
	HelloAnswer a = ask_hello(conninfo, db);
	Datum v[3] = {PointerGetDatum(to_bytea(a.root)), Int64GetDatum(a.start), Int64GetDatum(a.end)};
	bool n[3] = {false, false, false};
	return tuple_datum(fcinfo, v, n);
}

// qmdb.promote(db): a replica becomes a writable source (failover). A job
// that follows or catches it up ends first; what such a job appended beyond
// the published size goes (only verified commits were ever readable).
QMDB_FUNCTION(qmdb_promote) {
	std::string db = text_arg(fcinfo, 0, "db");
	Spi spi;
	require_current_schema(spi);
	// The job's row first, then the database's: a worker's turn locks them
	// in that order.
	if (spi.exec("SELECT db_id, state FROM qmdb.sync_jobs WHERE db_name = $1", {text_param(db)}) != 0) {
		(void)job_id(spi, db); // its owner (or a superuser) may end it
		std::string state =
		    spi.exec("SELECT state FROM qmdb.sync_jobs WHERE db_name = $1", {text_param(db)}) ? spi.str(0, 0) : "";
		if (state == "following" || state == "running" || state == "paused") {
			spi.exec("UPDATE qmdb.sync_jobs SET state = CASE WHEN state = 'following' THEN 'complete' ELSE "
			         "'cancelled' END, phase = 'ended by qmdb.promote', completed_at = now(), updated_at = now() "
			         "WHERE db_name = $1",
			         {text_param(db)});
			notice("the sync of \"" + db + "\" ended: the database is promoted");
		}
	}
	TableDatabase d(spi, db, true, TableDatabase::Access::Any);
	const DbInfo &info = d.info();
	if (info.role == "source") {
		notice("qmdb database \"" + db + "\" is already a source");
		PG_RETURN_VOID();
	}
	if (info.role == "syncing")
		throw Error(ErrorCode::NotReady, "qmdb database \"" + db +
		                                     "\" is being synced and has no verified state yet: nothing to promote "
		                                     "(qmdb.sync_cancel('" +
		                                     db + "', drop_data => true) drops it)");
	drop_unpublished(spi, info);
	spi.exec("UPDATE qmdb.databases SET role = 'source' WHERE id = $1", {int4_param(info.id)});
	PG_RETURN_VOID();
}
