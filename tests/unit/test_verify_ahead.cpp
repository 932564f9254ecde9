// Proof checks done away from the engine (RangeCheck, check_range) and on
// a helper thread (VerifyAhead): the engine must use such a check only
// when it was made against what it would check itself, and a sync whose
// every check came from the helper must end exactly as one checked inline.
#include "sync_harness.h"

#include "core/sync/verify_ahead.h"

using namespace qmdb;
using namespace qmdb::sync;
using namespace qmdb::test;

namespace {

// The first Operations request the engine hands out (after the boundary).
Engine::Outgoing
first_operations(SyncRun &run) {
	run.engine->step();
	run.collect();
	for (auto &o : run.pending)
		if (o.request.kind == RequestKind::Operations)
			return o;
	ADD_FAILURE() << "no operations request";
	return {};
}

Response
flip_a_byte(Response r) {
	r.operations[0][5] ^= 1;
	return r;
}

// A sync of 2000 operations just started, its first Operations request
// out, and the honest answer to it.
struct FirstRequest {
	Source src{2000};
	Target target = src.whole();
	SyncRun run{config(100, 4), target};
	Engine::Outgoing ops = first_operations(run);
	Response good = src.db.serve(ops.request);
};

} // namespace

TEST(RangeCheck, TheEngineGivesTheInputsOfItsRequest) {
	FirstRequest f;
	SyncRun &run = f.run;
	Engine::Outgoing &ops = f.ops;
	Target &target = f.target;
	std::optional<RangeCheck> check = run.engine->range_check(ops.id);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->start, ops.request.start);
	EXPECT_EQ(check->size, ops.request.size);
	EXPECT_EQ(check->root, target.root);
	EXPECT_FALSE(check->done);
	EXPECT_FALSE(run.engine->range_check(999999).has_value()) << "not outstanding";
	for (auto &o : run.pending) {
		if (o.request.kind == RequestKind::Boundary) {
			EXPECT_FALSE(run.engine->range_check(o.id).has_value()) << "boundaries are checked inline";
		}
	}
}

TEST(RangeCheck, AMatchingCheckDecides) {
	FirstRequest f;
	// Made against the right inputs but saying "bad": the engine takes its
	// word for it (so a check that ran is never redone).
	RangeCheck check = *f.run.engine->range_check(f.ops.id);
	check_range(f.good, check);
	ASSERT_TRUE(check.ok);
	check.ok = false;
	EXPECT_EQ(f.run.engine->deliver(f.ops.id, f.good, true, &check), Verdict::Rejected);
}

TEST(RangeCheck, AStaleCheckIsIgnored) {
	FirstRequest f;
	Engine &engine = *f.run.engine;
	RangeCheck wrong_root = *engine.range_check(f.ops.id);
	wrong_root.root[0] ^= 1; // as if the target had moved since
	check_range(f.good, wrong_root);
	EXPECT_FALSE(wrong_root.ok);
	EXPECT_EQ(engine.deliver(f.ops.id, f.good, true, &wrong_root), Verdict::Accepted) << "checked again inline";

	Engine::Outgoing next{};
	for (auto &o : f.run.pending)
		if (o.id != f.ops.id && engine.range_check(o.id))
			next = o;
	ASSERT_NE(next.id, 0u) << "another operations request outstanding";
	RangeCheck not_run = *engine.range_check(next.id);
	not_run.ok = false; // never ran (done is false): ignored
	EXPECT_EQ(engine.deliver(next.id, f.src.db.serve(next.request), true, &not_run), Verdict::Accepted);
}

TEST(RangeCheck, CatchesTamperedOperationsAndWrongShapes) {
	FirstRequest f;
	RangeCheck check = *f.run.engine->range_check(f.ops.id);
	check_range(flip_a_byte(f.good), check);
	EXPECT_TRUE(check.done);
	EXPECT_FALSE(check.ok);
	Response wrong_size = f.good;
	wrong_size.proof.leaves += 1;
	check_range(wrong_size, check);
	EXPECT_FALSE(check.ok);
	check_range(f.good, check);
	EXPECT_TRUE(check.ok);
	EXPECT_EQ(check.count, f.ops.request.max_ops);
}

TEST(VerifyAhead, ReturnsJobsInTheOrderGiven) {
	Source src(3000);
	SyncRun run(config(50, 8), src.whole());
	first_operations(run);
	std::vector<Engine::Outgoing> asked;
	for (auto &o : run.pending)
		if (o.request.kind == RequestKind::Operations)
			asked.push_back(o);
	ASSERT_GE(asked.size(), 3u);
	VerifyAhead ahead(fixed32_format());
	for (size_t i = 0; i < asked.size(); i++) {
		VerifyAhead::Job job;
		job.id = asked[i].id;
		job.max_ops = asked[i].request.max_ops;
		job.check = run.engine->range_check(asked[i].id);
		Response r = src.db.serve(asked[i].request);
		job.raw = encode_response(i == 1 ? flip_a_byte(r) : r);
		if (i == 2)
			job.raw.resize(job.raw.size() / 2); // cut short: does not decode
		ahead.submit(std::move(job));
	}
	EXPECT_EQ(ahead.pending(), asked.size());
	for (size_t i = 0; i < asked.size(); i++) {
		VerifyAhead::Job job = ahead.next();
		ASSERT_EQ(job.id, asked[i].id);
		if (i == 2) {
			ASSERT_TRUE(job.error);
			EXPECT_THROW(std::rethrow_exception(job.error), DecodeError);
			EXPECT_FALSE(job.response.has_value());
			continue;
		}
		ASSERT_FALSE(job.error);
		ASSERT_TRUE(job.response.has_value());
		ASSERT_TRUE(job.check && job.check->done);
		EXPECT_EQ(job.check->ok, i != 1) << i;
		EXPECT_EQ(job.response->operations.size(), asked[i].request.max_ops);
	}
	EXPECT_EQ(ahead.pending(), 0u);
}

