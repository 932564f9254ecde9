#include "helper_queue.h"

#include <set>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

namespace {

std::mutex registry_mutex;
std::set<HelperQueueBase *> &
registry() {
	static std::set<HelperQueueBase *> live;
	return live;
}

} // namespace

void
detail::register_helper_queue(HelperQueueBase *q) {
	std::lock_guard<std::mutex> lock(registry_mutex);
	registry().insert(q);
}

void
detail::unregister_helper_queue(HelperQueueBase *q) {
	std::lock_guard<std::mutex> lock(registry_mutex);
	registry().erase(q);
}

void
stop_all_helper_queues() {
	std::lock_guard<std::mutex> lock(registry_mutex);
	for (HelperQueueBase *q : registry())
		q->stop();
}

} // namespace qmdb
