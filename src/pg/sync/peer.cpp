#include "peer.h"

#include "core/note.h"
#include "remote.h"

#include <libpq-fe.h>

extern "C" {
#include "catalog/pg_type_d.h" // type OIDs only: no backend call
}

#include <algorithm>
#include <cstring>
#include <random>

namespace qmdb::pg {

static const char *HELLO_SQL =
    "SELECT pg_catalog.set_config('search_path', '', false), h.protocol_version, h.hasher, h.family, "
    "h.encoding, h.key_size, h.value_size, h.max_ops, "
    // A peer from before 0.4.0 states no kind: its databases are all `any`.
    "COALESCE(pg_catalog.to_jsonb(h) OPERATOR(pg_catalog.->>) 'kind', 'any') FROM qmdb.hello($1) h";
static const char *SERVE_SQL = "SELECT qmdb.serve($1, $2)";
static const char *CHECKPOINT_SQL = "SELECT qmdb.checkpoint($1)";
constexpr int PROTOCOL_VERSION = 1;

std::string
conninfo_error(const std::string &conninfo) {
	char *err = nullptr;
	PQconninfoOption *opts = PQconninfoParse(conninfo.c_str(), &err);
	std::string out = opts ? "" : (err ? err : "invalid connection string");
	if (err)
		PQfreemem(err);
	if (opts)
		PQconninfoFree(opts);
	while (!out.empty() && out.back() == '\n')
		out.pop_back();
	return out;
}

static std::string
rebuild(const std::string &conninfo, bool mask, bool *has_password) {
	PQconninfoOption *opts = PQconninfoParse(conninfo.c_str(), nullptr);
	if (!opts)
		return "(invalid)";
	std::string out;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		bool secret = o->dispchar && std::strchr(o->dispchar, '*');
		if (std::strcmp(o->keyword, "password") == 0 && has_password)
			*has_password = true;
		if (!out.empty())
			out += ' ';
		out += o->keyword;
		out += '=';
		out += (secret && mask) ? "********" : o->val;
	}
	PQconninfoFree(opts);
	return out;
}

std::string
mask_conninfo(const std::string &conninfo) {
	return rebuild(conninfo, true, nullptr);
}

bool
conninfo_has_password(const std::string &conninfo) {
	bool has = false;
	rebuild(conninfo, true, &has);
	return has;
}

Peer::Peer(int i, std::string conninfo, PeerRequirements req)
    : index(i), masked_conninfo(mask_conninfo(conninfo)), conninfo_(std::move(conninfo)), req_(std::move(req)),
      connect_timeout_(connect_timeout_of(conninfo_)) {}

Peer::~Peer() {
	if (conn_)
		PQfinish(conn_);
}

const char *
Peer::state_name() const {
	switch (state_) {
	case State::Idle:
		return "idle";
	case State::Connecting:
		return "connecting";
	case State::Handshaking:
		return "handshaking";
	case State::Ready:
		return resting_ ? "backoff" : "ready";
	case State::Backoff:
		return "backoff";
	case State::Refused:
		return "refused";
	case State::Banned:
		return "banned";
	}
	return "unknown";
}

int
Peer::socket() const {
	if (connector_)
		return connector_->wake_fd();
	return conn_ ? PQsocket(conn_) : -1;
}

void
Peer::maybe_connect(double now) {
	if ((state_ == State::Backoff || state_ == State::Refused) && now >= retry_at_)
		state_ = State::Idle;
	if (state_ != State::Idle)
		return;
	// Notices are counted once connected (the connector's thread must not
	// touch this object); until then they are dropped uncounted.
	conn_ = start_peer_connection(conninfo_, req_.application_name.c_str(), nullptr);
	if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) {
		std::vector<PeerEvent> none;
		fail_connection(connection_error(conn_), now, none);
		return;
	}
	connector_ = std::make_unique<Connector>(conn_);
	conn_ = nullptr;
	state_ = State::Connecting;
	phase_since_ = now;
}

void
Peer::note_error(const std::string &why, double now) {
	last_error = printable_peer_text(why);
	last_error_at = now;
	errors++;
}

