#include "connector.h"

#include "../pg_headers.h"

extern "C" {
#include "storage/ipc.h"
}

#include "core/quiet_thread.h"

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <poll.h>
#include <system_error>
#include <thread>
#include <unistd.h>

namespace qmdb::pg {

namespace {

std::atomic<int> running_threads{0};

} // namespace

struct Connector::Shared {
	std::mutex mutex;
	pg_conn *conn = nullptr;
	std::atomic<int> result{static_cast<int>(Result::Running)};
	bool abandoned = false; // under mutex
	bool finished = false;  // under mutex
	int pipe_fd[2] = {-1, -1};
	~Shared() {
		for (int fd : pipe_fd)
			if (fd >= 0)
				close(fd);
	}
};

namespace {

// The thread: drive PQconnectPoll, waiting on the socket between steps,
// until the connection is made or fails, or the caller gives up.
void
connect_main(std::shared_ptr<Connector::Shared> s) {
	Connector::Result r = Connector::Result::Failed;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	for (;;) {
		{
			std::lock_guard<std::mutex> lock(s->mutex);
			if (s->abandoned)
				break;
		}
		if (st == PGRES_POLLING_OK) {
			r = Connector::Result::Connected;
			break;
		}
		if (st == PGRES_POLLING_FAILED)
			break;
		struct pollfd p = {PQsocket(s->conn), static_cast<short>(st == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0};
		(void)poll(&p, 1, 100); // a tenth of a second: how soon giving up is seen between steps
		st = PQconnectPoll(s->conn);
	}
	{
		std::lock_guard<std::mutex> lock(s->mutex);
		s->result = static_cast<int>(r);
		s->finished = true;
		if (s->abandoned) {
			PQfinish(s->conn);
			s->conn = nullptr;
		}
	}
	char byte = 1;
	(void)!write(s->pipe_fd[1], &byte, 1);
	running_threads--;
}

} // namespace

Connector::Connector(pg_conn *conn) : shared_(std::make_shared<Shared>()) {
	shared_->conn = conn;
	if (pipe(shared_->pipe_fd) != 0) {
		inline_ = true;
		inline_conn_ = conn;
		shared_->conn = nullptr;
		return;
	}
	running_threads++;
	try {
		start_quiet_thread([s = shared_] { connect_main(s); }).detach();
	} catch (const std::system_error &) {
		running_threads--;
		inline_ = true; // no thread: the caller's thread connects, as libpq would
		inline_conn_ = conn;
		shared_->conn = nullptr;
	}
}

Connector::~Connector() {
	if (inline_) {
		if (inline_conn_)
			PQfinish(inline_conn_);
		return;
	}
	std::lock_guard<std::mutex> lock(shared_->mutex);
	shared_->abandoned = true;
	if (shared_->finished && shared_->conn) {
		PQfinish(shared_->conn);
		shared_->conn = nullptr;
	}
}

Connector::Result
Connector::result() {
	if (inline_) {
		switch (PQconnectPoll(inline_conn_)) {
		case PGRES_POLLING_OK:
			return Result::Connected;
		case PGRES_POLLING_FAILED:
			return Result::Failed;
		default:
			return Result::Running;
		}
	}
	return static_cast<Result>(shared_->result.load());
}

pg_conn *
Connector::take() {
	if (inline_) {
		pg_conn *c = inline_conn_;
		inline_conn_ = nullptr;
		return c;
	}
	std::lock_guard<std::mutex> lock(shared_->mutex);
	if (!shared_->finished)
		return nullptr;
	pg_conn *c = shared_->conn;
	shared_->conn = nullptr;
	return c;
}

int
Connector::wake_fd() const {
	if (inline_)
		return inline_conn_ ? PQsocket(inline_conn_) : -1;
	return shared_->pipe_fd[0];
}

bool
connectors_finished(int wait_ms) {
	auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
	while (running_threads.load() > 0) {
		if (std::chrono::steady_clock::now() >= until)
			return false;
		std::this_thread::sleep_for(std::chrono::milliseconds(5));
	}
	return true;
}

namespace {

void
end_under_connectors(int code, Datum) {
	if (!connectors_finished(100))
		_exit(code);
}

} // namespace

void
guard_connectors_at_exit() {
	static bool registered = false;
	if (registered)
		return;
	registered = true;
	on_proc_exit(end_under_connectors, 0);
}

} // namespace qmdb::pg
