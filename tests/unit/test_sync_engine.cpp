// The sync engine against honest, stale and misbehaving in-memory sources.
// Test names follow upstream's cases (spec §6.1–§6.2) in our own words.
#include "sync_harness.h"

using namespace qmdb;
using namespace qmdb::sync;
using namespace qmdb::test;

namespace {

SourceFn
fail_source() {
	return [](const Request &) -> Answer {
		ADD_FAILURE() << "no request should be made";
		return Answer{};
	};
}

// After a sync, the database rebuilt from the journal and pins equals the source's.
void
expect_synced(SyncRun &run, MemoryDb &source, const Target &target) {
	ASSERT_TRUE(run.engine->complete());
	EXPECT_EQ(run.engine->root(), target.root);
	EXPECT_EQ(run.journal.size(), target.end);
	std::vector<Digest> pins = target.start ? *run.engine->pinned_nodes() : std::vector<Digest>{};
	MemoryDb synced = MemoryDb::from_sync_result(fixed32_format(), target.start, run.journal_ops(target.start), pins);
	EXPECT_EQ(synced.root(), target.root);
	EXPECT_EQ(synced.size(), target.end);
	EXPECT_EQ(synced.floor(), source.floor_at(target.end));
	for (uint64_t loc = target.start; loc < target.end; loc++)
		ASSERT_EQ(run.journal.read(loc), source.op_bytes(loc)) << loc;
	// The engine's node store holds every node of the synced range as the
	// source does (parents taken from proofs included), so it can serve proofs.
	for (uint64_t pos = location_to_position(target.start); pos < location_to_position(target.end); pos++) {
		std::optional<Digest> want = source.nodes().get(pos);
		if (want) {
			ASSERT_EQ(run.nodes.get(pos), want) << pos;
		}
	}
}

} // namespace

// --- construction and resume -------------------------------------------------

TEST(EngineNew, SchedulesOperationsAfterTheBoundaryRequest) {
	Source s(40);
	Target t = s.target();
	ASSERT_GT(t.start, 0u);
	SyncRun run(config(5, 2), t);
	run.collect();
	ASSERT_EQ(run.sent.size(), 2u);
	EXPECT_EQ(run.sent[0], Request::boundary(t.end, t.start));
	EXPECT_EQ(run.sent[1], Request::operations(t.end, t.start + 1, std::min<uint64_t>(5, t.end - t.start - 1)));
}

TEST(EngineNew, BoundaryCountsTowardTheOutstandingLimit) {
	Source s(60);
	SyncRun run(config(5, 1), s.target());
	run.collect();
	ASSERT_EQ(run.sent.size(), 1u);
	EXPECT_EQ(run.sent[0].kind, RequestKind::Boundary);
}

TEST(EngineNew, ProbesLocalPinsOnlyWhenTheJournalReachesTheTarget) {
	Source s(80);
	Target t = s.target();
	ASSERT_GT(t.start, 0u);
	int probes = 0;
	LocalPins probe = [&](const Target &, const Journal &) -> std::optional<std::vector<Digest>> {
		probes++;
		return s.db.pinned_nodes_at(t.start);
	};
	// Complete journal: probed once; no request at all; completes.
	MemoryJournal full;
	full.clear_to(t.start);
	full.append(s.db.read_ops(t.start, t.end));
	SyncRun done(config(10), t, full, probe);
	EXPECT_EQ(probes, 1);
	EXPECT_EQ(done.run(fail_source()), StepResult::Complete);
	EXPECT_TRUE(done.sent.empty());
	expect_synced(done, s.db, t);

	// Partial journal: never probed.
	MemoryJournal partial;
	partial.clear_to(t.start);
	partial.append(s.db.read_ops(t.start, t.end - 3));
	SyncRun part(config(10), t, partial, probe);
	EXPECT_EQ(probes, 1);
	EXPECT_EQ(part.run(honest(s.db)), StepResult::Complete);
	expect_synced(part, s.db, t);
}

TEST(EngineNew, RejectsInvalidTargets) {
	MemoryJournal j;
	MemoryNodeStore n;
	try {
		Engine e(config(1), j, n, {{}, 0, MAX_LEAVES + 1});
		FAIL();
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::InvalidTarget);
	}
	EXPECT_THROW(Engine(config(1), j, n, {{}, 5, 5}), EngineError);
}