void
Peer::fail_connection(const std::string &why, double now, std::vector<PeerEvent> &out) {
	note_error(why, now);
	for (const InFlight &f : inflight_)
		out.push_back({PeerEvent::Failure, f.id, {}, last_error});
	inflight_.clear();
	connector_.reset(); // given up: its thread frees the connection when done
	if (conn_) {
		PQfinish(conn_);
		conn_ = nullptr;
	}
	resting_ = false;
	if (state_ == State::Banned)
		return;
	retry_at_ = now + next_backoff();
	state_ = State::Backoff;
}

double
Peer::next_backoff() {
	// Exponential backoff with jitter, capped.
	static std::mt19937 rng(std::random_device{}());
	double jitter = 0.5 + std::uniform_real_distribution<double>(0, 1)(rng);
	double wait = backoff_ * jitter;
	backoff_ = std::min(backoff_ * 2, MAX_BACKOFF);
	return wait;
}

void
Peer::ban(const std::string &reason, std::vector<PeerEvent> &out) {
	rejects++;
	ban_reason = printable_peer_text(reason);
	state_ = State::Banned;
	fail_connection("banned: " + reason, last_error_at, out);
}

void
Peer::refuse(const std::string &reason, double now, std::vector<PeerEvent> &out) {
	fail_connection(reason, now, out);
	state_ = State::Refused; // fail_connection set the time of the next try
}

void
Peer::check_hello(PGresult *res) {
	if (++handshake_results_ > 1) {
		if (handshake_error_.empty()) // the first error (say, libpq out of memory) says more
			handshake_error_ = "qmdb.hello answered more than one result";
		return;
	}
	std::string shape = check_result_shape(res, {{"set_config", TEXTOID, false, 1024},
	                                             {"protocol_version", INT4OID, false, 11},
	                                             {"hasher", TEXTOID, false, 64},
	                                             {"family", TEXTOID, false, 64},
	                                             {"encoding", TEXTOID, false, 64},
	                                             {"key_size", INT4OID, false, 11, -1, true},
	                                             {"value_size", INT4OID, false, 11, -1, true},
	                                             {"max_ops", INT8OID, false, 20},
	                                             {"coalesce", TEXTOID, false, 64}});
	if (!shape.empty()) {
		handshake_error_ = "qmdb.hello failed: " + shape;
		return;
	}
	// Every value is bounded above and NUL-terminated by libpq; shown only
	// as printable text.
	auto text = [&](int col) { return PQgetisnull(res, 0, col) ? std::string() : peer_text(PQgetvalue(res, 0, col)); };
	auto number = [&](int col) { return parse_peer_integer(PQgetvalue(res, 0, col), PQgetlength(res, 0, col)); };
	auto mismatch = [&](const char *what, const std::string &theirs, const std::string &ours) {
		handshake_error_ =
		    std::string("incompatible peer: ") + what + " is " + theirs + " on the peer, " + ours + " here";
	};
	const OpFormat &f = req_.format;
	auto size_text = [](const std::optional<uint32_t> &s) { return s ? std::to_string(*s) : std::string("variable"); };
	auto peer_size = [&](int col) {
		if (PQgetisnull(res, 0, col))
			return std::string("variable");
		auto v = number(col);
		return v ? std::to_string(*v) : text(col);
	};
	auto version = number(1);
	auto max_ops = number(7);
	if (!version || *version != PROTOCOL_VERSION)
		mismatch("protocol version", text(1), std::to_string(PROTOCOL_VERSION));
	else if (text(2) != "sha256")
		mismatch("hasher", text(2), "sha256");
	else if (text(3) != "mmr")
		mismatch("family", text(3), "mmr");
	else if (text(8) != db_kind_name(f.kind))
		mismatch("the database's kind", text(8), db_kind_name(f.kind));
	else if (text(4) != encoding_name(f.encoding))
		mismatch("encoding", text(4), encoding_name(f.encoding));
	else if (peer_size(5) != size_text(f.key_size))
		mismatch("key_size", peer_size(5), size_text(f.key_size));
	else if (peer_size(6) != size_text(f.value_size))
		mismatch("value_size", peer_size(6), size_text(f.value_size));
	else if (!max_ops || *max_ops < static_cast<int64_t>(req_.batch_size))
		mismatch("max_ops (qmdb.max_serve_ops)", text(7), "fetch_batch_size " + std::to_string(req_.batch_size));
}

