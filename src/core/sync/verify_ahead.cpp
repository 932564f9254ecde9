#include "verify_ahead.h"

#include "../quiet_thread.h"

#include "../core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb::sync {

VerifyAhead::VerifyAhead(const OpFormat &format) : format_(format) {
	helper_ = start_quiet_thread([this] { helper_main(); });
}

VerifyAhead::~VerifyAhead() {
	stop();
}

void
VerifyAhead::stop() {
	{
		std::lock_guard<std::mutex> lock(mutex_);
		stopping_ = true;
	}
	wake_helper_.notify_all();
	if (helper_.joinable())
		helper_.join();
}

void
VerifyAhead::submit(Job job) {
	auto entry = std::make_unique<Entry>();
	entry->job = std::move(job);
	{
		std::lock_guard<std::mutex> lock(mutex_);
		jobs_.push_back(std::move(entry));
	}
	wake_helper_.notify_one();
}

size_t
VerifyAhead::pending() const {
	std::lock_guard<std::mutex> lock(mutex_);
	return jobs_.size();
}

VerifyAhead::Job
VerifyAhead::next() {
	std::unique_lock<std::mutex> lock(mutex_);
	Entry &front = *jobs_.front();
	if (front.stage == Stage::Queued) {
		// Not begun: do it here rather than wait for the helper to reach it.
		front.stage = Stage::Running;
		lock.unlock();
		run(front.job);
		lock.lock();
		front.stage = Stage::Done;
	}
	job_done_.wait(lock, [&] { return front.stage == Stage::Done; });
	Job job = std::move(front.job);
	jobs_.pop_front();
	return job;
}

void
VerifyAhead::run(Job &job) const {
	try {
		Response response = decode_response(job.raw, job.max_ops, format_);
		job.raw = Bytes(); // the operations are copied out
		if (job.check) {
			try {
				check_range(response, *job.check);
			} catch (...) {
				job.check.reset(); // deliver() checks it again and reports what it finds
			}
		}
		job.response = std::move(response);
	} catch (...) {
		job.error = std::current_exception();
	}
}

void
VerifyAhead::helper_main() {
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
		run(todo->job);
		lock.lock();
		todo->stage = Stage::Done;
		job_done_.notify_all();
	}
}

} // namespace qmdb::sync
