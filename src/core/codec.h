// The primitive codecs of commonware's wire format: varint (unsigned LEB128),
// be8 (8-byte big-endian u64), raw bytes, and the Vec length prefix
// (varint of a u32). Reader never reads past its input.
#pragma once

#include "bytes.h"
#include "error.h"

namespace qmdb {

class Writer {
public:
	Writer() = default;
	explicit Writer(size_t reserve) { out_.reserve(reserve); }
	// Writes into [buffer, buffer + capacity) instead of bytes of its own
	// (the caller's memory, e.g. a bytea to return); Error(Internal) if
	// more is written.
	Writer(uint8_t *buffer, size_t capacity) : into_(buffer), capacity_(capacity) {}

	void u8(uint8_t v) { put(&v, 1); }
	void be8(uint64_t v);
	void varint(uint64_t v);
	void raw(ByteView b) { put(b.data, b.size); }
	void zeros(size_t n);
	// A Vec length: usize is written as varint(u32) upstream.
	void length(size_t n);

	// Bytes written so far.
	size_t size() const { return into_ ? used_ : out_.size(); }
	const Bytes &bytes() const { return out_; }
	Bytes take() { return std::move(out_); }

private:
	void put(const uint8_t *p, size_t n);

	Bytes out_;
	uint8_t *into_ = nullptr;
	size_t capacity_ = 0, used_ = 0;
};

class Reader {
public:
	explicit Reader(ByteView input) : in_(input) {}

	uint8_t u8();
	uint64_t be8();
	// Canonical LEB128 only: an encoding with a redundant trailing zero group,
	// or one that overflows 64 bits, is rejected. We never write such bytes and
	// accepting them would let a peer send many encodings of one message.
	uint64_t varint();
	// A Vec length prefix, checked against `max` before anything is allocated.
	size_t length(size_t max, const char *what);
	ByteView raw(size_t n);
	Digest digest();
	// Fails with ExtraData unless every byte was consumed.
	void finish(const char *what) const;

	size_t remaining() const { return in_.size - pos_; }
	size_t position() const { return pos_; }

private:
	void need(size_t n) const;

	ByteView in_;
	size_t pos_ = 0;
};

size_t varint_size(uint64_t v);
uint64_t read_be8(const uint8_t *p);
void write_be8(uint8_t *p, uint64_t v);

} // namespace qmdb
