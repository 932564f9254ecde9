#include "quiet_thread.h"

#include <pthread.h>
#include <signal.h>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

std::thread
start_quiet_thread(std::function<void()> body) {
	// A new thread inherits the mask in force when it is created.
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	std::thread t;
	try {
		t = std::thread(std::move(body));
	} catch (...) {
		pthread_sigmask(SIG_SETMASK, &old, nullptr);
		throw;
	}
	pthread_sigmask(SIG_SETMASK, &old, nullptr);
	return t;
}

} // namespace qmdb