// --- full syncs --------------------------------------------------------------

struct SyncMatrix : ::testing::TestWithParam<std::pair<uint64_t, uint64_t>> {};

TEST_P(SyncMatrix, CompletesWithTheTargetRoot) {
	auto [n, batch] = GetParam();
	Source s(n, n + batch);
	Target t = s.target();
	s.db.prune(t.start); // the source keeps only what the target needs
	for (uint64_t outstanding : {uint64_t(1), uint64_t(4)}) {
		SyncRun run(config(batch, outstanding), t);
		ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
		expect_synced(run, s.db, t);
		ASSERT_EQ(run.reached.size(), 1u);
		EXPECT_EQ(run.reached[0], t);
		for (const Request &r : run.sent)
			EXPECT_LE(r.max_ops, batch);
	}
}

INSTANTIATE_TEST_SUITE_P(Upstream, SyncMatrix,
                         ::testing::Values(std::make_pair(10, 1), std::make_pair(10, 20), std::make_pair(1000, 1),
                                           std::make_pair(1000, 3), std::make_pair(1000, 999),
                                           std::make_pair(1000, 100), std::make_pair(1000, 1000),
                                           std::make_pair(1000, 1001)));

TEST(EngineSync, HundredThousandOperations) {
	Source s(100000, 7);
	Target t = s.target();
	SyncRun run(config(1000, 8), t);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	expect_synced(run, s.db, t);
	// Bounded memory: never more verified-but-unapplied ops than the cap allows.
	EXPECT_EQ(run.engine->progress().fetched_ops, 0u);
}

TEST(EngineSync, FromTheInitialCommitOnly) {
	MemoryDb empty(fixed32_format());
	Target t = empty.target();
	EXPECT_EQ(t.start, 0u);
	EXPECT_EQ(t.end, 1u);
	SyncRun run(config(10), t);
	ASSERT_EQ(run.run(honest(empty)), StepResult::Complete);
	expect_synced(run, empty, t);
}

TEST(EngineSync, SubsetOfTheSourceDatabase) {
	Source s(1000);
	Target older = s.target();
	grow_db(s.db, s.db.size() + 1, 99); // the source moves on
	SyncRun run(config(50, 3), older);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	expect_synced(run, s.db, older);
	EXPECT_NE(older.root, s.db.root());
}

TEST(EngineSync, ExistingJournalPartialMatch) {
	Source s(1000);
	Target t = s.target();
	MemoryJournal existing;
	existing.clear_to(t.start);
	existing.append(s.db.read_ops(t.start, t.start + (t.end - t.start) / 2));
	SyncRun run(config(64, 2), t, existing);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	expect_synced(run, s.db, t);
	for (const Request &r : run.sent)
		EXPECT_TRUE(r.kind == RequestKind::Boundary || r.start >= t.start + (t.end - t.start) / 2);
}

TEST(EngineSync, ExistingJournalExactMatchFromZeroMakesNoRequest) {
	MemoryDb db(fixed32_format());
	grow_db(db, 300, 3);
	Target t{db.root(), 0, db.size()}; // start 0: no pins needed
	MemoryJournal existing;
	existing.append(db.read_ops(0, db.size()));
	SyncRun run(config(10), t, existing);
	EXPECT_EQ(run.run(fail_source()), StepResult::Complete);
	EXPECT_TRUE(run.sent.empty());
	expect_synced(run, db, t);
}

TEST(EngineSync, ForeignLocalJournalEndsInRootMismatch) {
	Source s(200, 1), other(200, 2);
	Target t = s.target();
	MemoryJournal existing;
	existing.clear_to(t.start);
	// Same length, different content: trusted until the final root check.
	std::vector<Bytes> ops = s.db.read_ops(t.start, t.end);
	ops[ops.size() / 2] = other.db.op_bytes(other.db.size() - 2);
	existing.append(ops);
	LocalPins probe = [&](const Target &, const Journal &) -> std::optional<std::vector<Digest>> {
		return s.db.pinned_nodes_at(t.start);
	};
	SyncRun run(config(10), t, existing, probe);
	try {
		run.run(fail_source());
		FAIL() << "completed with a foreign journal";
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::RootMismatch);
		EXPECT_EQ(e.expected, t.root);
		EXPECT_NE(e.actual, t.root);
	}
}

