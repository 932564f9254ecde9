// Shared helpers for the unit tests: the spec's element and key recipes.
#pragma once

#include "core/codec.h"
#include "core/hash.h"
#include "core/operation.h"

#include <string>

namespace qmdb::test {

inline Bytes
be8_bytes(uint64_t v) {
	Bytes b(8);
	write_be8(b.data(), v);
	return b;
}

// to_digest(i) = SHA256(be8(i)) (spec §1.9.1 elements, writer §9 keys).
inline Digest
to_digest(uint64_t i) {
	Sha256 sha;
	return sha.hash(be8_bytes(i));
}

// to_val(i, s) = SHA256(be8(i) || be8(s+1)) (writer §9 values).
inline Digest
to_val(uint64_t i, uint64_t s) {
	Sha256 sha;
	Bytes a = be8_bytes(i), b = be8_bytes(s + 1);
	return sha.hash({a, b});
}

inline Bytes
bytes_of(const Digest &d) {
	return Bytes(d.begin(), d.end());
}

// commonware's Digest layout: fixed encoding, 32-byte keys and values.
inline OpFormat
fixed32_format() {
	OpFormat f;
	f.encoding = Encoding::Fixed;
	f.key_size = 32;
	f.value_size = 32;
	return f;
}

inline std::string
hex(const Digest &d) {
	return to_hex(d);
}

} // namespace qmdb::test
