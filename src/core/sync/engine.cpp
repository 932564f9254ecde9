#include "engine.h"

#include "../mmr.h"
#include "../proof.h"

#include <algorithm>

#include "../core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb::sync {

const char *
engine_error_name(EngineErrorKind kind) {
	switch (kind) {
	case EngineErrorKind::RootMismatch:
		return "root mismatch";
	case EngineErrorKind::InvalidResponse:
		return "invalid response";
	case EngineErrorKind::InvalidTarget:
		return "invalid target";
	case EngineErrorKind::InvalidState:
		return "invalid state";
	case EngineErrorKind::SyncTargetRootUnchanged:
		return "target root unchanged";
	case EngineErrorKind::SyncStalled:
		return "sync stalled";
	case EngineErrorKind::FinishChannelClosed:
		return "finish channel closed";
	case EngineErrorKind::Source:
		return "source failed";
	case EngineErrorKind::Database:
		return "database error";
	case EngineErrorKind::Diverged:
		return "diverged";
	}
	return "engine error";
}

static std::string
range_text(const Target &t) {
	return "[" + std::to_string(t.start) + ", " + std::to_string(t.end) + ")";
}

Engine::Engine(const EngineConfig &config, Journal &journal, NodeStore &nodes, const Target &target,
               LocalPins local_pins)
    : config_(config), journal_(journal), nodes_(nodes), target_(target) {
	if (!location_is_valid(target.end) || target.start >= target.end)
		throw EngineError(EngineErrorKind::InvalidTarget, "target range " + range_text(target) + " is invalid");
	if (config_.fetch_batch_size == 0 || config_.max_outstanding_requests == 0)
		throw Error(ErrorCode::InvalidArgument, "fetch_batch_size and max_outstanding_requests must be positive");
	if (config_.anchor) {
		const Anchor &a = *config_.anchor;
		if (a.peaks.size() != nodes_to_pin(a.size).size())
			throw Error(ErrorCode::InvalidArgument, "the anchor's peaks do not fit its size");
		// A target at the anchor itself is a follower restarted after it
		// caught up: reached at once, its root checked against the peaks.
		if (journal_.size() < a.size || target_.end < a.size)
			throw EngineError(EngineErrorKind::InvalidTarget, "the target " + range_text(target_) +
			                                                      " does not reach the database's " +
			                                                      std::to_string(a.size) + " operations");
		// Not confirmed yet, even with operations beyond the anchor: they
		// may be of a target that was never confirmed (see deliver).
	} else if (journal_.size() == target_.end && target_.start > 0 && local_pins) {
		// Only a complete journal may reuse local pins; a partial one always asks
		// the boundary (its data is trusted only through the final root check).
		pinned_ = local_pins(target_, journal_);
	}
	init_mmr();
	schedule_requests();
}

std::vector<Engine::Outgoing>
Engine::take_requests() {
	std::vector<Outgoing> out;
	for (const Outgoing &o : issued_) {
		auto it = handed_out_.find(o.id);
		if (it != handed_out_.end() && !it->second) {
			it->second = true;
			out.push_back(o);
		}
	}
	issued_.clear();
	return out;
}

std::vector<uint64_t>
Engine::take_cancelled() {
	std::vector<uint64_t> out;
	for (uint64_t id : outstanding_.take_cancelled()) {
		auto it = handed_out_.find(id);
		if (it == handed_out_.end())
			continue;
		if (it->second)
			out.push_back(id);
		handed_out_.erase(it);
	}
	return out;
}

std::vector<Target>
Engine::take_reached() {
	std::vector<Target> out;
	out.swap(reached_);
	return out;
}

uint64_t
Engine::spawn(const Request &request) {
	uint64_t id = outstanding_.insert(request, target_.root);
	issued_.push_back({id, request});
	handed_out_[id] = false;
	return id;
}

uint64_t
Engine::fetch_cap() const {
	if (config_.max_fetched_ops)
		return config_.max_fetched_ops;
	return 4 * config_.fetch_batch_size * config_.max_outstanding_requests;
}

std::optional<LocRange>
Engine::next_gap() const {
	std::vector<std::pair<uint64_t, uint64_t>> counts;
	for (const auto &f : fetched_)
		counts.emplace_back(f.first, f.second.ops.size());
	uint64_t tip = journal_.size();
	if (tip >= target_.end)
		return std::nullopt;
	return find_next({tip, target_.end}, counts, outstanding_.ranges());
}

