// One untrusted peer of a sync job, over libpq, never blocking: a
// non-blocking connect (timed here: libpq's connect_timeout does not apply),
// the password rule, the qmdb.hello handshake, then qmdb.serve requests
// pipelined on the connection (libpq pipeline mode, a sync point after each
// request so one failure does not abort the others). Every answer's shape is
// checked before it is read (remote.h); a peer whose requests fail rests,
// longer after each failure in a row.
//
// Plain C++ with libpq only (no backend calls): the worker owns the waiting.
#pragma once

#include "connector.h"

#include "core/operation.h"
#include "core/wire.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace qmdb::pg {

// What our side requires of a peer (from the local database and options).
struct PeerRequirements {
	std::string db;                                    // database name on the peer
	OpFormat format;                                   // must match exactly
	uint64_t batch_size;                               // the peer's max_ops must be at least this
	double request_timeout = 30;                       // seconds; also the score of a failed request
	bool password_required = false;                    // a non-superuser's job (see password_rule_error)
	std::string application_name = "qmdb sync worker"; // unless the conninfo sets one
};

struct PeerEvent {
	// Checkpoint: the peer's newest signed checkpoint (`response` holds the
	// note's text, empty when it has none; `error` set when the ask failed).
	enum Kind { Answer, Failure, Checkpoint } kind;
	uint64_t id;
	Bytes response;         // Answer
	std::string error;      // Failure: the request should be retried elsewhere
	bool verifying = false; // Answer: handed to the worker's VerifyAhead (`response` moved there)
	int peer = 0;           // Checkpoint: the index of the peer that served it
};

class Peer {
public:
	// Refused: the handshake or the password rule said no; tried again after
	// a backoff. Banned: a response failed verification; never used again.
	enum class State { Idle, Connecting, Handshaking, Ready, Backoff, Refused, Banned };

	Peer(int index, std::string conninfo, PeerRequirements req);
	~Peer();
	Peer(const Peer &) = delete;
	Peer &operator=(const Peer &) = delete;

	// Start (or restart after a backoff) connecting; no-op unless Idle or
	// a Backoff whose time has come.
	void maybe_connect(double now);
	// Advance after a socket event or a timeout; appends answers/failures.
	void poll(double now, double request_timeout, std::vector<PeerEvent> &out);
	bool can_send(size_t depth) const { return state_ == State::Ready && !resting_ && inflight_.size() < depth; }
	// On a send failure the connection drops and `out` gets the failures.
	void send(uint64_t id, const Request &request, double now, std::vector<PeerEvent> &out);
	// Forget a request the engine no longer wants (its answer will be ignored).
	void cancel(uint64_t id);
	// Ask for the peer's newest signed checkpoint (qmdb.checkpoint), in the
	// same pipeline; at most one such question is out at a time.
	void ask_checkpoint(double now, std::vector<PeerEvent> &out);
	bool asking_checkpoint() const;
	// The peer does not fit (handshake) or broke the password rule: drop the
	// connection, say why, and try again after a backoff.
	void refuse(const std::string &reason, double now, std::vector<PeerEvent> &out);
	// A response from this peer failed verification: it is done for this job.
	void ban(const std::string &reason, std::vector<PeerEvent> &out);

	int socket() const;
	// While connecting: the connector's wake-up descriptor (readable once done).
	bool wants_write() const { return state_ == State::Connecting ? false : flush_pending_; }
	State state() const { return state_; }
	const char *state_name() const;
	size_t in_flight() const { return inflight_.size(); }
	double latency_ms() const { return latency_ms_; }
	// Lower is better: how long a new request would likely take here.
	double cost() const { return latency_ms_ * static_cast<double>(inflight_.size() + 1); }

	int index;
	std::string masked_conninfo;
	uint64_t ops = 0, bytes = 0, rejects = 0;
	uint64_t errors = 0;             // failed connections and requests
	uint64_t checkpoint_rejects = 0; // checkpoints served that did not verify (or went back)
	uint64_t checkpoint_size = 0;    // the size of the newest verified checkpoint it served
	uint64_t notices = 0;            // notices the peer sent (dropped)
	std::string last_error, ban_reason;
	double last_error_at = 0, banned_at = 0;
	bool used_password = false;

private:
	struct InFlight {
		uint64_t id;
		double sent_at;
		bool got_result = false;
		bool failed = false;
		Bytes response;
		std::string error;
		bool checkpoint = false; // a qmdb.checkpoint question, not a request of the engine's
	};
	static constexpr double INITIAL_BACKOFF = 0.2, MAX_BACKOFF = 30;
	void note_error(const std::string &why, double now);
	double next_backoff();
	void fail_connection(const std::string &why, double now, std::vector<PeerEvent> &out);
	void check_hello(::pg_result *res);
	void read_results(double now, std::vector<PeerEvent> &out);

	std::string conninfo_;
	PeerRequirements req_;
	pg_conn *conn_ = nullptr;              // once connected (the connector's until then)
	std::unique_ptr<Connector> connector_; // while connecting
	State state_ = State::Idle;
	bool flush_pending_ = false;
	double connect_timeout_;
	double phase_since_ = 0; // when connecting (or the handshake) began
	double retry_at_ = 0, backoff_ = INITIAL_BACKOFF;
	// After a failed request: no new request until rest_until_.
	bool resting_ = false;
	double rest_until_ = 0;
	int handshake_results_ = 0;
	// Unmeasured peers look fastest, so every peer is tried (and measured)
	// early instead of being starved by the first one to answer.
	double latency_ms_ = 0;
	std::deque<InFlight> inflight_;
	std::string handshake_error_;
};

// The conninfo with its password replaced by ********, for display.
std::string mask_conninfo(const std::string &conninfo);
// Whether the conninfo sets a non-empty password (required of non-superusers).
bool conninfo_has_password(const std::string &conninfo);
// Parse check: an error message, or "" if libpq accepts it.
std::string conninfo_error(const std::string &conninfo);

} // namespace qmdb::pg
