#include "memory_limit.h"

#include <cstdio>
#include <cstring>

namespace qmdb::pg {

int peer_memory_limit_kb = 1024 * 1024;

namespace {

// The process's data size now (VmData: what RLIMIT_DATA is checked
// against), in bytes; 0 if unknown.
unsigned long long
data_size() {
	FILE *f = std::fopen("/proc/self/status", "r");
	if (!f)
		return 0;
	char line[256];
	unsigned long long kb = 0;
	while (std::fgets(line, sizeof line, f))
		if (std::sscanf(line, "VmData: %llu kB", &kb) == 1)
			break;
	std::fclose(f);
	return kb * 1024;
}

// Lower the soft limit to what is used now plus `budget_kb`; never raise
// it past the current one. False if nothing was set.
bool
lower_limit(long long budget_kb, struct rlimit *old) {
	if (peer_memory_limit_kb <= 0 || getrlimit(RLIMIT_DATA, old) != 0)
		return false;
	unsigned long long used = data_size();
	if (used == 0)
		return false;
	rlim_t want = static_cast<rlim_t>(used + static_cast<unsigned long long>(budget_kb) * 1024);
	if (old->rlim_cur != RLIM_INFINITY && old->rlim_cur <= want)
		return false;
	struct rlimit lim = *old;
	lim.rlim_cur = want;
	return setrlimit(RLIMIT_DATA, &lim) == 0;
}

} // namespace

void
limit_process_memory(long extra_kb) {
	struct rlimit old;
	lower_limit(static_cast<long long>(peer_memory_limit_kb) + extra_kb, &old);
}

PeerMemoryLimit::PeerMemoryLimit() {
	set_ = lower_limit(peer_memory_limit_kb, &old_);
}

PeerMemoryLimit::~PeerMemoryLimit() {
	if (set_)
		setrlimit(RLIMIT_DATA, &old_);
}

} // namespace qmdb::pg