void
Engine::schedule_requests() {
	if (complete_)
		return;
	if (!pins_ready() && !outstanding_.has_start(target_.start))
		spawn(Request::boundary(target_.end, target_.start));
	uint64_t tip = journal_.size();
	while (outstanding_.size() < config_.max_outstanding_requests) {
		auto gap = next_gap();
		if (!gap)
			break;
		// Bounded memory: beyond the tip, wait while enough is fetched or in flight.
		if (gap->start != tip && fetched_ops_ + outstanding_.outstanding_ops() >= fetch_cap())
			break;
		uint64_t n = std::min(config_.fetch_batch_size, gap->end - gap->start);
		spawn(Request::operations(target_.end, gap->start, n));
	}
}

std::optional<RangeCheck>
Engine::range_check(uint64_t id) const {
	const Request *req = outstanding_.find(id);
	const Digest *root = outstanding_.root_of(id);
	if (!req || !root || req->kind != RequestKind::Operations || complete_)
		return std::nullopt;
	RangeCheck check;
	check.start = req->start;
	check.size = req->size;
	check.root = *root;
	check.bagging = hasher_.bagging();
	return check;
}

void
check_range(const Response &response, RangeCheck &check) {
	std::vector<ByteView> elements(response.operations.begin(), response.operations.end());
	Hasher hasher(check.bagging);
	check.collected.clear();
	check.count = elements.size();
	check.ok = response.kind == RequestKind::Operations && response.proof.leaves == check.size &&
	           verify_range_inclusion_and_extract_digests(hasher, response.proof, elements, check.start, check.root,
	                                                      check.collected);
	check.done = true;
}

Verdict
Engine::reject(bool feedback, const char *why) {
	if (!feedback)
		throw EngineError(EngineErrorKind::InvalidResponse, why);
	counters_.responses_rejected++;
	schedule_requests();
	return Verdict::Rejected;
}

Verdict
Engine::deliver(uint64_t id, Response resp, bool feedback, RangeCheck *checked) {
	handed_out_.erase(id);
	// Each answer is checked against the root its request was issued with:
	// a target update does not make it stale.
	const Digest *issued_root = outstanding_.root_of(id);
	Digest request_root = issued_root ? *issued_root : Digest{};
	auto req = outstanding_.remove(id);
	if (!req || complete_) {
		counters_.responses_stale++;
		return Verdict::Stale;
	}
	const Digest *root = &request_root;
	if (resp.proof.leaves != req->size)
		return reject(feedback, "proof is not against the requested size");
	if (req->kind != resp.kind)
		return reject(feedback, "response shape does not match the request");

	std::vector<ByteView> elements(resp.operations.begin(), resp.operations.end());
	Fetched batch;
	if (req->kind == RequestKind::Operations) {
		// An honest source returns every operation asked for that exists
		// at the request's size: a short answer is as wrong as a long one.
		if (req->start >= req->size || resp.operations.size() != std::min(req->max_ops, req->size - req->start))
			return reject(feedback, "wrong number of operations");
		PositionedDigests collected;
		bool verified;
		if (checked && checked->done && checked->start == req->start && checked->size == req->size &&
		    checked->root == *root && checked->bagging == hasher_.bagging() && checked->count == elements.size()) {
			verified = checked->ok;
			collected = std::move(checked->collected);
		} else {
			verified =
			    verify_range_inclusion_and_extract_digests(hasher_, resp.proof, elements, req->start, *root, collected);
		}
		if (!verified)
			return reject(feedback, "range proof does not verify");
		// An answer under the current target's root that starts at the
		// journal's tip also shows whether that root's tree holds everything
		// the journal has as its prefix: the proof commits to the peaks left
		// of `start`, which are the tree's peaks now. Being verified, a
		// mismatch is no peer's lie: the target is another history.
		if (config_.anchor && !anchor_confirmed_ && *root == target_.root && req->start == journal_.size() && mmr_ &&
		    mmr_->leaves() == journal_.size()) {
			if (!verify_proof_and_pinned_nodes(hasher_, resp.proof, elements, req->start, mmr_->peak_digests(), *root))
				throw EngineError(EngineErrorKind::Diverged,
				                  "the target's history differs from this database's " +
				                      std::to_string(journal_.size()) +
				                      " verified operations (a target of another database, or of a fork)");
			anchor_confirmed_ = true;
		}
		// Keep the leaf digests the proof authenticated (DFS order is
		// ascending), and the parents it computed on the way, so that the
		// MMR need not hash them again (see apply_operations).
		uint64_t want = location_to_position(req->start);
		for (const auto &pd : collected) {
			if (pd.first != want || batch.leaves.size() == elements.size()) {
				batch.parents.push_back(pd);
				continue;
			}
			batch.leaves.push_back(pd.second);
			want = location_to_position(req->start + batch.leaves.size());
		}
		if (batch.leaves.size() != elements.size())
			throw EngineError(EngineErrorKind::InvalidState, "proof did not authenticate every leaf");
		if (!std::is_sorted(batch.parents.begin(), batch.parents.end()))
			std::sort(batch.parents.begin(), batch.parents.end());
	} else {
		if (resp.operations.size() != 1)
			return reject(feedback, "a boundary response carries one operation");
		// The pins of a location are the same in every tree that holds it,
		// so an answer checked against an earlier target's root serves too.
		bool need_pins = !pins_ready() && req->start == target_.start;
		bool ok;
		if (need_pins)
			ok = verify_proof_and_pinned_nodes(hasher_, resp.proof, elements, req->start, resp.pinned_nodes, *root);
		else
			ok = verify_range_inclusion(hasher_, resp.proof, elements, req->start, *root);
		if (!ok)
			return reject(feedback, "boundary proof or pinned nodes do not verify");
		if (need_pins) {
			pinned_ = resp.pinned_nodes;
			init_mmr();
		}
		batch.leaves.push_back(hasher_.leaf(location_to_position(req->start), elements[0]));
	}
	counters_.responses_accepted++;
	batch.ops = std::move(resp.operations); // the elements above stay valid: each op keeps its buffer
	uint64_t n = batch.ops.size();
	auto existing = fetched_.find(req->start);
	if (existing != fetched_.end())
		fetched_ops_ -= existing->second.ops.size();
	fetched_[req->start] = std::move(batch);
	fetched_ops_ += n;
	apply_operations();
	schedule_requests();
	return Verdict::Accepted;
}