TEST(EngineSync, JournalBeyondTheTargetIsInvalidState) {
	Source s(100);
	Target t = s.target();
	MemoryJournal j; // not opened for the range: holds more than the target
	j.clear_to(t.start);
	j.append(s.db.read_ops(t.start, t.end));
	j.append({Bytes{1}});
	MemoryNodeStore n;
	Engine e(config(10), j, n, t);
	try {
		e.step();
		FAIL();
	} catch (const EngineError &err) {
		EXPECT_EQ(err.kind(), EngineErrorKind::InvalidState);
	}
}

TEST(EngineSync, ResyncToAnOlderTargetRewinds) {
	Source s(400);
	Target older = s.target();
	grow_db(s.db, s.db.size() + 200, 5);
	Target newer = s.target();
	SyncRun first(config(40, 2), newer);
	ASSERT_EQ(first.run(honest(s.db)), StepResult::Complete);
	// Same journal, older target: the journal is rewound, not refetched.
	SyncRun second(config(40, 2), older, first.journal);
	ASSERT_EQ(second.run(honest(s.db)), StepResult::Complete);
	expect_synced(second, s.db, older);
}

TEST(EngineSync, SyncedDatabaseIsUsable) {
	Source s(500);
	Target t = s.target();
	SyncRun run(config(32, 3), t);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	MemoryDb synced =
	    MemoryDb::from_sync_result(fixed32_format(), t.start, run.journal_ops(t.start), *run.engine->pinned_nodes());
	Mutations m = {{bytes_of(to_digest(1000)), bytes_of(to_val(1, 1))}};
	CommitResult a = synced.apply_batch(m);
	CommitResult b = s.db.apply_batch(m);
	EXPECT_EQ(a.root, b.root);
	EXPECT_GT(a.size, t.end);
}

// --- target updates ----------------------------------------------------------

namespace {

// Run until the journal passes `at`, then send `update`.
std::function<void(SyncRun &)>
update_when(uint64_t at, Target update, bool *sent) {
	return [=](SyncRun &r) {
		if (!*sent && r.journal.size() >= at) {
			r.engine->update_target(update);
			*sent = true;
		}
	};
}

} // namespace

TEST(EngineUpdate, LowerBoundDecreaseIsDiscarded) {
	Source s(300);
	Target t = s.target();
	bool sent = false;
	SyncRun run(config(5), t);
	Target bad{s.db.historical_root(t.end), t.start - 1, t.end + 1};
	ASSERT_EQ(run.run(honest(s.db), 1000000, update_when(t.start, bad, &sent)), StepResult::Complete);
	EXPECT_TRUE(sent);
	expect_synced(run, s.db, t);
	EXPECT_EQ(run.engine->progress().target_updates, 0u);
}

TEST(EngineUpdate, UpperBoundDecreaseIsDiscarded) {
	Source s(300);
	Target t = s.target();
	bool sent = false;
	SyncRun run(config(5), t);
	ASSERT_EQ(run.run(honest(s.db), 1000000, update_when(t.start, {Digest{}, t.start, t.end - 1}, &sent)),
	          StepResult::Complete);
	expect_synced(run, s.db, t);
}

TEST(EngineUpdate, PruneOnlyUpdateIsIgnored) {
	Source s(300);
	Target t = s.target();
	SyncRun run(config(5), t);
	run.engine->update_target({Digest{1}, t.start + 1, t.end});
	run.engine->update_target({Digest{2}, t.start + 2, t.end});
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	expect_synced(run, s.db, t);
}

TEST(EngineUpdate, BoundsIncreaseMovesToTheNewRoot) {
	Source s(300);
	Target t = s.target();
	grow_db(s.db, s.db.size() + 150, 11);
	Target next = s.target();
	bool sent = false;
	SyncRun run(config(1, 1), t);
	ASSERT_EQ(run.run(honest(s.db), 1000000, update_when(t.start + 3, next, &sent)), StepResult::Complete);
	expect_synced(run, s.db, next);
	EXPECT_EQ(run.engine->progress().target_updates, 1u);
}

