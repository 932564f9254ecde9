// Jobs run on one helper thread while the caller goes on with its own
// work, handed back in the order they were submitted. The sync worker
// checks responses this way (VerifyAhead) while it stores earlier ones,
// and its rebuild finds each key's last write (FirstSightings) while it
// writes the rows found before.
//
// The helper is a quiet_thread (it never takes a signal) and must run only
// pure computation on its jobs. A job that must not run beside the
// caller's own use of the same memory is the caller's to order; with
// `caller_may_run`, next() runs a job the helper has not begun itself
// rather than wait (jobs are then independent of each other's order).
// Where no thread can be started, next() does every job itself.
//
// A PostgreSQL process that exits without unwinding (FATAL) must first
// stop every helper: stop_all_helper_queues(), from an exit callback.
#pragma once

#include "quiet_thread.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>

namespace qmdb {

class HelperQueueBase {
public:
	virtual ~HelperQueueBase() = default;
	// Stop and join the helper (idempotent); jobs left run in next().
	virtual void stop() = 0;
};

// Stop every live helper of this process (from a process-exit callback).
void stop_all_helper_queues();

namespace detail {
void register_helper_queue(HelperQueueBase *q);
void unregister_helper_queue(HelperQueueBase *q);
} // namespace detail

template <class Job> class HelperQueue final : public HelperQueueBase {
public:
	HelperQueue(std::function<void(Job &)> work, bool caller_may_run)
	    : work_(std::move(work)), caller_may_run_(caller_may_run) {
		try {
			helper_ = start_quiet_thread([this] { helper_main(); });
		} catch (const std::system_error &) {
			stopped_ = true; // no thread to be had: next() does every job itself
		}
		try {
			detail::register_helper_queue(this);
		} catch (...) {
			stop();
			throw;
		}
	}
	~HelperQueue() override {
		detail::unregister_helper_queue(this);
		stop();
	}
	HelperQueue(const HelperQueue &) = delete;
	HelperQueue &operator=(const HelperQueue &) = delete;

	void submit(Job job) {
		auto entry = std::make_unique<Entry>();
		entry->job = std::move(job);
		{
			std::lock_guard<std::mutex> lock(mutex_);
			jobs_.push_back(std::move(entry));
		}
		wake_helper_.notify_one();
	}

	// The oldest job submitted, done. Precondition: pending() > 0.
	Job next() {
		std::unique_lock<std::mutex> lock(mutex_);
		Entry &front = *jobs_.front();
		if (front.stage == Stage::Queued && (caller_may_run_ || stopped_)) {
			front.stage = Stage::Running;
			lock.unlock();
			work_(front.job);
			lock.lock();
			front.stage = Stage::Done;
		}
		job_done_.wait(lock, [&] { return front.stage == Stage::Done; });
		Job job = std::move(front.job);
		jobs_.pop_front();
		return job;
	}

	size_t pending() const {
		std::lock_guard<std::mutex> lock(mutex_);
		return jobs_.size();
	}

	void stop() override {
		{
			std::lock_guard<std::mutex> lock(mutex_);
			stopping_ = true;
		}
		wake_helper_.notify_all();
		if (helper_.joinable())
			helper_.join();
		std::lock_guard<std::mutex> lock(mutex_);
		stopped_ = true;
	}

private:
	enum class Stage { Queued, Running, Done };
	struct Entry {
		Job job;
		Stage stage = Stage::Queued;
	};

	void helper_main() {
		std::unique_lock<std::mutex> lock(mutex_);
		while (true) {
			Entry *todo = nullptr;
			wake_helper_.wait(lock, [&] {
				if (stopping_)
					return true;
				for (auto &e : jobs_)
					if (e->stage == Stage::Queued) {
						todo = e.get();
						return true;
					}
				return false;
			});
			if (!todo)
				return; // stopping, between jobs
			todo->stage = Stage::Running;
			lock.unlock();
			work_(todo->job);
			lock.lock();
			todo->stage = Stage::Done;
			job_done_.notify_all();
		}
	}

	std::function<void(Job &)> work_;
	bool caller_may_run_;
	mutable std::mutex mutex_;
	std::condition_variable wake_helper_, job_done_;
	std::deque<std::unique_ptr<Entry>> jobs_; // submission order
	bool stopping_ = false, stopped_ = false;
	std::thread helper_;
};

} // namespace qmdb
