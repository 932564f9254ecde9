// The sync worker: one background process per job. It feeds the engine
// (src/core/sync/engine) with responses from peers and with the operator's
// target updates and finish signal, and commits verified operations, node
// digests and progress together, a transaction per turn of the loop.
//
// Every wait is a latch-or-socket wait with CHECK_FOR_INTERRUPTS, so
// SIGTERM, DROP DATABASE and shutdown never wait on the network.
#include "../batch_memory.h"
#include "../gucs.h"
#include "../memory_limit.h"
#include "../spi.h"
#include "../store/node_table.h"
#include "../store/state_table.h"
#include "../store/table_db.h"
#include "connector.h"
#include "job.h"
#include "job_registry.h"
#include "peer.h"
#include "table_journal.h"

#include "core/checkpoint.h"
#include "core/memory_db.h"
#include "core/peer_text.h"
#include "core/mmr.h"
#include "core/sync/engine.h"
#include "core/sync/verify_ahead.h"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/ps_status.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>

namespace qmdb::pg {

namespace {

double
now_seconds() {
	return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A transaction with an SPI connection and an active snapshot, committed
// by commit(); an exception leaves it for the caller to abort.
class WorkerTransaction {
public:
	WorkerTransaction() {
		pg_call([] {
			SetCurrentStatementStartTimestamp();
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
		});
		spi_ = std::make_unique<Spi>();
	}
	Spi &spi() { return *spi_; }
	// Turns commit asynchronously (synchronous_commit is off in the worker):
	// a turn lost in a crash is simply fetched again, since its journal rows
	// and its progress commit together. The end of a job is made durable.
	void commit(bool durable = false) {
		if (durable)
			spi_->exec("SELECT pg_catalog.set_config('synchronous_commit', 'on', true)", {});
		spi_.reset();
		pg_call([] {
			PopActiveSnapshot();
			CommitTransactionCommand();
		});
	}

private:
	std::unique_ptr<Spi> spi_;
};

// NOTIFY qmdb_sync with {"db": ..., "event": ...} and one more field, the
// JSON built by PostgreSQL (every name and text escaped). The payload is
// bounded: a name has at most 63 bytes and an error at most
// MAX_JOB_ERROR_BYTES, far below NOTIFY's 8000.
void
notify(Spi &spi, const std::string &db, const char *event, const char *key, const std::string &value,
       bool number = false) {
	spi.exec("SELECT pg_catalog.pg_notify('qmdb_sync', (pg_catalog.jsonb_build_object('db', $1::text, 'event', "
	         "$2::text) || pg_catalog.jsonb_build_object($3::text, CASE WHEN $5::int4 = 1 "
	         "THEN pg_catalog.to_jsonb($4::numeric) ELSE pg_catalog.to_jsonb($4::text) END))::text)",
	         {text_param(db), text_param(event), text_param(key), text_param(value), int4_param(number ? 1 : 0)});
}

// A job's last_error: a message from the engine may name every peer's
// reason, so it is capped as a whole too.
constexpr size_t MAX_JOB_ERROR_BYTES = 2000;

std::string
seconds(double s) {
	char buf[32];
	std::snprintf(buf, sizeof(buf), "%.2f s", s);
	return buf;
}

// Helper threads (the job's VerifyAhead, the rebuild's FirstSightings). A
// FATAL error (as SIGTERM raises) exits the process without unwinding the
// worker, so they are stopped from an exit callback, before exit() tears
// down what they may be using (OpenSSL's state, the heap).
void
stop_helpers(int, Datum) {
	try {
		stop_all_helper_queues();
	} catch (...) {
		// Nothing to do: the process is ending.
	}
}

// This worker's job in the registry (job_registry.h): noted as running
// here, and its pid cleared at exit so the launcher can start another.
int32 registered_job = -1;

void
forget_worker_pid(int, Datum) {
	if (registered_job >= 0)
		registry_clear_worker(MyDatabaseId, registered_job, MyProcPid);
}

void
registered_worker(int32 job) {
	(void)registry_add(MyDatabaseId, job);
	registry_set_worker(MyDatabaseId, job, MyProcPid);
	registered_job = job;
}

class SyncWorker {
public:
	explicit SyncWorker(int32 db_id) : db_id_(db_id) {}

	// Returns when the job is complete, failed, cancelled or gone (then
	// job_over() is true), or when another worker has the job.
	void run();
	bool job_over() const { return job_over_; }

private:
	bool setup(Spi &spi);
	void wait_for_events(double timeout);
	void turn(Spi &spi, std::vector<PeerEvent> &events);
	void dispatch(double now, std::vector<PeerEvent> &events);
	void verify_answers(std::vector<PeerEvent> &events);
	void save_progress(Spi &spi, const char *phase);
	void save_peer_stats(Spi &spi);
	void log_peer_news();
	void report_activity(const char *phase);
	// Returns true once the database is complete.
	bool finalize(Spi &spi);
	void fail(const std::string &message);
	void publish(Spi &spi);
	void ask_checkpoints(double now, std::vector<PeerEvent> &events);
	void take_checkpoint(Spi &spi, const PeerEvent &e);
	[[noreturn]] void conflict(Spi &spi, const std::string &first, const std::string &second, const std::string &why);
	void complete_replica(Spi &spi);
	void notify_caught_up(Spi &spi);
	Peer *best_peer();

	int32 db_id_;
	SyncJob job_;
	std::unique_ptr<TableJournal> journal_;
	std::unique_ptr<NodeTable> nodes_;
	std::unique_ptr<sync::Engine> engine_;
	std::unique_ptr<sync::VerifyAhead> verify_;
	std::vector<std::unique_ptr<Peer>> peers_;
	std::map<uint64_t, std::pair<Request, Peer *>> inflight_; // id -> request, peer (null: waiting)
	std::deque<uint64_t> backlog_;                            // ids waiting for a ready peer
	std::vector<PeerEvent> early_;                            // polled during a turn, for the next
	bool paused_ = false, done_ = false;
	bool job_over_ = false; // the job needs no worker any more
	// Set once every operation is verified: the next turn rebuilds the state.
	bool rebuilding_ = false;
	// The database's role: 'syncing' (a first sync: nothing published until
	// the rebuild) or 'replica' (a catch-up or follow: each turn publishes
	// its verified commits). published_ is the replica's size.
	std::string role_;
	uint64_t published_ = 0;
	bool published_now_ = false; // published in this turn (published_at)
	// This turn told its listeners the replica caught up: it commits
	// durably, so what they were told survives a crash and has reached the
	// WAL a standby streams once sync_wait or the NOTIFY says so.
	bool caught_up_now_ = false;
	// Queued target updates given to the engine (seq, target), oldest
	// first, whose rows stay until the engine's target reaches them.
	int64 fed_seq_ = 0;
	std::deque<std::pair<int64, Target>> fed_;
	void forget_reached_updates(Spi &spi, const Target &target);
	// Signed checkpoints (option trust): the newest adopted one, the newest
	// whose target was reached and checked, and why the newest seen was not
	// adopted.
	std::optional<Checkpoint> adopted_;
	std::string adopted_note_, verified_note_;
	uint64_t adopted_signers_ = 0;
	std::string checkpoint_ignored_;
	bool checkpoint_news_ = false;
	double checkpoint_asked_at_ = 0;
	double started_at_ = 0; // this worker's start, for the completion message
	uint64_t last_size_ = 0;
	double last_rate_at_ = 0, ops_per_sec_ = 0;
	uint64_t bytes_ = 0;
	double peer_error_seen_ = 0;      // the time of the last peer error copied to the job
	std::vector<std::string> logged_; // per peer: what the log last heard of it
};

bool
SyncWorker::setup(Spi &spi) {
	require_current_schema(spi); // until ALTER EXTENSION ... UPDATE, the job waits (see main)
	auto job = load_sync_job(spi, db_id_);
	// A job restored from elsewhere runs only after sync_resume here.
	if (!job || (job->state != "running" && job->state != "following" && job->state != "paused") || !job->at_home)
		return false;
	job_ = *job;
	paused_ = job_.state == "paused";
	spi.exec("SELECT role, size FROM qmdb.databases WHERE id = $1", {int4_param(db_id_)});
	role_ = spi.str(0, 0);
	published_ = static_cast<uint64_t>(spi.i64(0, 1));
	sync::EngineConfig cfg;
	cfg.format = job_.options.format;
	cfg.fetch_batch_size = job_.options.fetch_batch_size;
	cfg.max_outstanding_requests = job_.options.max_outstanding_requests;
	cfg.explicit_finish = job_.options.explicit_finish;
	cfg.follow = job_.options.follow;
	journal_ = std::make_unique<TableJournal>(db_id_, job_.options.format, job_.journal_start, job_.journal_size);
	journal_->attach(spi);
	if (role_ == "replica") {
		// A catch-up: the journal and tree of the replica stay as they are,
		// and the engine extends them from the published size (its anchor).
		nodes_ = std::make_unique<NodeTable>(db_id_, location_to_position(published_));
		nodes_->attach(spi);
		sync::Anchor anchor;
		anchor.size = published_;
		for (uint64_t pos : nodes_to_pin(published_)) {
			auto d = nodes_->get(pos);
			if (!d)
				throw Error(ErrorCode::DataCorrupted, "the replica's tree has no node at " + std::to_string(pos));
			anchor.peaks.push_back(*d);
		}
		cfg.anchor = anchor;
		journal_->scan_commits(published_);
	} else {
		journal_->open(job_.target.start, job_.target.end);
		nodes_ = std::make_unique<NodeTable>(db_id_, 0);
		nodes_->attach(spi);
	}
	// Pins stored by an earlier run were verified against this job's target
	// start; reuse them only for a journal that is already complete.
	bool have_pins = job_.pins.has_value();
	std::vector<Digest> pins = have_pins ? *job_.pins : std::vector<Digest>();
	sync::LocalPins local = [have_pins, pins](const Target &,
	                                          const sync::Journal &) -> std::optional<std::vector<Digest>> {
		if (!have_pins)
			return std::nullopt;
		return pins;
	};
	engine_ = std::make_unique<sync::Engine>(cfg, *journal_, *nodes_, job_.target, local);
	verify_ = std::make_unique<sync::VerifyAhead>(job_.options.format);
	std::string remote = job_.options.source_db.empty() ? job_.db_name : job_.options.source_db;
	PeerRequirements req{remote, job_.options.format, job_.options.fetch_batch_size, job_.options.request_timeout};
	// The peers' pg_stat_activity names the job (unless the conninfo sets application_name).
	req.application_name = "qmdb sync of " + job_.db_name;
	std::string app = "qmdb sync worker: " + job_.db_name;
	pg_call([&] { pgstat_report_appname(app.c_str()); });
	// A job started by a non-superuser may only use peers that asked for its
	// password (postgres_fdw's rule): no borrowing this server's .pgpass or
	// trust. Checked by each peer before it sends any query.
	req.password_required = !job_.creator_is_superuser;
	for (size_t i = 0; i < job_.peers.size(); i++)
		peers_.push_back(std::make_unique<Peer>(static_cast<int>(i + 1), job_.peers[i], req));
	if (job_.options.trust) {
		// The newest adopted checkpoint survives restarts: replays stay
		// ignored and a conflicting one is still caught.
		spi.exec("SELECT checkpoint_note, checkpoint_verified_note FROM qmdb.sync_jobs WHERE db_id = $1",
		         {int4_param(db_id_)});
		if (!spi.is_null(0, 0)) {
			adopted_note_ = spi.str(0, 0);
			Note note = parse_note(adopted_note_);
			adopted_ = parse_checkpoint_text(note.text);
			adopted_signers_ = verified_signers(note, job_.options.trust->keys).size();
		}
		if (!spi.is_null(0, 1))
			verified_note_ = spi.str(0, 1);
	}
	last_size_ = journal_->size();
	last_rate_at_ = started_at_ = now_seconds();
	return true;
}

Peer *
SyncWorker::best_peer() {
	// Spread by measured latency: the ready peer where one more request
	// is expected to finish soonest. A slow peer simply gets less.
	Peer *best = nullptr;
	for (auto &p : peers_)
		if (p->can_send(8) && (!best || p->cost() < best->cost()))
			best = p.get();
	return best;
}

void
SyncWorker::dispatch(double now, std::vector<PeerEvent> &events) {
	while (!backlog_.empty() && !paused_) {
		uint64_t id = backlog_.front();
		auto it = inflight_.find(id);
		if (it == inflight_.end()) {
			backlog_.pop_front();
			continue;
		}
		Peer *p = best_peer();
		if (!p)
			return;
		backlog_.pop_front();
		it->second.second = p;
		p->send(id, it->second.first, now, events);
	}
}

// Hand new answers to the helper thread with what the engine would check
// them against now (deliver() rechecks any whose inputs changed since).
void
SyncWorker::verify_answers(std::vector<PeerEvent> &events) {
	for (PeerEvent &e : events) {
		if (e.kind != PeerEvent::Answer || e.verifying)
			continue;
		auto it = inflight_.find(e.id);
		if (e.id == 0 || it == inflight_.end())
			continue;
		sync::VerifyAhead::Job job;
		job.id = e.id;
		job.max_ops = it->second.first.max_ops;
		job.check = engine_->range_check(e.id);
		bytes_ += e.response.size();
		job.raw = std::move(e.response);
		verify_->submit(std::move(job));
		e.verifying = true;
	}
}

void
SyncWorker::wait_for_events(double timeout) {
	pg_call([&] {
		WaitEventSet *set = CreateWaitEventSet(CurrentMemoryContext, static_cast<int>(peers_.size()) + 2);
		AddWaitEventToSet(set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, nullptr);
		AddWaitEventToSet(set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, nullptr, nullptr);
		for (auto &p : peers_) {
			int sock = p->socket();
			if (sock < 0)
				continue;
			uint32 ev = WL_SOCKET_READABLE | (p->wants_write() ? WL_SOCKET_WRITEABLE : 0);
			AddWaitEventToSet(set, ev, sock, nullptr, nullptr);
		}
		WaitEvent occurred[16];
		int n = WaitEventSetWait(set, static_cast<long>(timeout * 1000), occurred, 16, PG_WAIT_EXTENSION);
		for (int i = 0; i < n; i++)
			if (occurred[i].events & WL_LATCH_SET)
				ResetLatch(MyLatch);
		FreeWaitEventSet(set);
		CHECK_FOR_INTERRUPTS();
	});
}

// What the worker is doing, where PostgreSQL's tools look: pg_stat_activity's
// query column (and so deadlock reports), and the process title.
void
SyncWorker::report_activity(const char *phase) {
	std::string activity = "qmdb sync of \"" + job_.db_name + "\": " + phase + ", " + std::to_string(journal_->size()) +
	                       " of " + std::to_string(engine_->target().end) + " operations";
	pg_call([&] {
		pgstat_report_activity(STATE_RUNNING, activity.c_str());
		set_ps_display(activity.c_str());
	});
}

// Deletes the rows of the updates the engine's target has reached or
// passed (adopted, or superseded by a newer one it adopted), in the
// transaction that records that target.
void
SyncWorker::forget_reached_updates(Spi &spi, const Target &target) {
	int64 upto = 0;
	while (!fed_.empty() && !advances(fed_.front().second, target)) {
		upto = fed_.front().first;
		fed_.pop_front();
	}
	if (upto > 0)
		spi.exec("DELETE FROM qmdb.sync_updates WHERE db_id = $1 AND seq <= $2",
		         {int4_param(db_id_), int8_param(upto)});
}

void
SyncWorker::save_progress(Spi &spi, const char *phase) {
	report_activity(phase);
	if (published_now_ && std::strcmp(phase, "caught up") == 0)
		caught_up_now_ = true; // sync_wait returns on this row
	double now = now_seconds();
	// A rate over each second, smoothed; the first from a fifth of a second
	// on, so the view shows the rate from the start, not 0 for a while.
	double window = ops_per_sec_ == 0 ? 0.2 : 1.0;
	if (ops_per_sec_ == 0 && journal_->size() <= last_size_) {
		last_rate_at_ = now; // nothing yet (connecting): the first window starts at the first progress
	} else if (now - last_rate_at_ >= window) {
		double rate =
		    static_cast<double>(journal_->size() - std::min(last_size_, journal_->size())) / (now - last_rate_at_);
		ops_per_sec_ = ops_per_sec_ == 0 ? rate : 0.7 * ops_per_sec_ + 0.3 * rate;
		last_size_ = journal_->size();
		last_rate_at_ = now;
	}
	// The newest peer error becomes the job's last_error too: a job whose
	// peers all fail says why in sync_status, not only in sync_peers.
	std::string peer_error;
	for (auto &p : peers_)
		if (p->last_error_at > peer_error_seen_ && !p->last_error.empty()) {
			peer_error_seen_ = p->last_error_at;
			peer_error = "peer " + std::to_string(p->index) + ": " + p->last_error;
		}
	sync::Progress pr = engine_->progress();
	Bytes pins;
	if (engine_->pinned_nodes())
		for (const Digest &d : *engine_->pinned_nodes())
			pins.insert(pins.end(), d.begin(), d.end());
	spi.exec(
	    "UPDATE qmdb.sync_jobs SET progress_at = CASE WHEN journal_size <> $4 OR targets_reached <> $12 "
	    "OR phase <> $2 THEN now() ELSE progress_at END, phase = $2, journal_start = $3, journal_size = $4, pins = $5, "
	    "outstanding = $6, responses_accepted = $7, responses_rejected = $8, target_updates = $9, "
	    "bytes_received = $10, ops_per_sec = $11::float8, targets_reached = $12, root = $13, range_start = $14, "
	    "range_end = $15, worker_pid = pg_catalog.pg_backend_pid(), updated_at = now(), "
	    "last_error = coalesce(nullif($16, ''), last_error), "
	    "last_error_at = CASE WHEN $16 <> '' THEN now() ELSE last_error_at END, "
	    "state = CASE WHEN state = 'running' AND $17 = 1 THEN 'following' ELSE state END, "
	    "published_at = CASE WHEN $18 = 1 THEN now() ELSE published_at END WHERE db_id = $1",
	    {int4_param(db_id_), text_param(phase), int8_param(static_cast<int64>(journal_->start())),
	     int8_param(static_cast<int64>(journal_->size())),
	     engine_->pinned_nodes() ? bytea_param(pins) : null_bytea_param(),
	     int8_param(static_cast<int64>(inflight_.size())), int8_param(static_cast<int64>(pr.responses_accepted)),
	     int8_param(static_cast<int64>(pr.responses_rejected)), int8_param(static_cast<int64>(pr.target_updates)),
	     int8_param(static_cast<int64>(bytes_)), text_param(std::to_string(ops_per_sec_)),
	     int8_param(static_cast<int64>(pr.targets_reached)), bytea_param(pr.target.root),
	     int8_param(static_cast<int64>(pr.target.start)), int8_param(static_cast<int64>(pr.target.end)),
	     text_param(peer_error), int4_param(job_.options.follow && role_ == "replica" ? 1 : 0),
	     int4_param(published_now_ ? 1 : 0)});
	published_now_ = false;
	forget_reached_updates(spi, pr.target);
	if (checkpoint_news_) {
		spi.exec(
		    "UPDATE qmdb.sync_jobs SET checkpoint_note = nullif($2, ''), checkpoint_verified_note = nullif($3, ''), "
		    "checkpoint_size = $4, checkpoint_signers = $5::int4, checkpoint_at = CASE WHEN checkpoint_size IS "
		    "DISTINCT FROM $4 THEN now() ELSE checkpoint_at END, checkpoint_ignored = nullif($6, '') "
		    "WHERE db_id = $1",
		    {int4_param(db_id_), text_param(adopted_note_), text_param(verified_note_),
		     int8_param(adopted_ ? static_cast<int64>(adopted_->target.end) : 0),
		     int8_param(static_cast<int64>(adopted_signers_)), text_param(checkpoint_ignored_)});
		checkpoint_news_ = false;
	}
	save_peer_stats(spi);
}

void
SyncWorker::save_peer_stats(Spi &spi) {
	for (auto &p : peers_)
		spi.exec(
		    "INSERT INTO qmdb.sync_peer_stats AS s (db_id, peer, conninfo_masked, state, in_flight, ops, bytes, "
		    "latency_ms, rejects, ban_reason, banned_at, last_error, last_error_at, errors, notices, checkpoint_size, "
		    "checkpoint_rejects) "
		    "VALUES ($1, $2::int4, $3, $4, $5::int4, $6, $7, $8::float8, $9, nullif($10, ''), "
		    "CASE WHEN $10 <> '' THEN coalesce((SELECT banned_at FROM qmdb.sync_peer_stats "
		    "WHERE db_id = $1 AND peer = $2::int4), now()) END, nullif($11, ''), "
		    "CASE WHEN $11 <> '' THEN now() END, $12, $13, nullif($14, 0), $15) "
		    "ON CONFLICT (db_id, peer) DO UPDATE SET state = EXCLUDED.state, in_flight = EXCLUDED.in_flight, "
		    "ops = EXCLUDED.ops, bytes = EXCLUDED.bytes, latency_ms = EXCLUDED.latency_ms, "
		    "rejects = EXCLUDED.rejects, ban_reason = EXCLUDED.ban_reason, banned_at = EXCLUDED.banned_at, "
		    "errors = EXCLUDED.errors, notices = EXCLUDED.notices, checkpoint_size = EXCLUDED.checkpoint_size, "
		    "checkpoint_rejects = EXCLUDED.checkpoint_rejects, "
		    "last_error = coalesce(EXCLUDED.last_error, s.last_error), "
		    "last_error_at = CASE WHEN EXCLUDED.last_error IS DISTINCT FROM s.last_error "
		    "THEN EXCLUDED.last_error_at ELSE s.last_error_at END",
		    {int4_param(db_id_), int8_param(p->index), text_param(p->masked_conninfo), text_param(p->state_name()),
		     int8_param(static_cast<int64>(p->in_flight())), int8_param(static_cast<int64>(p->ops)),
		     int8_param(static_cast<int64>(p->bytes)), text_param(std::to_string(p->latency_ms())),
		     int8_param(static_cast<int64>(p->rejects)), text_param(p->ban_reason), text_param(p->last_error),
		     int8_param(static_cast<int64>(p->errors)), int8_param(static_cast<int64>(p->notices)),
		     int8_param(static_cast<int64>(p->checkpoint_size)),
		     int8_param(static_cast<int64>(p->checkpoint_rejects))});
}

// The server log hears of each ban, and of each new reason a peer is
// refused, with the job's name (the views show only the latest).
void
SyncWorker::log_peer_news() {
	logged_.resize(peers_.size());
	for (size_t i = 0; i < peers_.size(); i++) {
		Peer &p = *peers_[i];
		std::string news;
		if (p.state() == Peer::State::Banned)
			news = "banned: " + p.ban_reason;
		else if (p.state() == Peer::State::Refused)
			news = "refused: " + p.last_error;
		else
			continue;
		if (news == logged_[i])
			continue;
		logged_[i] = news;
		std::string line = "qmdb sync of \"" + job_.db_name + "\": peer " + std::to_string(p.index) + " (" +
		                   p.masked_conninfo + ") " + news;
		pg_call([&] { ereport(LOG, (errmsg("%s", line.c_str()))); });
	}
}

void
SyncWorker::turn(Spi &spi, std::vector<PeerEvent> &events) {
	journal_->attach(spi);
	nodes_->attach(spi);

	// The operator's side: state, finish, target updates (in order).
	// The job row stays locked for the turn, so the operator's functions
	// (which lock it too) wait for the turn instead of racing it: a cancel
	// or drop that deletes the job's rows can never be followed by rows a
	// turn wrote after reading the job as running. A turn never waits on
	// the network, so they wait at most one turn (or the rebuild).
	spi.exec("SELECT state, finish_requested::int4 FROM qmdb.sync_jobs WHERE db_id = $1 FOR NO KEY UPDATE",
	         {int4_param(db_id_)});
	if (spi.rows() == 0) {
		done_ = true; // cancelled with drop_data
		return;
	}
	std::string state = spi.str(0, 0);
	if (state == "cancelled" || state == "failed" || state == "complete") {
		done_ = true;
		return;
	}
	paused_ = state == "paused";
	if (rebuilding_ && !job_.options.follow) {
		// A target update that came in before the rebuild's lock moves the
		// job back to fetching; none can come in after (sync_update_target).
		// A job that follows rebuilds first and takes the updates after.
		spi.exec("SELECT count(*)::int4 FROM qmdb.sync_updates WHERE db_id = $1", {int4_param(db_id_)});
		rebuilding_ = spi.i32(0, 0) == 0;
	}
	if (rebuilding_) {
		if (!paused_)
			done_ = finalize(spi);
		return;
	}
	if (spi.i32(0, 1))
		engine_->finish();
	// Each queued update goes to the engine once; its row stays until the
	// engine's target reaches or passes it (save_progress), so one the
	// engine defers survives a crash and still bounds sync_update_target.
	uint64 n = spi.exec("SELECT seq, root, range_start, range_end FROM qmdb.sync_updates WHERE db_id = $1 AND seq > $2 "
	                    "ORDER BY seq",
	                    {int4_param(db_id_), int8_param(fed_seq_)});
	for (uint64 i = 0; i < n; i++) {
		Target t;
		Bytes root = spi.bytes(i, 1);
		if (root.size() != 32) // the table's CHECK says so; a copy never overruns regardless
			throw Error(ErrorCode::DataCorrupted, "a queued target's root is not 32 bytes");
		std::memcpy(t.root.data(), root.data(), 32);
		t.start = static_cast<uint64_t>(spi.i64(i, 2));
		t.end = static_cast<uint64_t>(spi.i64(i, 3));
		fed_seq_ = spi.i64(i, 0);
		fed_.emplace_back(fed_seq_, t);
		engine_->update_target(t);
	}
	for (const PeerEvent &e : events)
		if (e.kind == PeerEvent::Checkpoint)
			take_checkpoint(spi, e);

	// Answers from peers: decoded and their proofs checked on the helper
	// thread (most of them while earlier ones were stored), then handed to
	// the engine, which checks the rest and applies them.
	verify_answers(events);
	for (PeerEvent &e : events) {
		if (e.kind == PeerEvent::Answer && !e.verifying)
			continue; // an answer to no request in flight
		sync::VerifyAhead::Job job;
		if (e.verifying) {
			job = verify_->next(); // in the order submitted, which is this order
			e.verifying = false;
			if (job.id != e.id)
				throw Error(ErrorCode::Internal, "sync worker: checked answers out of order");
		}
		auto it = inflight_.find(e.id);
		if (e.id == 0 || it == inflight_.end())
			continue;
		Request req = it->second.first;
		Peer *peer = it->second.second;
		inflight_.erase(it);
		if (e.kind == PeerEvent::Failure) {
			engine_->retry(e.id);
			continue;
		}
		std::vector<PeerEvent> lost;
		try {
			if (job.error)
				std::rethrow_exception(job.error);
			size_t ops = job.response->operations.size();
			sync::RangeCheck *checked = job.check ? &*job.check : nullptr;
			if (engine_->deliver(e.id, std::move(*job.response), true, checked) == sync::Verdict::Rejected) {
				peer->ban("response to request at " + std::to_string(req.start) + " failed verification", lost);
			} else {
				peer->ops += ops;
			}
		} catch (const DecodeError &err) {
			engine_->retry(e.id);
			peer->ban(std::string("malformed response: ") + err.what(), lost);
		}
		for (PeerEvent &l : lost) { // the banned peer's other requests go elsewhere
			inflight_.erase(l.id);
			engine_->retry(l.id);
		}
		// Answers that came in meanwhile go to the helper at once, to be
		// checked while this turn stores; the next turn delivers them
		// (first: they were submitted before anything polled after).
		double now = now_seconds();
		for (auto &p : peers_)
			p->poll(now, job_.options.request_timeout, early_);
		verify_answers(early_);
	}

	sync::StepResult r;
	while ((r = engine_->step()) == sync::StepResult::Continue) {
	}
	for (auto &o : engine_->take_requests()) {
		inflight_[o.id] = {o.request, nullptr};
		backlog_.push_back(o.id);
	}
	for (uint64_t id : engine_->take_cancelled()) {
		auto it = inflight_.find(id);
		if (it != inflight_.end() && it->second.second)
			it->second.second->cancel(id);
		inflight_.erase(id);
	}
	std::vector<Target> reached = engine_->take_reached();
	for (const Target &t : reached) {
		notify(spi, job_.db_name, "reached_target", "range_end", std::to_string(t.end), true);
		if (adopted_ && adopted_->target == t) {
			verified_note_ = adopted_note_;
			checkpoint_news_ = true;
		}
	}

	nodes_->flush();
	if (role_ == "replica") {
		publish(spi);
		if (!reached.empty() && published_ == engine_->target().end)
			notify_caught_up(spi);
		if (r == sync::StepResult::Complete) {
			complete_replica(spi);
			done_ = true;
			return;
		}
	} else if (r == sync::StepResult::Complete ||
	           (job_.options.follow && engine_->verified_end() == engine_->target().end)) {
		rebuilding_ = true; // commit this turn first, so the phase shows
		save_progress(spi, "rebuilding state");
		return;
	}
	log_peer_news();
	// Only a response that failed verification bans a peer, so with every
	// peer banned, no peer serves what the target says: the target is wrong
	// (or every peer lies). That is final; everything else is retried.
	bool all_banned = !peers_.empty();
	for (auto &p : peers_)
		all_banned = all_banned && p->state() == Peer::State::Banned;
	if (all_banned) {
		std::string reasons;
		for (auto &p : peers_)
			reasons += (reasons.empty() ? "" : "; ") + ("peer " + std::to_string(p->index) + ": " + p->ban_reason);
		throw sync::EngineError(sync::EngineErrorKind::InvalidResponse,
		                        "the target does not match what the peers serve: every peer is banned (" + reasons +
		                            ")");
	}
	sync::Progress pr = engine_->progress();
	const char *phase = paused_ ? "paused"
	                    : job_.options.follow && role_ == "replica"
	                        ? (published_ == pr.target.end ? "caught up" : "catching up")
	                    : pr.at_target ? "at target, waiting for finish"
	                                   : "fetching";
	save_progress(spi, phase);
}

// Publish the verified commits the journal holds beyond the replica's size:
// up to the last commit, never into the middle of one (its tail waits for
// the rest). Not before the first answer has shown the target extends the
// replica (sync::Anchor).
void
SyncWorker::publish(Spi &spi) {
	uint64_t end = journal_->committed_end();
	if (!engine_->anchor_confirmed() || end <= published_)
		return;
	TableDatabase db(spi, job_.db_name, true, TableDatabase::Access::Any);
	db.advance_replica(end);
	published_ = end;
	published_now_ = true;
}

// Every trust.interval seconds, each ready peer is asked for its newest
// signed checkpoint (one question at a time per peer).
void
SyncWorker::ask_checkpoints(double now, std::vector<PeerEvent> &events) {
	if (!job_.options.trust || paused_ || now - checkpoint_asked_at_ < job_.options.trust->interval)
		return;
	checkpoint_asked_at_ = now;
	for (auto &p : peers_)
		if (p->state() == Peer::State::Ready && !p->asking_checkpoint())
			p->ask_checkpoint(now, events);
}

// A checkpoint a peer served: adopted as the next target when at least the
// policy's threshold of trusted keys signed it, for our origin, and it
// advances the target; a second root at the adopted size is a split view.
// Anything else is ignored, and the peer that served it scored down.
void
SyncWorker::take_checkpoint(Spi &spi, const PeerEvent &e) {
	const TrustPolicy &trust = *job_.options.trust;
	Peer *peer = nullptr;
	for (auto &p : peers_)
		if (p->index == e.peer)
			peer = p.get();
	if (!peer)
		return;
	if (!e.error.empty()) {
		peer->last_error = "qmdb.checkpoint: " + e.error;
		return;
	}
	if (e.response.empty())
		return; // the peer has none yet
	std::string text(e.response.begin(), e.response.end());
	std::string why;
	try {
		Note note = parse_note(text);
		std::vector<NoteVerifier> signers = verified_signers(note, trust.keys);
		Checkpoint c = parse_checkpoint_text(note.text);
		Target newest = adopted_ ? adopted_->target : engine_->target();
		// A lower range_start than ours (a source whose floor went back, or
		// a copy) is held to ours: the root does not depend on it.
		c.target.start = std::max(c.target.start, std::min(newest.start, c.target.end - 1));
		if (signers.size() < trust.threshold) {
			why = "signed by " + std::to_string(signers.size()) + " of the trusted keys; " +
			      std::to_string(trust.threshold) + " required";
		} else if (c.origin != trust.origin) {
			why = "its origin is " + printable_peer_text(c.origin) + ", not " + trust.origin;
		} else if (adopted_ && order_checkpoints(*adopted_, c) == CheckpointOrder::SplitView) {
			conflict(spi, adopted_note_, text,
			         "two checkpoints of size " + std::to_string(c.target.end) + " with different roots");
		} else if (adopted_ && order_checkpoints(*adopted_, c) == CheckpointOrder::Same) {
			return; // what we have
		} else if (!advances(c.target, newest)) {
			why = "it does not advance the target [" + std::to_string(newest.start) + ", " +
			      std::to_string(newest.end) + ")";
		} else {
			engine_->update_target(c.target);
			adopted_ = c;
			adopted_note_ = text;
			adopted_signers_ = signers.size();
			checkpoint_ignored_.clear();
			checkpoint_news_ = true;
			peer->checkpoint_size = c.target.end;
			spi.exec("UPDATE qmdb.sync_jobs SET newest_end = greatest(newest_end, $2), target_at = now() "
			         "WHERE db_id = $1",
			         {int4_param(db_id_), int8_param(static_cast<int64>(c.target.end))});
			return;
		}
	} catch (const PgError &) {
		throw;
	} catch (const Error &err) {
		why = err.what();
	}
	peer->checkpoint_rejects++;
	peer->last_error = printable_peer_text("checkpoint ignored: " + why);
	peer->last_error_at = now_seconds();
	checkpoint_ignored_ = printable_peer_text("peer " + std::to_string(peer->index) + ": " + why, 1000);
	checkpoint_news_ = true;
}

// Two checkpoints that trusted keys signed cannot both be true: keep both
// as evidence, and stop (the replica keeps its verified state).
void
SyncWorker::conflict(Spi &spi, const std::string &first, const std::string &second, const std::string &why) {
	auto names = [&](const std::string &note) {
		std::string out;
		try {
			for (const NoteVerifier &v : verified_signers(parse_note(note), job_.options.trust->keys))
				out += (out.empty() ? "" : ", ") + v.name;
		} catch (const Error &) {
		}
		return out;
	};
	std::string message = "conflicting signed checkpoints: " + why + " (signed by " + names(first) + "; and by " +
	                      names(second) + "); both are kept in qmdb.checkpoint_conflicts";
	spi.exec("INSERT INTO qmdb.checkpoint_conflicts (db_name, first_note, second_note, detail) VALUES ($1, $2, $3, $4)",
	         {text_param(job_.db_name), text_param(first), text_param(second), text_param(message)});
	throw sync::EngineError(sync::EngineErrorKind::Diverged, message);
}

void
SyncWorker::notify_caught_up(Spi &spi) {
	caught_up_now_ = true;
	spi.exec("SELECT pg_catalog.pg_notify('qmdb_sync', pg_catalog.jsonb_build_object('db', $1::text, 'event', "
	         "'caught_up', 'size', d.size, 'root', pg_catalog.encode(d.root, 'hex'))::text) "
	         "FROM qmdb.databases d WHERE d.id = $2",
	         {text_param(job_.db_name), int4_param(db_id_)});
}

// A catch-up reached its target (or a follow was asked to finish): the
// replica holds the target, published, and stays a replica.
void
SyncWorker::complete_replica(Spi &spi) {
	if (published_ != engine_->target().end)
		throw Error(ErrorCode::Internal, "a replica completed without publishing its target");
	save_progress(spi, "complete");
	spi.exec("UPDATE qmdb.sync_jobs SET state = 'complete', phase = 'complete', outstanding = 0, completed_at = now(), "
	         "updated_at = now() WHERE db_id = $1",
	         {int4_param(db_id_)});
	notify(spi, job_.db_name, "complete", "root", to_hex(engine_->root()));
	std::string summary = "qmdb sync of \"" + job_.db_name + "\" complete: the replica holds " +
	                      std::to_string(published_) + " operations, caught up in " +
	                      seconds(now_seconds() - started_at_);
	pg_call([&] { ereport(LOG, (errmsg("%s", summary.c_str()))); });
}

bool
SyncWorker::finalize(Spi &spi) {
	const Target &t = engine_->target();
	Param id = int4_param(db_id_);
	double started = now_seconds();
	// The state, as a replay of [floor, end) would leave it, in one
	// set-based pass over the journal (see state_table.h). It commits with
	// the completion below, so a crash here simply starts it again.
	uint64_t floor = decode_op(job_.options.format, journal_->read(t.end - 1)).floor;
	// The activity bitmap as the rows stream by: a bit for each live key's
	// Update, and one for the last commit.
	std::map<uint64_t, Bytes> bitmap;
	Bytes *row = nullptr; // the row of the last bit set: the next is most often in it
	uint64_t row_index = 0;
	auto set_bit = [&](uint64_t loc) {
		if (!row || loc / BITS_PER_CHUNK != row_index) {
			row_index = loc / BITS_PER_CHUNK;
			row = &bitmap[row_index];
		}
		set_bitmap_bit(*row, loc, true);
	};
	std::string plain_reason;
	uint64_t live = load_state_partition(spi, db_id_, job_.options.format, floor, t.end, set_bit, &plain_reason);
	set_bit(t.end - 1);
	std::vector<int64> chunks;
	std::vector<const Bytes *> rows;
	for (auto &b : bitmap) {
		chunks.push_back(static_cast<int64>(b.first));
		rows.push_back(&b.second);
	}
	spi.exec("DELETE FROM qmdb.bitmap WHERE db_id = $1", {id});
	spi.exec(
	    "INSERT INTO qmdb.bitmap (db_id, chunk, bits) SELECT $1, c, b FROM unnest($2::int8[], $3::bytea[]) AS t(c, b)",
	    {id, int8_array_param(chunks), bytea_array_param(rows)});
	spi.exec("UPDATE qmdb.databases SET size = $2, floor = $3, pruning_boundary = $4, active_keys = $5, root = $6, "
	         "role = 'replica' WHERE id = $1",
	         {id, int8_param(static_cast<int64>(t.end)), int8_param(static_cast<int64>(floor)),
	          int8_param(static_cast<int64>(t.start)), int8_param(static_cast<int64>(live)),
	          bytea_param(engine_->root())});
	// A resync of a replica whose source pruned past it (sync_start) built
	// a fresh database: it replaces the replica now, in this transaction.
	spi.exec("SELECT name FROM qmdb.databases WHERE id = $1", {id});
	if (spi.str(0, 0) != job_.db_name) {
		if (spi.exec("SELECT id FROM qmdb.databases WHERE name = $1 FOR UPDATE", {text_param(job_.db_name)}) != 0) {
			int32 old = spi.i32(0, 0);
			// Its signing keys (a replica may cosign as a witness) stay with the name.
			spi.exec("UPDATE qmdb.signing_keys SET db_id = $2 WHERE db_id = $1", {int4_param(old), id});
			TableDatabase::delete_data(spi, old);
			spi.exec("DELETE FROM qmdb.databases WHERE id = $1", {int4_param(old)});
		}
		spi.exec("UPDATE qmdb.databases SET name = $2 WHERE id = $1", {id, text_param(job_.db_name)});
	}
	role_ = "replica";
	published_ = t.end;
	published_now_ = true;
	spi.exec("SELECT finish_requested::int4 FROM qmdb.sync_jobs WHERE db_id = $1", {id});
	bool finishing = spi.i32(0, 0) != 0;
	if (job_.options.follow && !finishing) {
		// Following on: the replica is readable now, and each later target
		// extends it (the engine holds the journal as its anchor).
		engine_->hold_as_anchor();
		rebuilding_ = false;
		notify_caught_up(spi);
		save_progress(spi, "caught up");
		std::string line = "qmdb sync of \"" + job_.db_name + "\": " + std::to_string(t.end - t.start) +
		                   " operations fetched and verified in " + seconds(started - started_at_) + ", state of " +
		                   std::to_string(live) + " keys rebuilt in " + seconds(now_seconds() - started) +
		                   "; following";
		pg_call([&] { ereport(LOG, (errmsg("%s", line.c_str()))); });
		return false;
	}
	spi.exec("UPDATE qmdb.sync_jobs SET state = 'complete', phase = 'complete', outstanding = 0, completed_at = now(), "
	         "updated_at = now() WHERE db_id = $1",
	         {id});
	notify(spi, job_.db_name, "complete", "root", to_hex(engine_->root()));
	double now = now_seconds();
	std::string summary = "qmdb sync of \"" + job_.db_name + "\" complete: " + std::to_string(t.end - t.start) +
	                      " operations fetched and verified in " + seconds(started - started_at_) + ", state of " +
	                      std::to_string(live) + " keys rebuilt in " + seconds(now - started) +
	                      (plain_reason.empty() ? "" : " (" + plain_reason + ")");
	pg_call([&] { ereport(LOG, (errmsg("%s", summary.c_str()))); });
	return true;
}

// Record the failure; this must not fail itself (a job that cannot reach
// `failed` would be restarted for ever). If the notification cannot be
// sent, the failure is recorded without it.
void
SyncWorker::fail(const std::string &message) {
	std::string why = printable_peer_text(message, MAX_JOB_ERROR_BYTES);
	std::string line = "qmdb sync of \"" + job_.db_name + "\" failed: " + why;
	pg_call([&] { ereport(LOG, (errmsg("%s", line.c_str()))); });
	auto record = [&](bool with_notify) {
		WorkerTransaction tx;
		tx.spi().exec(
		    "UPDATE qmdb.sync_jobs SET state = 'failed', phase = 'failed', last_error = $2, last_error_at = now(), "
		    "updated_at = now() WHERE db_id = $1",
		    {int4_param(db_id_), text_param(why)});
		if (with_notify) // what each peer last did, as the failure leaves them (not when cut short)
			save_peer_stats(tx.spi());
		if (with_notify)
			notify(tx.spi(), job_.db_name, "failed", "error", why);
		tx.commit(true);
	};
	try {
		record(true);
		return;
	} catch (const PgError &) {
		pg_call([] { AbortCurrentTransaction(); });
	}
	record(false);
}

void
SyncWorker::run() {
	{
		WorkerTransaction tx;
		// One worker per job: the session-level lock is held until exit.
		tx.spi().exec("SELECT pg_catalog.pg_try_advisory_lock($1, $2)::int4",
		              {int4_param(SYNC_LOCK_CLASS), int4_param(db_id_)});
		if (tx.spi().i32(0, 0) == 0) {
			tx.commit();
			return;
		}
		bool ok;
		try {
			ok = setup(tx.spi());
		} catch (const sync::EngineError &e) {
			tx.commit();
			fail(e.what());
			job_over_ = true;
			return;
		}
		if (ok)
			save_progress(tx.spi(), "connecting");
		tx.commit();
		if (!ok) {
			job_over_ = true; // finished, gone, or restored from elsewhere
			return;
		}
		registered_worker(db_id_);
	}
	std::vector<PeerEvent> events;
	while (!done_) {
		double now = now_seconds();
		for (auto &p : peers_) {
			if (!paused_)
				p->maybe_connect(now);
			p->poll(now, job_.options.request_timeout, events);
		}
		dispatch(now, events);
		ask_checkpoints(now, events);
		verify_answers(events);
		WorkerTransaction tx;
		try {
			turn(tx.spi(), events);
		} catch (const sync::EngineError &e) {
			// An adopted checkpoint whose history is not the one the replica
			// verified (the engine found other peaks, or another root): the
			// signers vouched for two histories. Kept as evidence.
			std::string message = e.what();
			if (adopted_ && !verified_note_.empty() && adopted_note_ != verified_note_ &&
			    (e.kind() == sync::EngineErrorKind::Diverged || e.kind() == sync::EngineErrorKind::RootMismatch) &&
			    message.rfind("diverged: conflicting", 0) != 0) {
				try {
					conflict(tx.spi(), verified_note_, adopted_note_,
					         "the checkpoint of size " + std::to_string(adopted_->target.end) +
					             " does not extend the verified one");
				} catch (const sync::EngineError &c) {
					message = c.what();
				}
			}
			tx.commit();
			fail(message);
			job_over_ = true;
			return;
		}
		// A turn that ended before the answers (the job stopped, or the
		// rebuild's turn) leaves their checks queued: take them off, in
		// order, so the queue stays in step with the events.
		for (PeerEvent &e : events)
			if (e.verifying)
				verify_->next();
		events.clear();
		events.swap(early_);
		dispatch(now, events);
		tx.commit(done_ || caught_up_now_);
		caught_up_now_ = false;
		if (done_) {
			job_over_ = true;
			return;
		}
		// Answers read during the commit may be in libpq's buffers now, not
		// on the sockets: collect them before waiting, or the wait would not
		// wake for them (and with every request answered, the peers would
		// sit idle until the timeout).
		now = now_seconds();
		for (auto &p : peers_)
			p->poll(now, job_.options.request_timeout, events);
		verify_answers(events);
		bool waiting = !events.empty() || (rebuilding_ && !paused_);
		wait_for_events(waiting ? 0 : 0.5); // what it woke for, the loop's first poll reads
	}
}

} // namespace

} // namespace qmdb::pg

extern "C" {
PGDLLEXPORT void qmdb_sync_worker_main(Datum arg);

void
qmdb_sync_worker_main(Datum arg) {
	int32 db_id = DatumGetInt32(arg);
	Oid dboid;
	std::memcpy(&dboid, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, die);
	on_proc_exit(qmdb::pg::stop_helpers, 0);
	on_proc_exit(qmdb::pg::forget_worker_pid, 0);
	qmdb::pg::guard_connectors_at_exit(); // runs before stop_helpers: see connector.h
	qmdb::pg::keep_batch_memory();
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	// What a peer's message may make this process allocate (memory_limit.h),
	// on top of the rebuild's maintenance_work_mem.
	qmdb::pg::limit_process_memory(maintenance_work_mem);
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION); // see WorkerTransaction::commit
	pgstat_report_appname("qmdb sync worker");

	// C++ stays inside this scope; any failure is recorded, then we exit.
	char message[1024] = {0};
	bool transient = false;
	try {
		qmdb::pg::SyncWorker worker(db_id);
		worker.run();
		if (worker.job_over())
			qmdb::pg::registry_remove(MyDatabaseId, db_id);
	} catch (const qmdb::pg::PgError &e) {
		std::strncpy(message, e.what(), sizeof(message) - 1);
		transient = true;
	} catch (const qmdb::Error &e) {
		// A schema older than this library: the job waits for the update
		// (the launcher starts the worker again); anything else fails it.
		std::strncpy(message, e.what(), sizeof(message) - 1);
		transient = e.code() == qmdb::ErrorCode::NotReady;
	} catch (const std::bad_alloc &) {
		// Out of memory (a peer's huge message, memory_limit.h): not the job's fault.
		std::strncpy(message, "out of memory (qmdb.peer_memory_limit)", sizeof(message) - 1);
		transient = true;
	} catch (const std::exception &e) {
		std::strncpy(message, e.what(), sizeof(message) - 1);
	}
	if (message[0]) {
		// Leave the failed transaction, then record what happened.
		AbortCurrentTransaction();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		Oid types[3] = {INT4OID, TEXTOID, BOOLOID};
		Datum values[3] = {Int32GetDatum(db_id), CStringGetTextDatum(message), BoolGetDatum(transient)};
		SPI_execute_with_args("UPDATE qmdb.sync_jobs SET last_error = $2, last_error_at = now(), "
		                      "state = CASE WHEN $3 THEN state ELSE 'failed' END, updated_at = now() WHERE db_id = $1",
		                      3, types, values, nullptr, false, 0);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		// A transient (database-side) error: exit 1 so the launcher starts us again.
		proc_exit(transient ? 1 : 0);
	}
	proc_exit(0);
}
}
