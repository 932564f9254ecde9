#include "job_registry.h"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
}

namespace qmdb::pg {

namespace {

struct Entry {
	Oid dboid; // InvalidOid: free
	int32 job_id;
	int pid;
};

struct Registry {
	slock_t mutex;
	Entry entries[JOB_REGISTRY_SIZE];
};

Registry *registry = nullptr;
shmem_request_hook_type previous_request = nullptr;
shmem_startup_hook_type previous_startup = nullptr;

void
request_memory() {
	if (previous_request)
		previous_request();
	RequestAddinShmemSpace(sizeof(Registry));
}

void
attach_memory() {
	if (previous_startup)
		previous_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	bool found = false;
	registry = static_cast<Registry *>(ShmemInitStruct("qmdb job registry", sizeof(Registry), &found));
	if (!found) {
		SpinLockInit(&registry->mutex);
		for (Entry &e : registry->entries)
			e = {InvalidOid, 0, 0};
	}
	LWLockRelease(AddinShmemInitLock);
}

Entry *
find(Oid dboid, int32 job_id) {
	for (Entry &e : registry->entries)
		if (e.dboid == dboid && e.job_id == job_id)
			return &e;
	return nullptr;
}

} // namespace

void
request_job_registry() {
	previous_request = shmem_request_hook;
	shmem_request_hook = request_memory;
	previous_startup = shmem_startup_hook;
	shmem_startup_hook = attach_memory;
}

bool
job_registry_available() {
	return registry != nullptr;
}

bool
registry_add(Oid dboid, int32 job_id) {
	if (!registry)
		return false;
	bool ok = true;
	SpinLockAcquire(&registry->mutex);
	if (!find(dboid, job_id)) {
		Entry *free_entry = find(InvalidOid, 0);
		if (free_entry)
			*free_entry = {dboid, job_id, 0};
		else
			ok = false;
	}
	SpinLockRelease(&registry->mutex);
	return ok;
}

void
registry_remove(Oid dboid, int32 job_id) {
	if (!registry)
		return;
	SpinLockAcquire(&registry->mutex);
	if (Entry *e = find(dboid, job_id))
		*e = {InvalidOid, 0, 0};
	SpinLockRelease(&registry->mutex);
}

void
registry_set_worker(Oid dboid, int32 job_id, int pid) {
	if (!registry)
		return;
	SpinLockAcquire(&registry->mutex);
	if (Entry *e = find(dboid, job_id))
		e->pid = pid;
	SpinLockRelease(&registry->mutex);
}

void
registry_clear_worker(Oid dboid, int32 job_id, int pid) {
	if (!registry)
		return;
	SpinLockAcquire(&registry->mutex);
	if (Entry *e = find(dboid, job_id); e && e->pid == pid)
		e->pid = 0;
	SpinLockRelease(&registry->mutex);
}

int
registry_snapshot(RegisteredJob *out, int max) {
	if (!registry)
		return 0;
	int n = 0;
	SpinLockAcquire(&registry->mutex);
	for (const Entry &e : registry->entries)
		if (e.dboid != InvalidOid && n < max)
			out[n++] = {e.dboid, e.job_id, e.pid};
	SpinLockRelease(&registry->mutex);
	return n;
}

void
registry_forget_database(Oid dboid) {
	if (!registry)
		return;
	SpinLockAcquire(&registry->mutex);
	for (Entry &e : registry->entries)
		if (e.dboid == dboid)
			e = {InvalidOid, 0, 0};
	SpinLockRelease(&registry->mutex);
}

} // namespace qmdb::pg