void
Engine::retry(uint64_t id) {
	handed_out_.erase(id);
	if (outstanding_.remove(id))
		schedule_requests();
}

void
Engine::source_error(uint64_t id, const std::string &message) {
	handed_out_.erase(id);
	if (outstanding_.remove(id))
		throw EngineError(EngineErrorKind::Source, message);
}

void
Engine::apply_operations() {
	uint64_t next = journal_.size();
	// Batches wholly below the tip are no longer needed.
	for (auto it = fetched_.begin(); it != fetched_.end();) {
		if (it->first + it->second.ops.size() <= next) {
			fetched_ops_ -= it->second.ops.size();
			it = fetched_.erase(it);
		} else {
			++it;
		}
	}
	while (true) {
		// The batch containing `next`, if any (batches may overlap; trim).
		auto it = fetched_.upper_bound(next);
		if (it == fetched_.begin())
			break;
		--it;
		if (it->first + it->second.ops.size() <= next)
			break;
		Fetched batch = std::move(it->second);
		fetched_ops_ -= batch.ops.size();
		uint64_t skip = next - it->first;
		fetched_.erase(it);
		std::vector<Bytes> ops(std::make_move_iterator(batch.ops.begin() + static_cast<std::ptrdiff_t>(skip)),
		                       std::make_move_iterator(batch.ops.end()));
		journal_.append(ops);
		if (mmr_ && mmr_->leaves() == next && leaf_cache_.empty()) {
			// The MMR takes the batch at once. A parent whose leaves all came
			// in this batch (from `next` to the leaf being appended) has the
			// digest the proof's check computed from these very operations.
			size_t cursor = 0;
			const PositionedDigests &parents = batch.parents;
			KnownParent known = [&](uint64_t pos, uint64_t first_leaf) -> const Digest * {
				if (first_leaf < next)
					return nullptr;
				while (cursor < parents.size() && parents[cursor].first < pos)
					cursor++;
				return cursor < parents.size() && parents[cursor].first == pos ? &parents[cursor].second : nullptr;
			};
			for (size_t i = skip; i < batch.leaves.size(); i++)
				mmr_->append_leaf_digest(hasher_, nodes_, batch.leaves[i], &known);
		} else {
			for (size_t i = skip; i < batch.leaves.size(); i++)
				leaf_cache_[next + (i - skip)] = batch.leaves[i];
		}
		next += ops.size();
		counters_.ops_applied += ops.size();
	}
	if (journal_.size() > target_.end)
		throw EngineError(EngineErrorKind::InvalidState, "journal size exceeds the target end");
	catch_up_mmr();
}