TEST(EngineUpdate, SameRootWithAdvancingRangeFails) {
	Source s(300);
	Target t = s.target();
	SyncRun run(config(5), t);
	run.engine->update_target({t.root, t.start, t.end + 1});
	try {
		run.run(honest(s.db));
		FAIL();
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::SyncTargetRootUnchanged);
	}
}

TEST(EngineUpdate, UpdateAfterCompletionIsHarmless) {
	Source s(100);
	Target t = s.target();
	SyncRun run(config(10), t);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	run.engine->update_target({Digest{9}, t.start, t.end + 10});
	EXPECT_EQ(run.engine->step(), StepResult::Complete);
	expect_synced(run, s.db, t);
}

TEST(EngineUpdate, QueuedUpdateIsTakenBeforeCompleting) {
	Source s(200);
	Target t = s.target();
	grow_db(s.db, s.db.size() + 50, 4);
	Target next = s.target();
	SyncRun run(config(500), t);
	// Deliver everything without stepping, then queue a stale and an advancing update.
	for (run.collect(); !run.pending.empty(); run.collect())
		run.answer_one(honest(s.db));
	ASSERT_TRUE(run.engine->progress().at_target);
	run.engine->update_target({Digest{3}, t.start, t.end}); // stale: same end
	run.engine->update_target(next);
	EXPECT_EQ(run.engine->step(), StepResult::Continue);
	EXPECT_EQ(run.engine->target(), next);
	ASSERT_EQ(run.run(honest(s.db)), StepResult::Complete);
	expect_synced(run, s.db, next);
}

// Upstream test_target_update_during_sync(initial ops, additional ops).
struct UpdateDuringSync : ::testing::TestWithParam<std::pair<uint64_t, uint64_t>> {};

TEST_P(UpdateDuringSync, EndsAtTheSourceRoot) {
	auto [initial, additional] = GetParam();
	for (uint64_t outstanding : {uint64_t(1), uint64_t(3), uint64_t(8)}) {
		Source s(initial, initial * 31 + additional);
		Target t = s.target();
		bool sent = false;
		SyncRun run(config(3, outstanding), t);
		auto mutate_then_update = [&](SyncRun &r) {
			if (!sent && r.journal.size() > t.start) {
				grow_db(s.db, s.db.size() + additional, additional);
				r.engine->update_target(s.target());
				sent = true;
			}
		};
		ASSERT_EQ(run.run(honest(s.db), 1000000, mutate_then_update), StepResult::Complete);
		expect_synced(run, s.db, s.target());
	}
}

INSTANTIATE_TEST_SUITE_P(Upstream, UpdateDuringSync,
                         ::testing::Values(std::make_pair(20, 10), std::make_pair(50, 1), std::make_pair(100, 5),
                                           std::make_pair(100, 50), std::make_pair(200, 200), std::make_pair(300, 1),
                                           std::make_pair(500, 100), std::make_pair(64, 64), std::make_pair(30, 300)));

// --- explicit finish ---------------------------------------------------------

TEST(EngineFinish, WaitsAndReportsEachTargetOnce) {
	Source s(200);
	Target t = s.target();
	SyncRun run(config(20, 2, true), t);
	EXPECT_EQ(run.run(honest(s.db)), StepResult::Idle); // at the target, waiting
	ASSERT_EQ(run.reached.size(), 1u);
	EXPECT_EQ(run.reached[0], t);
	EXPECT_EQ(run.engine->progress().journal_size, t.end);
	EXPECT_EQ(run.engine->step(), StepResult::Idle);
	run.collect();
	EXPECT_EQ(run.reached.size(), 1u); // not reported twice

	grow_db(s.db, s.db.size() + 40, 8);
	Target next = s.target();
	run.engine->update_target(next);
	EXPECT_EQ(run.run(honest(s.db)), StepResult::Idle);
	ASSERT_EQ(run.reached.size(), 2u);
	EXPECT_EQ(run.reached[1], next);
	EXPECT_EQ(run.engine->progress().journal_size, next.end);
	EXPECT_FALSE(run.engine->complete());

	run.engine->finish();
	EXPECT_EQ(run.run(honest(s.db)), StepResult::Complete);
	expect_synced(run, s.db, next);
}

