// Byte strings and views shared by the codecs, hashing and storage.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace qmdb {

using Bytes = std::vector<uint8_t>;
using Digest = std::array<uint8_t, 32>;

// A non-owning view of contiguous bytes (std::span is C++20).
struct ByteView {
	const uint8_t *data = nullptr;
	size_t size = 0;

	ByteView() = default;
	ByteView(const uint8_t *d, size_t n) : data(d), size(n) {}
	ByteView(const Bytes &b) : data(b.data()), size(b.size()) {}
	ByteView(const Digest &d) : data(d.data()), size(d.size()) {}

	bool empty() const { return size == 0; }
	const uint8_t *begin() const { return data; }
	const uint8_t *end() const { return data + size; }
	uint8_t operator[](size_t i) const { return data[i]; }
	Bytes to_bytes() const { return Bytes(begin(), end()); }
};

inline bool
operator==(ByteView a, ByteView b) {
	if (a.size != b.size)
		return false;
	for (size_t i = 0; i < a.size; i++)
		if (a.data[i] != b.data[i])
			return false;
	return true;
}
inline bool
operator!=(ByteView a, ByteView b) {
	return !(a == b);
}

std::string to_hex(ByteView bytes);
// Throws Error(InvalidArgument) on odd length or a non-hex character.
Bytes from_hex(const std::string &hex);
// Throws unless hex is exactly 64 hex characters.
Digest digest_from_hex(const std::string &hex);

} // namespace qmdb
