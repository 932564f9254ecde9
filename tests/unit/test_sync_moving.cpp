// Moving targets as upstream's newest engine handles them, follow mode, and
// the catch-up of a database the journal already holds (an anchor). Cases
// follow upstream's engine tests where there is one, in our own words.
#include "sync_harness.h"

using namespace qmdb;
using namespace qmdb::sync;
using namespace qmdb::test;

namespace {

// The peaks of the tree of `size` leaves held in `nodes`: an anchor there.
Anchor
anchor_at(MemoryNodeStore &nodes, uint64_t size) {
	Anchor a;
	a.size = size;
	for (uint64_t pos : nodes_to_pin(size))
		a.peaks.push_back(*nodes.get(pos));
	return a;
}

// A replica of `source` at its current size: a first sync of [0, size).
std::unique_ptr<SyncRun>
replica_of(MemoryDb &source) {
	auto run = std::make_unique<SyncRun>(config(50, 3), Target{source.root(), 0, source.size()});
	EXPECT_EQ(run->run(honest(source)), StepResult::Complete);
	return run;
}

// Point `run` at `target` with an engine anchored at what its journal holds.
void
catch_up(SyncRun &run, EngineConfig cfg, const Target &target) {
	cfg.anchor = anchor_at(run.nodes, run.journal.size());
	run.pending.clear();
	run.sent.clear();
	run.reached.clear();
	run.engine = std::make_unique<Engine>(cfg, run.journal, run.nodes, target);
}

void
expect_journal_matches(const SyncRun &run, MemoryDb &source, uint64_t from) {
	ASSERT_EQ(run.journal.size(), source.size());
	for (uint64_t loc = from; loc < source.size(); loc++)
		ASSERT_EQ(run.journal.read(loc), source.op_bytes(loc)) << loc;
}

} // namespace

// --- each request is checked against its own root ----------------------------

// Upstream: target_updates_keep_old_size_request_beyond_floor. A request
// issued for the first target survives updates that do not pass its start,
// and its late answer (a proof at the old size) is accepted.
TEST(EngineMoving, OldSizeRequestSurvivesUpdatesAndIsAccepted) {
	Source s(300);
	Target first = s.target();
	SyncRun run(config(10, 4), first);
	run.collect();
	ASSERT_GE(run.pending.size(), 2u);
	auto late = run.pending.back(); // an operations request beyond the lower bound
	ASSERT_EQ(late.request.kind, RequestKind::Operations);
	ASSERT_EQ(late.request.size, first.end);
	for (int i = 0; i < 12; i++) { // more updates than any retained-roots window
		grow_db(s.db, s.db.size() + 5, 100 + i);
		run.engine->update_target({s.db.root(), first.start, s.db.size()});
		run.engine->step();
	}
	run.collect();
	EXPECT_TRUE(run.engine->range_check(late.id).has_value());
	EXPECT_EQ(run.engine->deliver(late.id, s.db.serve(late.request)), Verdict::Accepted);
	for (auto it = run.pending.begin(); it != run.pending.end(); ++it)
		if (it->id == late.id) {
			run.pending.erase(it);
			break;
		}
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	EXPECT_EQ(run.engine->root(), s.db.root());
	EXPECT_EQ(run.engine->progress().responses_stale, 0u);
}

// Upstream: target_update_floor_move_cancels_operations_below_bound.
TEST(EngineMoving, MovingTheLowerBoundCancelsRequestsBelowIt) {
	Source s(400);
	SyncRun run(config(10, 6), Target{s.db.root(), 0, s.db.size()});
	run.collect();
	std::vector<uint64_t> starts, kept_ids;
	for (auto &o : run.pending) {
		starts.push_back(o.request.start);
		if (o.request.start >= 30)
			kept_ids.push_back(o.id);
	}
	ASSERT_EQ(starts, std::vector<uint64_t>({0, 10, 20, 30, 40, 50}));
	grow_db(s.db, s.db.size() + 20, 9);
	run.engine->update_target({s.db.root(), 25, s.db.size()});
	run.engine->step();
	run.collect();
	// Requests starting below 25 go ([20, 30) too: a source may have pruned
	// below the bound); the rest stay, with their ids. The journal is empty,
	// so the pins of 25 come from a boundary request.
	std::vector<uint64_t> ids;
	bool boundary = false;
	for (auto &o : run.pending) {
		EXPECT_GE(o.request.start, 25u);
		if (o.request.start >= 30 && o.request.start <= 50)
			ids.push_back(o.id);
		boundary = boundary || (o.request.kind == RequestKind::Boundary && o.request.start == 25);
	}
	EXPECT_EQ(ids, kept_ids);
	EXPECT_TRUE(boundary);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	EXPECT_EQ(run.engine->root(), s.db.root());
}