void
Engine::init_mmr() {
	if (mmr_ || !pins_ready())
		return;
	if (config_.anchor) { // the tree is in the node store already, up to the anchor
		mmr_ = Mmr(config_.anchor->size, config_.anchor->peaks);
		catch_up_mmr();
		return;
	}
	std::map<uint64_t, Digest> pins;
	std::vector<Digest> peaks;
	if (target_.start > 0) {
		std::vector<uint64_t> positions = nodes_to_pin(target_.start);
		for (size_t i = 0; i < positions.size(); i++)
			pins[positions[i]] = (*pinned_)[i];
		peaks = *pinned_;
	}
	nodes_.reset(location_to_position(target_.start), pins);
	mmr_ = Mmr(target_.start, peaks);
	catch_up_mmr();
}

// Bring the MMR up to the journal: leaves authenticated by proofs are taken
// as they are; operations reused from an earlier run are hashed here.
void
Engine::catch_up_mmr() {
	if (!mmr_)
		return;
	while (mmr_->leaves() < journal_.size()) {
		uint64_t loc = mmr_->leaves();
		auto it = leaf_cache_.find(loc);
		Digest leaf;
		if (it != leaf_cache_.end()) {
			leaf = it->second;
			leaf_cache_.erase(it);
		} else {
			leaf = hasher_.leaf(location_to_position(loc), journal_.read(loc));
		}
		mmr_->append_leaf_digest(hasher_, nodes_, leaf);
	}
	leaf_cache_.clear();
}

// The pins of `start` (<= the journal's size), from the tree already
// built: each is a pin of the current lower bound or a node built since.
bool
Engine::derive_pins(uint64_t start) {
	if (!mmr_ || mmr_->leaves() < start || start < target_.start)
		return false;
	std::vector<Digest> pins;
	std::map<uint64_t, Digest> by_pos;
	for (uint64_t pos : nodes_to_pin(start)) {
		auto d = nodes_.get(pos);
		if (!d)
			return false;
		pins.push_back(*d);
		by_pos[pos] = *d;
	}
	nodes_.rebase(location_to_position(start), by_pos);
	pinned_ = std::move(pins);
	counters_.pins_derived++;
	return true;
}

void
Engine::handle_update(const Target &next) {
	bool start_moved = next.start != target_.start;
	if (start_moved && !config_.anchor) {
		// Within what the journal holds, the tree built so far gives the new
		// pins; beyond it (or before the pins are known) the boundary is asked.
		bool derived = next.start <= journal_.size() && derive_pins(next.start);
		journal_.resize(next.start);
		if (!derived) {
			pinned_.reset();
			mmr_.reset();
			leaf_cache_.clear();
		}
		// A source may prune up to the new lower bound: requests below it may
		// never be answered. At it, the boundary request is wanted only while
		// the pins are unknown (one request per start location).
		outstanding_.remove_before(next.start);
		outstanding_.remove_at(next.start, derived ? RequestKind::Boundary : RequestKind::Operations);
		for (auto it = fetched_.begin(); it != fetched_.end();) {
			if (it->first + it->second.ops.size() <= next.start) {
				fetched_ops_ -= it->second.ops.size();
				it = fetched_.erase(it);
			} else {
				++it;
			}
		}
	}
	// Fetched operations and the other requests stay: each was checked (or
	// will be) against the root of the target it was asked for, and the
	// journal is append-only, so they belong to this target's history too.
	// An anchored database holds the new root unconfirmed until an answer
	// at the tip, or the root check at the target, shows it extends it.
	if (config_.anchor)
		anchor_confirmed_ = false;
	target_ = next;
	reached_reported_ = false;
	counters_.target_updates++;
	apply_operations();
	schedule_requests();
}

// An update waits while the current target is not reached, everything left
// of it is fetched or asked for, and a request is still out: adopting it then
// would only move the finish line of a fetch that is about to end.
bool
Engine::defers_updates() const {
	return !(journal_.size() == target_.end && pins_ready()) && !next_gap() && !outstanding_.empty();
}

// Adopt an advancing update, or defer it; the newest deferred one wins.
void
Engine::take_update(const Target &next) {
	const Target &latest = deferred_ ? *deferred_ : target_;
	if (!advances(next, latest))
		return; // not an error: only strictly advancing targets are adopted
	if (next.root == latest.root)
		throw EngineError(EngineErrorKind::SyncTargetRootUnchanged,
		                  "an advancing target update to " + range_text(next) + " kept the same root");
	if (defers_updates()) {
		deferred_ = next;
		counters_.updates_deferred++;
		return;
	}
	deferred_.reset();
	handle_update(next);
}

bool
Engine::at_target() {
	if (journal_.size() > target_.end)
		throw EngineError(EngineErrorKind::InvalidState, "journal size exceeds the target end");
	return journal_.size() == target_.end && pins_ready();
}