TEST(EngineFinish, QueuedFinishWinsOverQueuedUpdate) {
	Source s(100);
	Target t = s.target();
	SyncRun run(config(20, 2, true), t);
	EXPECT_EQ(run.run(honest(s.db)), StepResult::Idle);
	grow_db(s.db, s.db.size() + 10, 2);
	run.engine->update_target(s.target());
	run.engine->finish();
	EXPECT_EQ(run.engine->step(), StepResult::Complete);
	EXPECT_EQ(run.engine->root(), t.root);
}

TEST(EngineFinish, EarlyFinishStillSyncsFully) {
	Source s(300);
	Target t = s.target();
	SyncRun run(config(7, 2, true), t);
	run.engine->finish();
	EXPECT_EQ(run.run(honest(s.db)), StepResult::Complete);
	expect_synced(run, s.db, t);
	EXPECT_EQ(run.reached.size(), 1u);
}

TEST(EngineFinish, ClosedFinishChannelFails) {
	Source s(100);
	SyncRun run(config(7, 2, true), s.target());
	run.engine->close_finish();
	try {
		run.run(honest(s.db));
		FAIL();
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::FinishChannelClosed);
	}
}

// --- bad responses -----------------------------------------------------------

TEST(EngineBad, BadPinsThenRetrySucceeds) {
	Source s(300);
	Target t = s.target();
	int boundaries = 0;
	SourceFn corrupt_first_pins = [&](const Request &r) {
		Response resp = s.db.serve(r);
		if (r.kind == RequestKind::Boundary && boundaries++ == 0)
			resp.pinned_nodes[0][0] ^= 1;
		return Answer{resp, false};
	};
	SyncRun run(config(10, 2), t);
	ASSERT_EQ(run.run(corrupt_first_pins), StepResult::Complete);
	EXPECT_EQ(boundaries, 2);
	EXPECT_EQ(run.verdicts.front(), Verdict::Rejected);
	expect_synced(run, s.db, t);
}

TEST(EngineBad, BoundaryRetryAfterTargetUpdate) {
	Source s(300);
	Target t = s.target();
	grow_db(s.db, s.db.size() + 100, 3);
	Target next = s.target();
	// After the update, the first boundary answer is Operations-shaped against
	// the historical size: rejected. Until the retry lands, no reached-target.
	bool updated = false, shaped_wrong = false;
	SyncRun run(config(10, 1), t);
	SourceFn source = [&](const Request &r) {
		if (updated && r.kind == RequestKind::Boundary && !shaped_wrong) {
			shaped_wrong = true;
			return Answer{s.db.serve(Request::operations(r.size, r.start, 1)), false};
		}
		return Answer{s.db.serve(r), false};
	};
	auto between = [&](SyncRun &r) {
		if (!updated && r.journal.size() > t.start + 20) {
			r.engine->update_target(next);
			updated = true;
		}
		if (updated && !r.engine->progress().pins_ready) {
			EXPECT_TRUE(r.reached.empty());
		}
	};
	ASSERT_EQ(run.run(source, 1000000, between), StepResult::Complete);
	EXPECT_TRUE(shaped_wrong);
	expect_synced(run, s.db, next);
	ASSERT_EQ(run.reached.size(), 1u);
	EXPECT_EQ(run.reached[0], next);
}

