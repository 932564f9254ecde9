// The sync engine (spec §4): a single-threaded, event-driven state machine
// that turns a trusted Target and untrusted responses into a verified journal.
//
// Trust model: sources are untrusted and every response is verified against
// the root of the target its request was issued for. Targets are the only
// trusted input; updates form a forward-only sequence and only strictly
// advancing ones are adopted. The rules for a moving target follow
// upstream's newest engine: fetched operations and outstanding requests
// survive an update (each checked against its own root); the pins survive
// while the lower bound stays, and are read from the tree already built when
// it moves within the journal; an update that comes once everything left is
// fetched or requested waits until the current target is reached.
//
// The engine does no I/O and never waits. The caller (a test harness or the
// PostgreSQL worker) takes the requests it emits, sends them to sources, and
// feeds back responses, failures, target updates and finish signals as events;
// step() advances the machine until it completes or needs an event.
#pragma once

#include "../hash.h"
#include "../merkle.h"
#include "../operation.h"
#include "../proof.h"
#include "../wire.h"
#include "journal.h"
#include "requests.h"

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace qmdb::sync {

// A database the journal already holds, verified: its size and the peaks of
// its tree (nodes_to_pin(size), oldest first), whose nodes are in the node
// store. A catch-up extends it: nothing below `size` is fetched again, no
// pins are asked for, and each target's root must be shown to extend the
// journal (an answer at its tip, or the root check at the target) before
// what was fetched under it counts (else the target is another history).
struct Anchor {
	uint64_t size = 0;
	std::vector<Digest> peaks;
};

struct EngineConfig {
	OpFormat format;                       // how the synced database encodes operations
	uint64_t max_outstanding_requests = 1; // the boundary request counts toward it
	uint64_t fetch_batch_size = 50;        // max_ops per Operations request (> 0)
	bool explicit_finish = false;          // wait for finish() at the target instead of completing
	// Follow: like explicit_finish, wait at each target for the next update
	// (or finish). Either way each target's root is checked when reached.
	bool follow = false;
	std::optional<Anchor> anchor;
	// Cap on verified but not yet applied operations (bounded memory). New
	// requests beyond the journal tip wait while it is reached; 0 picks
	// 4 * fetch_batch_size * max_outstanding_requests.
	uint64_t max_fetched_ops = 0;
};

enum class EngineErrorKind {
	RootMismatch,            // the rebuilt root differs from the target root
	InvalidResponse,         // a bad response from a source that takes no feedback
	InvalidTarget,           // a target beyond MAX_LEAVES or with start >= end
	InvalidState,            // the journal went past the target end
	SyncTargetRootUnchanged, // an advancing update with the same root
	SyncStalled,             // nothing outstanding and no way to get an event
	FinishChannelClosed,     // explicit finish, but the finish signal can no longer come
	Source,                  // a source failed in a way it declared final
	Database,                // the synced journal cannot form a database
	Diverged,                // the target's history is not the anchored database's
};

const char *engine_error_name(EngineErrorKind kind);

class EngineError : public Error {
public:
	EngineError(EngineErrorKind kind, const std::string &message)
	    : Error(ErrorCode::InvalidProof, std::string(engine_error_name(kind)) + ": " + message), kind_(kind) {}
	EngineErrorKind kind() const { return kind_; }
	Digest expected{}, actual{}; // RootMismatch only

private:
	EngineErrorKind kind_;
};

// What became of a delivered response.
enum class Verdict {
	Accepted, // verified; its operations will be applied
	Rejected, // failed verification: penalize the source; the range is re-requested
	Stale,    // the request was superseded or cancelled: ignore
};

// An Operations response's range proof checked away from the engine (on
// another thread, say): the inputs the engine would check it against, and
// the outcome. Only the proof check is done outside; deliver() still does
// every other test and all of the bookkeeping.
struct RangeCheck {
	// Inputs, from Engine::range_check().
	uint64_t start = 0; // the request's first location
	uint64_t size = 0;  // leaves of the tree the proof must match
	Digest root{};      // that tree's root
	Bagging bagging = Bagging::BackwardFold;
	// Outcome, from check_range().
	bool done = false;
	uint64_t count = 0; // operations checked
	bool ok = false;
	PositionedDigests collected; // as verify_range_inclusion_and_extract_digests
};

// Check `response`'s proof against `check`'s inputs, filling its outcome.
// Touches nothing but its arguments: safe on any thread.
void check_range(const Response &response, RangeCheck &check);

enum class StepResult {
	Continue, // call step() again
	Idle,     // waiting for an event (response, retry, update, finish)
	Complete, // the journal matches the target root
};

struct Progress {
	Target target;
	uint64_t journal_size = 0;
	uint64_t outstanding_requests = 0;
	uint64_t fetched_ops = 0; // verified, not yet applied
	uint64_t responses_accepted = 0;
	uint64_t responses_rejected = 0;
	uint64_t responses_stale = 0;
	uint64_t target_updates = 0;
	uint64_t targets_reached = 0;
	uint64_t updates_deferred = 0;
	uint64_t pins_derived = 0; // lower-bound moves served from the tree already built
	uint64_t ops_applied = 0;
	bool pins_ready = false;
	bool at_target = false;
	bool complete = false;
};

// Probe for pins of `target.start` already held locally, when the journal
// already reaches the target end (resume of a finished fetch).
using LocalPins = std::function<std::optional<std::vector<Digest>>(const Target &, const Journal &)>;

class Engine {
public:
	// `journal` must already be opened for [target.start, target.end) (its
	// reuse rules applied); `nodes` receives the MMR nodes of the synced range.
	Engine(const EngineConfig &config, Journal &journal, NodeStore &nodes, const Target &target,
	       LocalPins local_pins = {});

	struct Outgoing {
		uint64_t id;
		Request request;
	};
	// Requests issued since the last call that are still wanted.
	std::vector<Outgoing> take_requests();
	// Ids handed out earlier that are no longer wanted (superseded or cancelled).
	std::vector<uint64_t> take_cancelled();
	// Targets reached since the last call, once per target.
	std::vector<Target> take_reached();

	// A source answered request `id`. Without feedback a bad response is
	// fatal (InvalidResponse); with it, the verdict says whom to penalize.
	// Taken by value: an accepted response's operations move into the journal.
	// `checked`, if given, must come from check_range() on this very
	// response; its outcome is used when its inputs are still the ones
	// this response is checked against (else the proof is checked here).
	Verdict deliver(uint64_t id, Response response, bool feedback = true, RangeCheck *checked = nullptr);
	// What a response to `id` would be checked against now, for
	// check_range() elsewhere; nullopt for a boundary request or an id
	// not outstanding. Calls that change the target may change it.
	std::optional<RangeCheck> range_check(uint64_t id) const;
	// The source gave up on `id` (timeout, connection lost): fetch the gap again.
	void retry(uint64_t id);
	// The source failed for good: the sync fails with EngineErrorKind::Source.
	void source_error(uint64_t id, const std::string &message);
	// Queue a target update or the finish signal; step() takes them in order
	// (an update may wait, deferred, until the current target is reached).
	void update_target(const Target &target) { updates_.push_back(target); }
	void finish() { finish_queued_ = true; }
	// The update or finish sender is gone (no more such events will come).
	void close_updates() { updates_open_ = false; }
	void close_finish() { finish_open_ = false; }

	// Advance; throws EngineError on failure (the engine is then unusable).
	StepResult step();

	const Target &target() const { return target_; }
	const std::optional<std::vector<Digest>> &pinned_nodes() const { return pinned_; }
	Progress progress() const;
	bool complete() const { return complete_; }
	// The verified root, once complete.
	const Digest &root() const { return final_root_; }
	// The end of the last target whose root was checked on reaching it (0: none).
	uint64_t verified_end() const { return verified_end_; }
	// From now on, hold what the journal has (a target reached and checked)
	// as an anchored database: a first sync that goes on following.
	void hold_as_anchor();
	// For an anchored database: whether the current target's root is known
	// to extend what the journal holds (an answer under it at the journal's
	// tip showed the peaks, or the root check at the target passed). Until
	// then nothing beyond what was published before may be published.
	bool anchor_confirmed() const { return anchor_confirmed_; }

private:
	struct Fetched {
		std::vector<Bytes> ops;
		std::vector<Digest> leaves; // leaf digests authenticated by the proof
		PositionedDigests parents;  // the other digests it computed, by position
	};

	bool pins_ready() const { return config_.anchor || target_.start == 0 || pinned_.has_value(); }
	bool at_target();
	bool defers_updates() const;
	std::optional<LocRange> next_gap() const;
	void verify_at_target();
	Verdict reject(bool feedback, const char *why);
	void take_update(const Target &next);
	void handle_update(const Target &next);
	bool derive_pins(uint64_t start);
	void schedule_requests();
	uint64_t spawn(const Request &request);
	void apply_operations();
	void init_mmr();
	void catch_up_mmr();
	void report_reached();
	void finalize();
	uint64_t fetch_cap() const;

	EngineConfig config_;
	Journal &journal_;
	NodeStore &nodes_;
	Hasher hasher_;
	Target target_;
	Requests outstanding_;
	std::map<uint64_t, Fetched> fetched_; // start -> verified ops; vectors non-empty
	uint64_t fetched_ops_ = 0;
	std::optional<std::vector<Digest>> pinned_;
	std::optional<Target> deferred_; // the newest update waiting for the current target
	bool anchor_confirmed_ = false;
	uint64_t verified_end_ = 0;
	// The MMR of [target.start, journal size), once the pins are known.
	std::optional<Mmr> mmr_;
	std::map<uint64_t, Digest> leaf_cache_; // applied before the MMR could take them

	std::vector<Outgoing> issued_;
	std::map<uint64_t, bool> handed_out_;
	std::vector<Target> reached_;
	std::deque<Target> updates_;
	bool finish_queued_ = false, finish_requested_ = false;
	bool updates_open_ = true, finish_open_ = true;
	bool reached_reported_ = false;
	bool complete_ = false;
	Digest final_root_{};
	Progress counters_;
};

} // namespace qmdb::sync