// Upstream: moved floor within the journal derives the pinned nodes locally
// instead of a boundary request per update.
TEST(EngineMoving, LowerBoundMovedWithinTheJournalDerivesPins) {
	Source s(500);
	Target first{s.db.root(), 0, s.db.size()};
	SyncRun run(config(25, 2, true), first);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Idle); // at the target, waiting for finish
	size_t sent_before = run.sent.size();
	grow_db(s.db, s.db.size() + 60, 4);
	Target next{s.db.root(), 300, s.db.size()};
	run.engine->update_target(next);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Idle);
	run.engine->finish();
	ASSERT_EQ(run.engine->step(), StepResult::Complete);
	EXPECT_EQ(run.engine->progress().pins_derived, 1u);
	for (size_t i = sent_before; i < run.sent.size(); i++) {
		EXPECT_EQ(run.sent[i].kind, RequestKind::Operations);
		EXPECT_GE(run.sent[i].start, first.end);
	}
	EXPECT_EQ(*run.engine->pinned_nodes(), s.db.pinned_nodes_at(300));
	EXPECT_EQ(run.engine->root(), next.root);
	MemoryDb synced =
	    MemoryDb::from_sync_result(fixed32_format(), 300, run.journal_ops(300), *run.engine->pinned_nodes());
	EXPECT_EQ(synced.root(), next.root);
}

// --- replies hold exactly what was asked -----------------------------------

TEST(EngineMoving, ShortReplyIsRejected) {
	Source s(200);
	SyncRun run(config(20, 1), Target{s.db.root(), 0, s.db.size()});
	run.collect();
	auto o = run.pending.front();
	run.pending.pop_front();
	Request shorter = o.request;
	shorter.max_ops = 19; // a true prefix with a valid proof, one short
	EXPECT_EQ(run.engine->deliver(o.id, s.db.serve(shorter)), Verdict::Rejected);
	// The tail of a target is a short request, and its full answer is fine.
	run.collect();
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
}

// --- updates near the end wait ---------------------------------------------

// Upstream: once everything left is fetched or requested, an update waits
// until the current target is reached, which is reported first.
TEST(EngineMoving, UpdateNearTheEndIsDeferredUntilTheTarget) {
	Source s(120);
	Target first{s.db.root(), 0, s.db.size()};
	SyncRun run(config(100, 2), first);
	run.collect();
	ASSERT_EQ(run.pending.size(), 2u); // everything requested
	grow_db(s.db, s.db.size() + 30, 5);
	Target next{s.db.root(), 0, s.db.size()};
	run.engine->update_target(next);
	EXPECT_EQ(run.engine->step(), StepResult::Continue);
	EXPECT_EQ(run.engine->target(), first); // deferred
	EXPECT_EQ(run.engine->progress().updates_deferred, 1u);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	ASSERT_EQ(run.reached.size(), 2u);
	EXPECT_EQ(run.reached[0], first);
	EXPECT_EQ(run.reached[1], next);
	EXPECT_EQ(run.engine->root(), next.root);
}

// --- follow --------------------------------------------------------------

TEST(EngineFollow, ChecksEachTargetsRootAndWaits) {
	Source s(150);
	EngineConfig cfg = config(16, 2);
	cfg.follow = true;
	SyncRun run(cfg, Target{s.db.root(), 0, s.db.size()});
	for (int round = 0; round < 4; round++) {
		ASSERT_EQ(run.run(honest(s.db)), StepResult::Idle);
		EXPECT_EQ(run.engine->verified_end(), s.db.size());
		EXPECT_EQ(run.reached.size(), static_cast<size_t>(round + 1));
		grow_db(s.db, s.db.size() + 25, 50 + round);
		run.engine->update_target({s.db.root(), 0, s.db.size()});
	}
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Idle);
	run.engine->finish();
	EXPECT_EQ(run.engine->step(), StepResult::Complete);
	EXPECT_EQ(run.engine->root(), s.db.root());
}