void
Engine::report_reached() {
	if (reached_reported_)
		return;
	reached_reported_ = true;
	reached_.push_back(target_);
	counters_.targets_reached++;
}

StepResult
Engine::step() {
	if (complete_)
		return StepResult::Complete;
	if (finish_queued_) {
		finish_requested_ = true;
		finish_queued_ = false;
	}
	bool waiting_for_finish = (config_.explicit_finish || config_.follow) && !finish_requested_;
	if (waiting_for_finish && !finish_open_)
		throw EngineError(EngineErrorKind::FinishChannelClosed, "the finish signal can no longer arrive");

	if (at_target()) {
		verify_at_target();
		report_reached();
		if (!finish_requested_) {
			// Take the newest advancing update (deferred or queued) instead
			// of completing.
			std::optional<Target> next = deferred_;
			deferred_.reset();
			while (!updates_.empty()) {
				const Target &u = updates_.front();
				const Target &latest = next ? *next : target_;
				if (advances(u, latest)) {
					if (u.root == latest.root)
						throw EngineError(EngineErrorKind::SyncTargetRootUnchanged,
						                  "an advancing target update to " + range_text(u) + " kept the same root");
					next = u;
				}
				updates_.pop_front();
			}
			if (next) {
				handle_update(*next);
				return StepResult::Continue;
			}
		}
		if (waiting_for_finish)
			return StepResult::Idle;
		finalize();
		return StepResult::Complete;
	}
	if (!updates_.empty()) {
		Target next = updates_.front();
		updates_.pop_front();
		take_update(next);
		return StepResult::Continue;
	}
	schedule_requests();
	if (outstanding_.empty() && !updates_open_ &&
	    !((config_.explicit_finish || config_.follow) && finish_open_ && !finish_requested_))
		throw EngineError(EngineErrorKind::SyncStalled, "no requests outstanding and no events can arrive");
	return StepResult::Idle;
}

// Check the root of the target just reached: the journal must end in a
// commit whose floor sets k, and the tree must give the target's root.
void
Engine::verify_at_target() {
	if (verified_end_ == target_.end)
		return;
	journal_.sync();
	catch_up_mmr();
	if (!mmr_ || mmr_->leaves() != target_.end)
		throw EngineError(EngineErrorKind::InvalidState, "the MMR does not cover the target");
	auto read_last = [&]() -> Operation {
		try {
			return decode_op(config_.format, journal_.read(target_.end - 1));
		} catch (const DecodeError &e) {
			throw EngineError(EngineErrorKind::Database,
			                  std::string("the last operation does not decode: ") + e.what());
		}
	};
	const Operation last = read_last();
	if (last.kind != OpKind::CommitFloor)
		throw EngineError(EngineErrorKind::Database, "the last operation of the target range is not a commit");
	Digest root = mmr_->root(hasher_, inactive_peaks(target_.end, std::min(last.floor, target_.end)));
	if (root != target_.root) {
		EngineError e(EngineErrorKind::RootMismatch, "the synced journal does not produce the target root");
		e.expected = target_.root;
		e.actual = root;
		throw e;
	}
	// The state is rebuilt by replaying from the floor, so a first sync
	// needs it inside its range; an anchored database holds everything below.
	uint64_t lowest = config_.anchor ? 0 : target_.start;
	if (last.floor < lowest || last.floor >= target_.end)
		throw EngineError(EngineErrorKind::Database, "the commit floor " + std::to_string(last.floor) +
		                                                 " is outside the target range " + range_text(target_));
	verified_end_ = target_.end;
	final_root_ = root;
	anchor_confirmed_ = anchor_confirmed_ || config_.anchor.has_value();
}

void
Engine::hold_as_anchor() {
	if (!mmr_ || verified_end_ != target_.end || journal_.size() != target_.end)
		throw Error(ErrorCode::Internal, "hold_as_anchor before the target was reached and checked");
	config_.anchor = Anchor{target_.end, mmr_->peak_digests()};
	anchor_confirmed_ = true;
}

void
Engine::finalize() {
	verify_at_target();
	complete_ = true;
}

Progress
Engine::progress() const {
	Progress p = counters_;
	p.target = target_;
	p.journal_size = journal_.size();
	p.outstanding_requests = outstanding_.size();
	p.fetched_ops = fetched_ops_;
	p.pins_ready = pins_ready();
	p.at_target = journal_.size() == target_.end && pins_ready();
	p.complete = complete_;
	return p;
}

} // namespace qmdb::sync
