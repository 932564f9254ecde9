// Property test: against sources that corrupt bytes, reorder, duplicate,
// truncate, delay or drop responses, the engine either completes with the
// exact source root and journal or reports an error, and never holds an
// operation in its journal that differs from the source's.
#include "sync_harness.h"

using namespace qmdb;
using namespace qmdb::sync;
using namespace qmdb::test;

namespace {

enum class Fault { None, FlipByte, Truncate, Reorder, Duplicate, Delay, Drop, WrongRange, FakePins, Count };

struct Adversary {
	std::mt19937_64 rng;
	MemoryDb &db;
	OpFormat format;
	int fault_percent;

	// Answer `o` (possibly badly); returns what to deliver, or nullopt to drop.
	std::optional<Bytes> answer(const Request &r) {
		Bytes wire = encode_response(db.serve(r));
		if (static_cast<int>(rng() % 100) >= fault_percent)
			return wire;
		switch (static_cast<Fault>(rng() % static_cast<int>(Fault::Count))) {
		case Fault::FlipByte:
			wire[rng() % wire.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
			return wire;
		case Fault::Truncate: {
			Response resp = db.serve(r);
			if (resp.operations.size() > 1)
				resp.operations.pop_back();
			else
				resp.proof.digests.clear();
			return encode_response(resp);
		}
		case Fault::WrongRange: {
			uint64_t other = rng() % db.size();
			if (other >= db.pruning_boundary() && other < r.size)
				return encode_response(db.serve({r.kind, r.size, other, r.max_ops}));
			return wire;
		}
		case Fault::FakePins: {
			Response resp = db.serve(r);
			if (!resp.pinned_nodes.empty())
				resp.pinned_nodes[rng() % resp.pinned_nodes.size()][rng() % 32] ^= 1;
			return encode_response(resp);
		}
		case Fault::Drop:
			return std::nullopt;
		default: // Reorder, Duplicate and Delay act on delivery order
			return wire;
		}
	}
};

struct Outcome {
	bool complete = false;
	bool failed = false;
	Progress progress;
};

Outcome
run_seed(uint32_t seed) {
	std::mt19937_64 rng(seed);
	MemoryDb db(fixed32_format());
	grow_db(db, 40 + rng() % 300, seed);
	Target target = db.target();
	if (rng() % 2)
		db.prune(target.start);
	uint64_t batch = 1 + rng() % 24;
	uint64_t outstanding = 1 + rng() % 5;
	bool explicit_finish = rng() % 4 == 0;
	EngineConfig cfg = config(batch, outstanding, explicit_finish);
	SyncRun run(cfg, target);
	Adversary adv{std::mt19937_64(seed * 7919 + 1), db, fixed32_format(), static_cast<int>(10 + rng() % 60)};
	bool updated = false;
	std::vector<std::pair<uint64_t, Bytes>> held; // delayed or duplicated deliveries

	auto check_journal = [&] {
		for (uint64_t loc = run.journal.start(); loc < run.journal.size(); loc++)
			if (run.journal.read(loc) != db.op_bytes(loc)) {
				ADD_FAILURE() << "seed " << seed << ": journal holds a foreign operation at " << loc;
				return false;
			}
		return true;
	};
	auto deliver = [&](uint64_t id, const Request &req, const Bytes &wire) {
		try {
			Response resp = decode_response(wire, req.max_ops, fixed32_format());
			run.engine->deliver(id, resp, true);
		} catch (const DecodeError &) {
			run.engine->retry(id); // the peer layer drops undecodable answers
		}
	};

	try {
		for (int events = 0; events < 20000; events++) {
			StepResult r = run.engine->step();
			run.collect();
			if (!check_journal())
				return {false, true, {}};
			if (r == StepResult::Complete) {
				if (run.engine->root() != run.engine->target().root)
					ADD_FAILURE() << "seed " << seed << ": completed with a wrong root";
				if (!check_journal() || run.journal.size() != run.engine->target().end)
					ADD_FAILURE() << "seed " << seed << ": incomplete journal";
				return {true, false, run.engine->progress()};
			}
			if (r == StepResult::Continue)
				continue;
			// Sometimes the source moves on and the target follows.
			if (!updated && rng() % 50 == 0 && run.journal.size() > target.start) {
				grow_db(db, db.size() + 1 + rng() % 80, seed + 1);
				run.engine->update_target(db.target());
				updated = true;
				continue;
			}
			if (cfg.explicit_finish && run.engine->progress().at_target) {
				run.engine->finish();
				continue;
			}
			if (!held.empty() && (run.pending.empty() || rng() % 4 == 0)) {
				// A late or repeated delivery, for an id that may be long gone.
				auto h = held.back();
				held.pop_back();
				try {
					run.engine->deliver(h.first, decode_response(h.second, UINT32_MAX, fixed32_format()), true);
				} catch (const DecodeError &) {
				}
				continue;
			}
			if (run.pending.empty()) {
				ADD_FAILURE() << "seed " << seed << ": idle with nothing pending";
				return {false, true, {}};
			}
			// Reorder: answer any pending request, not only the oldest.
			size_t pick = rng() % 3 == 0 ? rng() % run.pending.size() : 0;
			auto o = run.pending[pick];
			run.pending.erase(run.pending.begin() + static_cast<std::ptrdiff_t>(pick));
			auto wire = adv.answer(o.request);
			if (!wire) {
				run.engine->retry(o.id); // dropped: the request times out
				continue;
			}
			int what = static_cast<int>(rng() % 10);
			if (what == 0) { // delay: deliver later, the engine retries meanwhile
				held.emplace_back(o.id, *wire);
				run.engine->retry(o.id);
			} else {
				deliver(o.id, o.request, *wire);
				if (what == 1) // duplicate
					held.emplace_back(o.id, *wire);
			}
		}
	} catch (const EngineError &e) {
		// Allowed only for reasons an honest-but-slow world can produce.
		ADD_FAILURE() << "seed " << seed << ": " << e.what();
		return {false, true, {}};
	}
	ADD_FAILURE() << "seed " << seed << ": did not finish";
	return {false, true, {}};
}

} // namespace

TEST(EngineAdversarial, ThreeThousandSeeds) {
	int complete = 0;
	uint64_t rejected = 0, stale = 0, updates = 0;
	for (uint32_t seed = 0; seed < 3000; seed++) {
		Outcome o = run_seed(seed);
		complete += o.complete;
		rejected += o.progress.responses_rejected;
		stale += o.progress.responses_stale;
		updates += o.progress.target_updates;
		if (HasFailure())
			break;
	}
	// With feedback every bad response is retried elsewhere: all complete.
	EXPECT_EQ(complete, 3000);
	// The faults really happened.
	EXPECT_GT(rejected, 1000u);
	EXPECT_GT(stale, 1000u);
	EXPECT_GT(updates, 100u);
	RecordProperty("rejected", static_cast<int>(rejected));
}