TEST(EngineFollow, AnswersAgainstAnotherRootAreThePeersFault) {
	Source s(150);
	EngineConfig cfg = config(16, 2);
	cfg.follow = true;
	Target t{s.db.root(), 0, s.db.size()};
	SyncRun run(cfg, t);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Idle);
	// The operator's next target has a root no source can serve against:
	// every answer is rejected, nothing is applied, the last check stands.
	MemoryDb other(fixed32_format());
	grow_db(other, 150, 77);
	grow_db(s.db, s.db.size() + 10, 3);
	run.engine->update_target({other.root(), 0, s.db.size()});
	run.verdicts.clear();
	for (int i = 0; i < 40; i++) {
		run.engine->step();
		run.collect();
		if (!run.pending.empty())
			run.answer_one(honest(s.db));
	}
	ASSERT_FALSE(run.verdicts.empty());
	for (Verdict v : run.verdicts)
		EXPECT_EQ(v, Verdict::Rejected);
	EXPECT_EQ(run.engine->verified_end(), t.end);
	EXPECT_EQ(run.journal.size(), t.end);
}

// --- catch-up of a database the journal holds (anchor) ------------------------

TEST(EngineAnchor, CatchUpFetchesOnlyWhatIsMissing) {
	Source s(400, 11);
	auto run = replica_of(s.db);
	uint64_t held = run->journal.size();
	grow_db(s.db, s.db.size() + 250, 12);
	Target next = s.target(); // [floor, size): its lower bound is irrelevant here
	catch_up(*run, config(40, 3), next);
	ASSERT_EQ(run->run(honest(s.db)), StepResult::Complete);
	for (const Request &r : run->sent) {
		EXPECT_EQ(r.kind, RequestKind::Operations);
		EXPECT_GE(r.start, held);
	}
	EXPECT_TRUE(run->engine->anchor_confirmed());
	EXPECT_EQ(run->engine->root(), s.db.root());
	expect_journal_matches(*run, s.db, 0);
	// The node store holds the whole tree, as the source's.
	for (uint64_t pos = 0; pos < location_to_position(s.db.size()); pos++)
		ASSERT_EQ(run->nodes.get(pos), s.db.nodes().get(pos)) << pos;
}

TEST(EngineAnchor, FollowsTargetsWithoutBoundaries) {
	Source s(300, 21);
	auto run = replica_of(s.db);
	EngineConfig cfg = config(16, 4);
	cfg.follow = true;
	grow_db(s.db, s.db.size() + 40, 22);
	catch_up(*run, cfg, s.target());
	for (int round = 0; round < 5; round++) {
		ASSERT_EQ(run->run(honest(s.db)), StepResult::Idle);
		EXPECT_EQ(run->engine->verified_end(), s.db.size());
		grow_db(s.db, s.db.size() + 30, 23 + round);
		run->engine->update_target(s.target());
	}
	ASSERT_EQ(run->run(honest(s.db)), StepResult::Idle);
	for (const Request &r : run->sent)
		EXPECT_EQ(r.kind, RequestKind::Operations);
	expect_journal_matches(*run, s.db, 0);
}

TEST(EngineAnchor, AnotherHistoryIsDivergedNotAPeersFault) {
	Source s(300, 31);
	auto run = replica_of(s.db);
	uint64_t held = run->journal.size();
	// A fork: the same first batches (same seed), then different ones.
	MemoryDb fork(fixed32_format());
	grow_db(fork, 150, 31);
	grow_db(fork, 450, 999);
	catch_up(*run, config(20, 2), Target{fork.root(), 0, fork.size()});
	try {
		run->run(honest(fork));
		FAIL() << "the fork's target was taken";
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::Diverged);
	}
	EXPECT_EQ(run->journal.size(), held); // nothing of the fork was kept
}

