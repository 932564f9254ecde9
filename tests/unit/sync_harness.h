// Drives a sync Engine against in-memory sources, the way the PostgreSQL
// worker drives it against peers: take requests, answer them, deliver.
#pragma once

#include "core/memory_db.h"
#include "core/sync/engine.h"
#include "helpers.h"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <random>

namespace qmdb::test {

// A database of at least `n` operations: random updates and deletes over a
// small key space, committed in batches (like upstream's create_ops + commit).
inline void
grow_db(MemoryDb &db, uint64_t n, uint64_t seed) {
	std::mt19937_64 rng(seed);
	while (db.size() < n) {
		Mutations m;
		int writes = 1 + static_cast<int>(rng() % 8);
		for (int i = 0; i < writes; i++) {
			Bytes k = bytes_of(to_digest(rng() % 64));
			if (rng() % 5 == 0)
				m[k] = std::nullopt;
			else
				m[k] = bytes_of(to_val(rng(), seed));
		}
		db.apply_batch(m);
	}
}

// A source database of at least n operations. target(): its canonical
// target, pruned to its sync boundary (the floor), [floor, size); whole():
// the whole journal, [0, size), for many Operations requests at once.
struct Source {
	MemoryDb db{fixed32_format()};
	explicit Source(uint64_t n, uint64_t seed = 1) { grow_db(db, n, seed); }
	Target target() { return db.target(); }
	Target whole() { return Target{db.root(), 0, db.size()}; }
};

// An answer to a request: a response, or the source's failure.
struct Answer {
	std::optional<Response> response;
	bool retry = false; // the source gave up (timeout): engine.retry
};

using SourceFn = std::function<Answer(const Request &)>;

inline SourceFn
honest(MemoryDb &db) {
	return [&db](const Request &r) { return Answer{db.serve(r), false}; };
}

struct SyncRun {
	sync::MemoryJournal journal;
	MemoryNodeStore nodes;
	std::unique_ptr<sync::Engine> engine;
	std::deque<sync::Engine::Outgoing> pending;
	std::vector<Request> sent;
	std::vector<Target> reached;
	std::vector<sync::Verdict> verdicts;
	bool feedback = true;

	SyncRun(const sync::EngineConfig &config, const Target &target, sync::MemoryJournal existing = {},
	        sync::LocalPins pins = {}) {
		journal = sync::MemoryJournal::open(std::move(existing), target.start, target.end);
		engine = std::make_unique<sync::Engine>(config, journal, nodes, target, std::move(pins));
	}

	void collect() {
		for (auto &o : engine->take_requests()) {
			sent.push_back(o.request);
			pending.push_back(o);
		}
		for (uint64_t id : engine->take_cancelled())
			for (auto it = pending.begin(); it != pending.end(); ++it)
				if (it->id == id) {
					pending.erase(it);
					break;
				}
		for (auto &t : engine->take_reached())
			reached.push_back(t);
	}

	// Answer the oldest pending request.
	void answer_one(const SourceFn &source) {
		auto o = pending.front();
		pending.pop_front();
		Answer a = source(o.request);
		if (a.response)
			verdicts.push_back(engine->deliver(o.id, *a.response, feedback));
		else
			engine->retry(o.id);
	}

	// Step until complete; `between` runs before each answer (for updates).
	sync::StepResult run(const SourceFn &source, size_t max_events = 1000000,
	                     const std::function<void(SyncRun &)> &between = {}) {
		for (size_t i = 0; i < max_events; i++) {
			sync::StepResult r = engine->step();
			collect();
			if (r == sync::StepResult::Complete)
				return r;
			if (r == sync::StepResult::Continue)
				continue;
			if (between)
				between(*this);
			if (pending.empty()) {
				if (engine->step() != sync::StepResult::Idle)
					continue;
				collect();
				if (pending.empty())
					return sync::StepResult::Idle;
			}
			answer_one(source);
		}
		ADD_FAILURE() << "sync did not finish";
		return sync::StepResult::Idle;
	}

	std::vector<Bytes> journal_ops(uint64_t from) const {
		std::vector<Bytes> out;
		for (uint64_t l = from; l < journal.size(); l++)
			out.push_back(journal.read(l));
		return out;
	}
};

inline sync::EngineConfig
config(uint64_t batch, uint64_t outstanding = 1, bool explicit_finish = false) {
	sync::EngineConfig c;
	c.format = fixed32_format();
	c.fetch_batch_size = batch;
	c.max_outstanding_requests = outstanding;
	c.explicit_finish = explicit_finish;
	return c;
}

} // namespace qmdb::test
