// Decoding and proof-checking responses on a helper thread while the
// caller stores the ones before them: a sync's fetch spends about a third
// of its time hashing, and the storing (PostgreSQL's side) cannot leave
// the caller's thread. Responses come back in the order they went in; the
// caller runs a job itself when the helper has not begun it, so next()
// never waits on work nobody is doing (see helper_queue.h).
#pragma once

#include "../bytes.h"
#include "../helper_queue.h"
#include "../operation.h"
#include "../wire.h"
#include "engine.h"

#include <exception>
#include <optional>

namespace qmdb::sync {

class VerifyAhead {
public:
	struct Job {
		uint64_t id = 0;
		Bytes raw;                       // the response as received
		uint64_t max_ops = 1;            // what the request asked for (decode_response's cap)
		std::optional<RangeCheck> check; // inputs from Engine::range_check(), if any
		// Results: the decoded response with `check` done, or the error
		// decoding threw (a DecodeError for a malformed response).
		std::optional<Response> response;
		std::exception_ptr error;
	};

	explicit VerifyAhead(const OpFormat &format) : format_(format), queue_([this](Job &job) { run(job); }, true) {}

	void submit(Job job) { queue_.submit(std::move(job)); }
	// The oldest job submitted, done (its `error` not rethrown). Precondition: pending() > 0.
	Job next() { return queue_.next(); }
	size_t pending() const { return queue_.pending(); }
	// Stop the helper now (idempotent); later jobs run in next().
	void stop() { queue_.stop(); }

private:
	void run(Job &job) const;

	OpFormat format_;
	HelperQueue<Job> queue_;
};

} // namespace qmdb::sync