void
Peer::poll(double now, double request_timeout, std::vector<PeerEvent> &out) {
	if (!conn_ && !connector_)
		return;
	if (state_ == State::Connecting || state_ == State::Handshaking) {
		// libpq's connect_timeout does not apply to a non-blocking connect,
		// so the whole of connecting and the handshake is timed here.
		if (now - phase_since_ > connect_timeout_) {
			fail_connection(std::string(state_ == State::Connecting ? "could not connect" : "no handshake answer") +
			                    " within " + std::to_string(static_cast<int>(connect_timeout_)) + " s",
			                now, out);
			return;
		}
	}
	if (state_ == State::Connecting) {
		Connector::Result r = connector_->result();
		if (r == Connector::Result::Running)
			return;
		conn_ = connector_->take();
		connector_.reset();
		if (r == Connector::Result::Failed) {
			fail_connection(connection_error(conn_), now, out);
			return;
		}
		set_notice_counter(conn_, &notices);
		// Before any query: a function the peer defines runs as whoever we
		// connected as, so a connection that must not be used is never used.
		used_password = PQconnectionUsedPassword(conn_);
		std::string refused = password_rule_error(conn_, req_.password_required);
		if (!refused.empty()) {
			refuse(refused, now, out); // a password may be changed back: tried again later
			return;
		}
		const char *params[] = {req_.db.c_str()};
		if (!PQsendQueryParams(conn_, HELLO_SQL, 1, nullptr, params, nullptr, nullptr, 0)) {
			fail_connection(connection_error(conn_), now, out);
			return;
		}
		flush_pending_ = PQflush(conn_) == 1;
		handshake_error_.clear();
		handshake_results_ = 0;
		state_ = State::Handshaking;
		return;
	}
	if (!consume_peer_input(conn_)) {
		fail_connection(connection_error(conn_), now, out);
		return;
	}
	if (flush_pending_)
		flush_pending_ = PQflush(conn_) == 1;
	if (state_ == State::Handshaking) {
		while (conn_ && !PQisBusy(conn_)) {
			PGresult *res = PQgetResult(conn_);
			if (!res) {
				if (!handshake_error_.empty()) {
					// A peer that does not fit is refused, naming both sides, and
					// tried again later: it may be upgraded, or a grant restored.
					refuse(handshake_error_, now, out);
					return;
				}
				if (handshake_results_ != 1) {
					fail_connection("qmdb.hello gave no result", now, out);
					return;
				}
				if (!PQenterPipelineMode(conn_)) {
					fail_connection(connection_error(conn_), now, out);
					return;
				}
				state_ = State::Ready;
				backoff_ = INITIAL_BACKOFF;
				return;
			}
			ExecStatusType st = PQresultStatus(res);
			if (st != PGRES_TUPLES_OK && st != PGRES_FATAL_ERROR) {
				// COPY, an empty query, a command: never a handshake. libpq
				// would keep answering a COPY state, so the connection goes.
				PQclear(res);
				fail_connection(std::string("unexpected answer to qmdb.hello: ") + PQresStatus(st), now, out);
				return;
			}
			check_hello(res);
			PQclear(res);
		}
		return;
	}
	if (state_ == State::Ready) {
		if (resting_ && now >= rest_until_)
			resting_ = false;
		read_results(now, out);
		if (conn_ && !inflight_.empty() && now - inflight_.front().sent_at > request_timeout)
			fail_connection("request timed out after " + std::to_string(static_cast<int>(request_timeout)) + " s", now,
			                out);
	}
}