namespace {

// Deliver one tampered response to the first Operations request and check
// the verdict, with and without feedback.
void
expect_rejected(const std::function<void(Response &, const Request &)> &tamper) {
	Source s(200);
	Target t = s.target();
	for (bool feedback : {true, false}) {
		SyncRun run(config(8, 1), t);
		run.feedback = feedback;
		bool done = false;
		SourceFn source = [&](const Request &r) {
			Response resp = s.db.serve(r);
			if (!done && r.kind == RequestKind::Operations) {
				done = true;
				tamper(resp, r);
			}
			return Answer{resp, false};
		};
		if (feedback) {
			ASSERT_EQ(run.run(source), StepResult::Complete);
			EXPECT_EQ(std::count(run.verdicts.begin(), run.verdicts.end(), Verdict::Rejected), 1);
			EXPECT_EQ(run.engine->progress().responses_rejected, 1u);
			expect_synced(run, s.db, t);
		} else {
			try {
				run.run(source);
				FAIL() << "accepted a bad response without feedback";
			} catch (const EngineError &e) {
				EXPECT_EQ(e.kind(), EngineErrorKind::InvalidResponse);
			}
		}
	}
}

} // namespace

TEST(EngineBad, ExtraProofDigest) {
	expect_rejected([](Response &r, const Request &) { r.proof.digests.push_back(Digest{}); });
}
TEST(EngineBad, EmptyBatch) {
	expect_rejected([](Response &r, const Request &) { r.operations.clear(); });
}
TEST(EngineBad, MoreOperationsThanAskedFor) {
	expect_rejected([](Response &r, const Request &) { r.operations.push_back(r.operations.back()); });
}
TEST(EngineBad, BoundaryShapedAnswerToOperations) {
	expect_rejected([](Response &r, const Request &) { r.kind = RequestKind::Boundary; });
}
TEST(EngineBad, WrongLeaves) {
	expect_rejected([](Response &r, const Request &) { r.proof.leaves -= 1; });
}
TEST(EngineBad, TamperedOperation) {
	expect_rejected([](Response &r, const Request &) { r.operations[0][5] ^= 0x40; });
}
TEST(EngineBad, OperationsFromAnotherRange) {
	Source s2(200, 77);
	expect_rejected([&](Response &r, const Request &req) {
		r.operations[0] = s2.db.op_bytes(std::min(req.start, s2.db.size() - 1));
	});
}

TEST(EngineBad, SourceErrorIsFatal) {
	Source s(50);
	SyncRun run(config(8), s.target());
	run.collect();
	try {
		run.engine->source_error(run.pending.front().id, "no such database");
		FAIL();
	} catch (const EngineError &e) {
		EXPECT_EQ(e.kind(), EngineErrorKind::Source);
	}
}

TEST(EngineBad, DroppedResponsesAreRefetched) {
	Source s(300);
	Target t = s.target();
	int n = 0;
	SourceFn flaky = [&](const Request &r) {
		return n++ % 3 == 1 ? Answer{std::nullopt, true} : Answer{s.db.serve(r), false};
	};
	SyncRun run(config(9, 3), t);
	ASSERT_EQ(run.run(flaky), StepResult::Complete);
	expect_synced(run, s.db, t);
}

TEST(EngineBad, DuplicateDeliveryIsStale) {
	Source s(100);
	SyncRun run(config(10, 1), s.target());
	run.collect();
	auto o = run.pending.front();
	Response resp = s.db.serve(o.request);
	EXPECT_EQ(run.engine->deliver(o.id, resp), Verdict::Accepted);
	EXPECT_EQ(run.engine->deliver(o.id, resp), Verdict::Stale);
}

TEST(EngineMemory, FetchedButUnappliedOperationsStayUnderTheCap) {
	Source s(3000);
	Target t = s.target();
	EngineConfig cfg = config(10, 8);
	cfg.max_fetched_ops = 25;
	SyncRun run(cfg, t);
	uint64_t peak = 0;
	// Answer the newest request first, so later ranges pile up ahead of the tip.
	for (int events = 0; events < 100000 && !run.engine->complete(); events++) {
		if (run.engine->step() == StepResult::Complete)
			break;
		run.collect();
		if (run.pending.empty())
			continue;
		auto o = run.pending.back();
		run.pending.pop_back();
		run.engine->deliver(o.id, s.db.serve(o.request));
		peak = std::max(peak, run.engine->progress().fetched_ops);
	}
	ASSERT_TRUE(run.engine->complete());
	expect_synced(run, s.db, t);
	// Requests beyond the tip stop at the cap; one tip request may add a batch.
	EXPECT_LE(peak, cfg.max_fetched_ops + cfg.fetch_batch_size);
	EXPECT_GT(peak, 0u);
}
