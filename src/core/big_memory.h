// Memory for big tables filled once (a rebuild's key set: tens of MiB).
// Mapped directly, 2 MiB aligned and marked for transparent huge pages,
// so filling it takes a page fault per 2 MiB rather than per 4 KiB; on a
// virtual machine a fault costs microseconds, and a million-key set took
// some twenty thousand of them. Small requests go to malloc. Where huge
// pages are off, the hint does nothing and the memory works as usual.
#pragma once

#include <cstddef>
#include <new>

namespace qmdb {

constexpr size_t BIG_PAGE = size_t(2) << 20;

// Throws std::bad_alloc. big_free needs the size big_alloc was given.
void *big_alloc(size_t bytes);
void big_free(void *p, size_t bytes) noexcept;

// For std::vector and friends.
template <class T> struct BigAllocator {
	using value_type = T;
	BigAllocator() = default;
	template <class U> BigAllocator(const BigAllocator<U> &) {}
	T *allocate(size_t n) { return static_cast<T *>(big_alloc(n * sizeof(T))); }
	void deallocate(T *p, size_t n) noexcept { big_free(p, n * sizeof(T)); }
	template <class U> bool operator==(const BigAllocator<U> &) const { return true; }
	template <class U> bool operator!=(const BigAllocator<U> &) const { return false; }
};

} // namespace qmdb
