#include "peer.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <cstring>
#include <random>

namespace qmdb::pg {

static const char *HELLO_SQL =
    "SELECT pg_catalog.set_config('search_path', '', false), h.protocol_version, h.hasher, h.family, "
    "h.encoding, h.key_size, h.value_size, h.max_ops FROM qmdb.hello($1) h";
static const char *SERVE_SQL = "SELECT qmdb.serve($1, $2)";
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
    : index(i), masked_conninfo(mask_conninfo(conninfo)), conninfo_(std::move(conninfo)), req_(std::move(req)) {}

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
		return "ready";
	case State::Backoff:
		return "backoff";
	case State::Banned:
		return "banned";
	}
	return "unknown";
}

int
Peer::socket() const {
	return conn_ ? PQsocket(conn_) : -1;
}

void
Peer::maybe_connect(double now) {
	if (state_ == State::Backoff && now >= retry_at_)
		state_ = State::Idle;
	if (state_ != State::Idle)
		return;
	// Our defaults, then the user's conninfo (expand_dbname) on top.
	const char *keys[] = {"connect_timeout",           "keepalives", "keepalives_idle",
	                      "fallback_application_name", "dbname",     nullptr};
	const char *vals[] = {"10", "1", "30", "qmdb sync worker", conninfo_.c_str(), nullptr};
	conn_ = PQconnectStartParams(keys, vals, 1);
	if (!conn_ || PQstatus(conn_) == CONNECTION_BAD) {
		std::vector<PeerEvent> none;
		fail_connection(conn_ ? PQerrorMessage(conn_) : "out of memory", now, none);
		return;
	}
	PQsetnonblocking(conn_, 1);
	state_ = State::Connecting;
	connect_wants_write_ = true;
}

void
Peer::fail_connection(const std::string &why, double now, std::vector<PeerEvent> &out) {
	last_error = why;
	while (!last_error.empty() && last_error.back() == '\n')
		last_error.pop_back();
	last_error_at = now;
	for (const InFlight &f : inflight_)
		out.push_back({PeerEvent::Failure, f.id, {}, last_error});
	inflight_.clear();
	if (conn_) {
		PQfinish(conn_);
		conn_ = nullptr;
	}
	if (state_ == State::Banned)
		return;
	// Exponential backoff with jitter, capped.
	static std::mt19937 rng(std::random_device{}());
	double jitter = 0.5 + std::uniform_real_distribution<double>(0, 1)(rng);
	retry_at_ = now + backoff_ * jitter;
	backoff_ = std::min(backoff_ * 2, 30.0);
	state_ = State::Backoff;
}

void
Peer::ban(const std::string &reason, std::vector<PeerEvent> &out) {
	rejects++;
	ban_reason = reason;
	state_ = State::Banned;
	fail_connection("banned: " + reason, last_error_at, out);
}

void
Peer::check_hello(PGresult *res) {
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		handshake_error_ = std::string("qmdb.hello failed: ") + PQresultErrorMessage(res);
		while (!handshake_error_.empty() && handshake_error_.back() == '\n')
			handshake_error_.pop_back();
		return;
	}
	auto text = [&](int col) {
		return PQgetisnull(res, 0, col) ? std::string() : std::string(PQgetvalue(res, 0, col));
	};
	auto mismatch = [&](const char *what, const std::string &theirs, const std::string &ours) {
		handshake_error_ =
		    std::string("incompatible peer: ") + what + " is " + theirs + " on the peer, " + ours + " here";
	};
	const OpFormat &f = req_.format;
	auto size_text = [](const std::optional<uint32_t> &s) { return s ? std::to_string(*s) : std::string("variable"); };
	std::string key_size = text(5).empty() ? "variable" : text(5);
	std::string value_size = text(6).empty() ? "variable" : text(6);
	if (std::atoi(text(1).c_str()) != PROTOCOL_VERSION)
		mismatch("protocol version", text(1), std::to_string(PROTOCOL_VERSION));
	else if (text(2) != "sha256")
		mismatch("hasher", text(2), "sha256");
	else if (text(3) != "mmr")
		mismatch("family", text(3), "mmr");
	else if (text(4) != encoding_name(f.encoding))
		mismatch("encoding", text(4), encoding_name(f.encoding));
	else if (key_size != size_text(f.key_size))
		mismatch("key_size", key_size, size_text(f.key_size));
	else if (value_size != size_text(f.value_size))
		mismatch("value_size", value_size, size_text(f.value_size));
	else if (std::strtoull(text(7).c_str(), nullptr, 10) < req_.batch_size)
		mismatch("max_ops (qmdb.max_serve_ops)", text(7), "fetch_batch_size " + std::to_string(req_.batch_size));
}