TEST(EngineAnchor, ResumeWithATailReusesIt) {
	Source s(300, 41);
	auto run = replica_of(s.db);
	uint64_t held = run->journal.size();
	grow_db(s.db, s.db.size() + 200, 42);
	Target next = s.target();
	catch_up(*run, config(30, 1), next);
	// Two answers, then a "crash": the journal keeps what was appended.
	for (int i = 0; i < 2; i++) {
		run->engine->step();
		run->collect();
		run->answer_one(honest(s.db));
	}
	uint64_t tail = run->journal.size();
	ASSERT_GT(tail, held);
	EngineConfig cfg = config(30, 1);
	cfg.anchor = anchor_at(run->nodes, held);
	run->pending.clear();
	run->sent.clear();
	run->engine = std::make_unique<Engine>(cfg, run->journal, run->nodes, next);
	EXPECT_FALSE(run->engine->anchor_confirmed()); // the tail may be of an unconfirmed target
	ASSERT_EQ(run->run(honest(s.db)), StepResult::Complete);
	EXPECT_TRUE(run->engine->anchor_confirmed());
	EXPECT_GE(run->sent.front().start, tail);
	EXPECT_EQ(run->engine->root(), s.db.root());
}

// A follower restarted after it caught up: its target is the database it
// holds. It is reached at once, with the root checked against the peaks
// and nothing asked of a source, and the next update is followed as usual.
// A target behind the database is refused, and a wrong root at it fails.
TEST(EngineAnchor, RestartAtTheTargetWaitsForTheNext) {
	Source s(300, 61);
	auto run = replica_of(s.db);
	EngineConfig cfg = config(20, 2);
	cfg.follow = true;
	catch_up(*run, cfg, s.target());
	EXPECT_EQ(run->engine->step(), StepResult::Idle);
	run->collect();
	EXPECT_TRUE(run->sent.empty());
	EXPECT_TRUE(run->engine->anchor_confirmed());
	EXPECT_EQ(run->engine->verified_end(), s.db.size());
	ASSERT_EQ(run->reached, std::vector<Target>{s.target()});
	grow_db(s.db, s.db.size() + 50, 62);
	run->engine->update_target(s.target());
	ASSERT_EQ(run->run(honest(s.db)), StepResult::Idle);
	EXPECT_EQ(run->engine->verified_end(), s.db.size());
	expect_journal_matches(*run, s.db, 0);

	uint64_t held = run->journal.size();
	try {
		catch_up(*run, cfg, Target{s.db.root(), 0, held - 1});
		FAIL() << "a target behind the database was taken";
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::InvalidTarget);
	}
	Digest wrong = s.db.root();
	wrong[0] ^= 1;
	catch_up(*run, cfg, Target{wrong, 0, held});
	try {
		run->engine->step();
		FAIL() << "a wrong root at the database's size was taken";
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::RootMismatch);
	}
}

// A follower given a fork's target after it confirmed its source: the fork
// is caught before anything of it could count (the answer at the tip under
// the fork's root shows other peaks), and no operation of it is confirmed.
TEST(EngineAnchor, AForkAdoptedWhileFollowingIsDiverged) {
	Source s(300, 51);
	auto run = replica_of(s.db);
	EngineConfig cfg = config(20, 1);
	cfg.follow = true;
	grow_db(s.db, s.db.size() + 40, 52);
	catch_up(*run, cfg, s.target());
	ASSERT_EQ(run->run(honest(s.db)), StepResult::Idle);
	ASSERT_TRUE(run->engine->anchor_confirmed());
	uint64_t held = run->journal.size();
	// The fork: the source's first 300 operations' batches, then others.
	MemoryDb fork(fixed32_format());
	grow_db(fork, 300, 51);
	grow_db(fork, held + 100, 777);
	run->engine->update_target({fork.root(), run->engine->target().start, fork.size()});
	try {
		run->run(honest(fork));
		FAIL() << "the fork's target was followed";
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::Diverged);
	}
	EXPECT_FALSE(run->engine->anchor_confirmed());
	EXPECT_EQ(run->journal.size(), held);
}
