#include "codec.h"

#include <cstring>
#include <string>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

uint64_t
read_be8(const uint8_t *p) {
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void
write_be8(uint8_t *p, uint64_t v) {
	for (int i = 7; i >= 0; i--) {
		p[i] = static_cast<uint8_t>(v);
		v >>= 8;
	}
}

size_t
varint_size(uint64_t v) {
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

void
Writer::put(const uint8_t *p, size_t n) {
	if (!into_) {
		out_.insert(out_.end(), p, p + n);
		return;
	}
	if (n > capacity_ - used_)
		throw Error(ErrorCode::Internal, "encoding overran its buffer of " + std::to_string(capacity_) + " bytes");
	if (n)
		std::memcpy(into_ + used_, p, n);
	used_ += n;
}

void
Writer::be8(uint64_t v) {
	uint8_t b[8];
	write_be8(b, v);
	put(b, 8);
}

void
Writer::varint(uint64_t v) {
	uint8_t b[10];
	size_t n = 0;
	while (v >= 0x80) {
		b[n++] = static_cast<uint8_t>(v) | 0x80;
		v >>= 7;
	}
	b[n++] = static_cast<uint8_t>(v);
	put(b, n);
}

void
Writer::zeros(size_t n) {
	static const uint8_t none[64] = {};
	for (size_t left = n; left > 0;) {
		size_t k = left < sizeof none ? left : sizeof none;
		put(none, k);
		left -= k;
	}
}

void
Writer::length(size_t n) {
	if (n > UINT32_MAX)
		throw Error(ErrorCode::InvalidArgument, "vector too long to encode");
	varint(n);
}

void
Reader::need(size_t n) const {
	if (remaining() < n)
		throw DecodeError(DecodeErrorKind::EndOfBuffer,
		                  "need " + std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left");
}

uint8_t
Reader::u8() {
	need(1);
	return in_.data[pos_++];
}

uint64_t
Reader::be8() {
	need(8);
	uint64_t v = read_be8(in_.data + pos_);
	pos_ += 8;
	return v;
}

uint64_t
Reader::varint() {
	uint64_t result = 0;
	for (unsigned shift = 0;; shift += 7) {
		uint8_t byte = u8();
		uint64_t group = byte & 0x7f;
		if (shift == 63 && byte > 1)
			throw DecodeError(DecodeErrorKind::InvalidVarint, "varint overflows 64 bits");
		result |= group << shift;
		if ((byte & 0x80) == 0) {
			if (byte == 0 && shift > 0)
				throw DecodeError(DecodeErrorKind::InvalidVarint, "non-canonical varint");
			return result;
		}
		if (shift == 63)
			throw DecodeError(DecodeErrorKind::InvalidVarint, "varint longer than 10 bytes");
	}
}

size_t
Reader::length(size_t max, const char *what) {
	uint64_t n = varint();
	if (n > UINT32_MAX)
		throw DecodeError(DecodeErrorKind::InvalidVarint, std::string(what) + " length exceeds u32");
	if (n > max)
		throw DecodeError(DecodeErrorKind::InvalidLength,
		                  std::string(what) + " count " + std::to_string(n) + " exceeds cap " + std::to_string(max));
	return static_cast<size_t>(n);
}

ByteView
Reader::raw(size_t n) {
	need(n);
	ByteView v(in_.data + pos_, n);
	pos_ += n;
	return v;
}

Digest
Reader::digest() {
	ByteView v = raw(32);
	Digest d;
	std::memcpy(d.data(), v.data, 32);
	return d;
}

void
Reader::finish(const char *what) const {
	if (remaining() != 0)
		throw DecodeError(DecodeErrorKind::ExtraData,
		                  std::to_string(remaining()) + " bytes after a complete " + std::string(what));
}

} // namespace qmdb