void
Peer::poll(double now, double request_timeout, std::vector<PeerEvent> &out) {
	if (!conn_)
		return;
	if (state_ == State::Connecting) {
		switch (PQconnectPoll(conn_)) {
		case PGRES_POLLING_FAILED:
			fail_connection(PQerrorMessage(conn_), now, out);
			return;
		case PGRES_POLLING_READING:
			connect_wants_write_ = false;
			return;
		case PGRES_POLLING_WRITING:
			connect_wants_write_ = true;
			return;
		case PGRES_POLLING_OK:
			break;
		default:
			return;
		}
		used_password = PQconnectionUsedPassword(conn_);
		const char *params[] = {req_.db.c_str()};
		if (!PQsendQueryParams(conn_, HELLO_SQL, 1, nullptr, params, nullptr, nullptr, 0)) {
			fail_connection(PQerrorMessage(conn_), now, out);
			return;
		}
		flush_pending_ = PQflush(conn_) == 1;
		handshake_error_.clear();
		state_ = State::Handshaking;
		return;
	}
	if (!PQconsumeInput(conn_)) {
		fail_connection(PQerrorMessage(conn_), now, out);
		return;
	}
	if (flush_pending_)
		flush_pending_ = PQflush(conn_) == 1;
	if (state_ == State::Handshaking) {
		while (!PQisBusy(conn_)) {
			PGresult *res = PQgetResult(conn_);
			if (!res) {
				if (!handshake_error_.empty()) {
					// A peer that does not fit is refused for good, naming both sides.
					ban(handshake_error_, out);
					return;
				}
				if (!PQenterPipelineMode(conn_)) {
					fail_connection(PQerrorMessage(conn_), now, out);
					return;
				}
				state_ = State::Ready;
				backoff_ = 0.2;
				return;
			}
			check_hello(res);
			PQclear(res);
		}
		return;
	}
	if (state_ == State::Ready) {
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
			if (done.failed || !done.got_result) {
				last_error = done.error.empty() ? "no result" : done.error;
				last_error_at = now;
				// An error scores like a timeout (upstream): a peer that cannot
				// answer (behind, pruned) stops being the first choice.
				latency_ms_ = (latency_ms_ + 1000.0 * req_.request_timeout) / 2;
				out.push_back({PeerEvent::Failure, done.id, {}, last_error});
			} else {
				// Upstream's scoring, an average of old and new; the first sample stands alone.
				latency_ms_ = ops == 0 && latency_ms_ == 0 ? ms : (latency_ms_ + ms) / 2;
				bytes += done.response.size();
				out.push_back({PeerEvent::Answer, done.id, std::move(done.response), {}});
			}
			if (inflight_.empty())
				return;
			continue;
		}
		if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
			const uint8_t *p = reinterpret_cast<const uint8_t *>(PQgetvalue(res, 0, 0));
			head.response.assign(p, p + PQgetlength(res, 0, 0));
			head.got_result = true;
		} else {
			head.failed = true;
			head.error = PQresultErrorMessage(res);
			while (!head.error.empty() && head.error.back() == '\n')
				head.error.pop_back();
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
	if (!PQsendQueryParams(conn_, SERVE_SQL, 2, nullptr, values, lengths, formats, 1) || !PQpipelineSync(conn_)) {
		inflight_.push_back({id, now, false, false, {}, {}});
		fail_connection(PQerrorMessage(conn_), now, out);
		return;
	}
	inflight_.push_back({id, now, false, false, {}, {}});
	flush_pending_ = PQflush(conn_) == 1;
}

void
Peer::cancel(uint64_t id) {
	// Pipelined answers arrive in order, so the slot stays; only its result is ignored.
	for (InFlight &f : inflight_)
		if (f.id == id)
			f.id = 0;
}

} // namespace qmdb::pg