void
Peer::read_results(double now, std::vector<PeerEvent> &out) {
	// Per request: its result, a NULL, then the PIPELINE_SYNC result.
	while (conn_ && !PQisBusy(conn_)) {
		PGresult *res = PQgetResult(conn_);
		if (!res) {
			// The end of one request's results; with nothing queued, libpq
			// keeps answering NULL without being busy, so stop there.
			if (inflight_.empty())
				return;
			continue;
		}
		ExecStatusType st = PQresultStatus(res);
		if (inflight_.empty()) {
			PQclear(res);
			fail_connection("unexpected result from peer", now, out);
			return;
		}
		InFlight &head = inflight_.front();
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			InFlight done = std::move(head);
			inflight_.pop_front();
			double ms = (now - done.sent_at) * 1000.0;
			if (done.checkpoint) { // no score: the worker judges the note
				PeerEvent ev{PeerEvent::Checkpoint, 0, std::move(done.response),
				             done.failed ? (done.error.empty() ? "no result" : done.error) : ""};
				ev.peer = index;
				out.push_back(std::move(ev));
				if (inflight_.empty())
					return;
				continue;
			}
			if (done.failed || !done.got_result) {
				note_error(done.error.empty() ? "no result" : done.error, now);
				// An error scores like a timeout (upstream): a peer that cannot
				// answer (behind, pruned) stops being the first choice. And it
				// rests, longer after each error in a row, instead of being
				// asked again at once.
				latency_ms_ = (latency_ms_ + 1000.0 * req_.request_timeout) / 2;
				resting_ = true;
				rest_until_ = now + next_backoff();
				out.push_back({PeerEvent::Failure, done.id, {}, last_error});
			} else {
				// Upstream's scoring, an average of old and new; the first sample stands alone.
				latency_ms_ = ops == 0 && latency_ms_ == 0 ? ms : (latency_ms_ + ms) / 2;
				backoff_ = INITIAL_BACKOFF;
				bytes += done.response.size();
				out.push_back({PeerEvent::Answer, done.id, std::move(done.response), {}});
			}
			if (inflight_.empty())
				return;
			continue;
		}
		if (st != PGRES_TUPLES_OK && st != PGRES_FATAL_ERROR && st != PGRES_PIPELINE_ABORTED) {
			PQclear(res);
			fail_connection(std::string("unexpected answer to qmdb.serve: ") + PQresStatus(st), now, out);
			return;
		}
		std::string shape =
		    head.checkpoint
		        ? check_result_shape(res, {{"checkpoint", TEXTOID, false,
		                                    static_cast<int>(MAX_NOTE_BYTES + MAX_NOTE_SIGNATURES * 400), -1, true}})
		        : check_result_shape(res, {{"serve", BYTEAOID, true, INT32_MAX}});
		if (head.got_result || head.failed) {
			if (!head.failed) { // else the first error (say, libpq out of memory) says more
				head.failed = true;
				head.error = "more than one result";
			}
		} else if (shape.empty()) {
			const uint8_t *p = reinterpret_cast<const uint8_t *>(PQgetvalue(res, 0, 0));
			head.response.assign(p, p + PQgetlength(res, 0, 0));
			head.got_result = true;
		} else {
			head.failed = true;
			head.error = shape;
		}
		PQclear(res);
	}
}

void
Peer::send(uint64_t id, const Request &request, double now, std::vector<PeerEvent> &out) {
	Bytes wire = encode_request(request);
	const char *values[] = {req_.db.c_str(), reinterpret_cast<const char *>(wire.data())};
	int lengths[] = {0, static_cast<int>(wire.size())};
	int formats[] = {0, 1};
	inflight_.push_back({id, now, false, false, {}, {}});
	if (!PQsendQueryParams(conn_, SERVE_SQL, 2, nullptr, values, lengths, formats, 1) || !PQpipelineSync(conn_)) {
		fail_connection(connection_error(conn_), now, out);
		return;
	}
	flush_pending_ = PQflush(conn_) == 1;
}

void
Peer::ask_checkpoint(double now, std::vector<PeerEvent> &out) {
	const char *values[] = {req_.db.c_str()};
	InFlight f{0, now, false, false, {}, {}, true};
	inflight_.push_back(f);
	if (!PQsendQueryParams(conn_, CHECKPOINT_SQL, 1, nullptr, values, nullptr, nullptr, 0) || !PQpipelineSync(conn_)) {
		fail_connection(connection_error(conn_), now, out);
		return;
	}
	flush_pending_ = PQflush(conn_) == 1;
}

bool
Peer::asking_checkpoint() const {
	for (const InFlight &f : inflight_)
		if (f.checkpoint)
			return true;
	return false;
}

void
Peer::cancel(uint64_t id) {
	// Pipelined answers arrive in order, so the slot stays; only its result is ignored.
	for (InFlight &f : inflight_)
		if (f.id == id)
			f.id = 0;
}

} // namespace qmdb::pg
