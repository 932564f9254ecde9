#include "big_memory.h"

#include <cstdint>
#include <cstdlib>
#include <sys/mman.h>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

namespace {

// Below this, malloc's own pages serve as well.
constexpr size_t MAPPED_FROM = size_t(1) << 20;

size_t
mapped_size(size_t bytes) {
	return (bytes + BIG_PAGE - 1) / BIG_PAGE * BIG_PAGE;
}

} // namespace

void *
big_alloc(size_t bytes) {
	if (bytes < MAPPED_FROM) {
		void *p = std::malloc(bytes ? bytes : 1);
		if (!p)
			throw std::bad_alloc();
		return p;
	}
	// Map a huge page more than needed and trim both ends: the kernel
	// backs only whole, aligned 2 MiB ranges with a huge page.
	size_t size = mapped_size(bytes);
	void *raw = mmap(nullptr, size + BIG_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		throw std::bad_alloc();
	uintptr_t start = reinterpret_cast<uintptr_t>(raw);
	uintptr_t aligned = (start + BIG_PAGE - 1) / BIG_PAGE * BIG_PAGE;
	if (aligned > start)
		munmap(raw, aligned - start);
	size_t tail = start + size + BIG_PAGE - (aligned + size);
	if (tail)
		munmap(reinterpret_cast<void *>(aligned + size), tail);
	void *p = reinterpret_cast<void *>(aligned);
	madvise(p, size, MADV_HUGEPAGE); // a hint: failure only costs speed
	return p;
}

void
big_free(void *p, size_t bytes) noexcept {
	if (!p)
		return;
	if (bytes < MAPPED_FROM)
		std::free(p);
	else
		munmap(p, mapped_size(bytes));
}

} // namespace qmdb
