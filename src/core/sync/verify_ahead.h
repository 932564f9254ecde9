// Decoding and proof-checking responses on a helper thread while the
// caller stores the ones before them: a sync's fetch spends about a third
// of its time hashing, and the storing (PostgreSQL's side) cannot leave
// the caller's thread. Responses come back in the order they went in.
//
// The helper runs only pure computation on the jobs it is given (decode
// and check_range): no shared state, no PostgreSQL, no I/O. It is a
// quiet_thread: signals keep going to the caller's thread.
// The caller runs a job itself when the helper has not begun it, so
// next() never waits on work nobody is doing.
#pragma once

#include "../bytes.h"
#include "../operation.h"
#include "../wire.h"
#include "engine.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

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

	explicit VerifyAhead(const OpFormat &format);
	~VerifyAhead(); // stops the helper (after the job it is on, if any)
	VerifyAhead(const VerifyAhead &) = delete;
	VerifyAhead &operator=(const VerifyAhead &) = delete;

	void submit(Job job);
	// The oldest job submitted, done (its `error` not rethrown). Precondition: pending() > 0.
	Job next();
	size_t pending() const;
	// Stop and join the helper now (idempotent); later jobs run in next().
	// For a process about to exit without unwinding (PostgreSQL's FATAL).
	void stop();

private:
	enum class Stage { Queued, Running, Done };
	struct Entry {
		Job job;
		Stage stage = Stage::Queued;
	};

	void run(Job &job) const;
	void helper_main();

	OpFormat format_;
	mutable std::mutex mutex_;
	std::condition_variable wake_helper_, job_done_;
	std::deque<std::unique_ptr<Entry>> jobs_; // submission order
	bool stopping_ = false;
	std::thread helper_;
};

} // namespace qmdb::sync
