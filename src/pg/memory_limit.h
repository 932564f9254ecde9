// A bound on what a peer can make this process allocate. libpq buffers a
// whole message (a DataRow, an error, a notice) before anything of ours
// sees it, and a peer chooses its size, up to a gigabyte. Left alone, a
// big enough message gets the process killed by the kernel's OOM killer,
// and PostgreSQL restarts every backend after that. With the process's
// data limit (RLIMIT_DATA: heap and private mappings, not shared memory)
// set a budget above what it uses now, the allocation fails instead:
// libpq reports "out of memory" for that connection, palloc raises an
// ERROR, and only the peer's connection (or the call) fails.
#pragma once

#include <sys/resource.h>

namespace qmdb::pg {

// qmdb.peer_memory_limit, in kB (0: no limit).
extern int peer_memory_limit_kb;

// For the sync worker, once: this process may grow by
// qmdb.peer_memory_limit plus `extra_kb` (its maintenance_work_mem).
void limit_process_memory(long extra_kb);

// For a backend's call that talks to a peer (qmdb.fetch_target): the
// limit holds until the object goes, then the old one is back.
class PeerMemoryLimit {
public:
	PeerMemoryLimit();
	~PeerMemoryLimit();
	PeerMemoryLimit(const PeerMemoryLimit &) = delete;
	PeerMemoryLimit &operator=(const PeerMemoryLimit &) = delete;

private:
	struct rlimit old_ {};
	bool set_ = false;
};

} // namespace qmdb::pg