TEST(VerifyAhead, AfterStopTheCallerDoesTheWork) {
	Source src(3000);
	SyncRun run(config(50, 8), src.whole());
	Engine::Outgoing ops = first_operations(run);
	VerifyAhead ahead(fixed32_format());
	ahead.stop();
	ahead.stop(); // again: nothing
	for (int i = 0; i < 5; i++) {
		VerifyAhead::Job job;
		job.id = static_cast<uint64_t>(i);
		job.max_ops = ops.request.max_ops;
		job.check = run.engine->range_check(ops.id);
		job.raw = encode_response(src.db.serve(ops.request));
		ahead.submit(std::move(job));
	}
	for (int i = 0; i < 5; i++) {
		VerifyAhead::Job job = ahead.next();
		EXPECT_EQ(job.id, static_cast<uint64_t>(i));
		EXPECT_TRUE(job.check->done && job.check->ok);
	}
}

TEST(VerifyAhead, LeftJobsDoNotHoldUpItsEnd) {
	Source src(3000);
	SyncRun run(config(50, 8), src.whole());
	Engine::Outgoing ops = first_operations(run);
	auto ahead = std::make_unique<VerifyAhead>(fixed32_format());
	for (int i = 0; i < 20; i++) {
		VerifyAhead::Job job;
		job.max_ops = ops.request.max_ops;
		job.check = run.engine->range_check(ops.id);
		job.raw = encode_response(src.db.serve(ops.request));
		ahead->submit(std::move(job));
	}
	ahead.reset(); // joins the helper after at most the job it is on
	SUCCEED();
}

// The worker's way end to end: every answer decoded and checked on the
// helper, delivered with its check, while the next ones are checked.
TEST(VerifyAhead, ASyncCheckedAheadEndsAsTheSource) {
	Source src(20000, 9);
	Target target = src.whole();
	SyncRun run(config(300, 6), target);
	VerifyAhead ahead(fixed32_format());
	uint64_t used = 0;
	for (int guard = 0; guard < 100000 && !run.engine->complete(); guard++) {
		StepResult r = run.engine->step();
		run.collect();
		if (r == StepResult::Complete)
			break;
		if (r == StepResult::Continue)
			continue;
		// Hand over every pending answer, then deliver them in order.
		std::vector<Engine::Outgoing> batch(run.pending.begin(), run.pending.end());
		run.pending.clear();
		for (auto &o : batch) {
			VerifyAhead::Job job;
			job.id = o.id;
			job.max_ops = o.request.max_ops;
			job.check = run.engine->range_check(o.id);
			job.raw = encode_response(src.db.serve(o.request));
			ahead.submit(std::move(job));
		}
		for (size_t i = 0; i < batch.size(); i++) {
			VerifyAhead::Job job = ahead.next();
			ASSERT_FALSE(job.error);
			used += job.check ? 1 : 0;
			EXPECT_EQ(run.engine->deliver(job.id, std::move(*job.response), false, job.check ? &*job.check : nullptr),
			          Verdict::Accepted);
		}
	}
	ASSERT_TRUE(run.engine->complete());
	EXPECT_EQ(run.engine->root(), target.root);
	EXPECT_GT(used, 20u);
	for (uint64_t loc = target.start; loc < target.end; loc++)
		ASSERT_EQ(run.journal.read(loc), src.db.op_bytes(loc)) << loc;
	for (uint64_t pos = location_to_position(target.start); pos < location_to_position(target.end); pos++) {
		std::optional<Digest> want = src.db.nodes().get(pos);
		if (want) {
			ASSERT_EQ(run.nodes.get(pos), want) << pos;
		}
	}
}

TEST(HelperQueue, WithoutTheCallerJobsRunOneAfterAnotherInOrder) {
	std::vector<int> ran; // touched by the helper only, while jobs are out
	HelperQueue<int> queue([&](int &job) { ran.push_back(job); }, false);
	for (int i = 0; i < 500; i++)
		queue.submit(i);
	for (int i = 0; i < 500; i++)
		EXPECT_EQ(queue.next(), i);
	EXPECT_EQ(ran.size(), 500u);
	for (int i = 0; i < 500; i++)
		ASSERT_EQ(ran[static_cast<size_t>(i)], i);
}

TEST(HelperQueue, StopAllLeavesTheWorkToTheCallers) {
	HelperQueue<int> a([](int &job) { job *= 2; }, false);
	HelperQueue<int> b([](int &job) { job += 1; }, true);
	stop_all_helper_queues(); // as a process exit callback does
	a.submit(21);
	b.submit(41);
	EXPECT_EQ(a.next(), 42);
	EXPECT_EQ(b.next(), 42);
}
