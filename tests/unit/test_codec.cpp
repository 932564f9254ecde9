#include "core/codec.h"

#include <gtest/gtest.h>

using namespace qmdb;

static Bytes
varint_bytes(uint64_t v) {
	Writer w;
	w.varint(v);
	return w.take();
}

TEST(Varint, KnownEncodings) {
	EXPECT_EQ(to_hex(varint_bytes(0)), "00");
	EXPECT_EQ(to_hex(varint_bytes(1)), "01");
	EXPECT_EQ(to_hex(varint_bytes(127)), "7f");
	EXPECT_EQ(to_hex(varint_bytes(128)), "8001");
	EXPECT_EQ(to_hex(varint_bytes(300)), "ac02");
	EXPECT_EQ(to_hex(varint_bytes(UINT64_MAX)), "ffffffffffffffffff01");
}

TEST(Varint, RoundTripsAndSizes) {
	const uint64_t cases[] = {0,          1,          127,        128,         129,        0xff,
	                          0x3fff,     0x4000,     0x1fffff,   0xffffffff,  1ull << 62, (1ull << 63) - 1,
	                          1ull << 63, UINT64_MAX, 0x7f7f7f7f, 0x123456789a};
	for (uint64_t v : cases) {
		Bytes b = varint_bytes(v);
		EXPECT_EQ(b.size(), varint_size(v));
		Reader r(b);
		EXPECT_EQ(r.varint(), v);
		EXPECT_NO_THROW(r.finish("varint"));
	}
}

static DecodeErrorKind
varint_error(const std::string &hex) {
	Bytes b = from_hex(hex);
	Reader r(b);
	try {
		r.varint();
	} catch (const DecodeError &e) {
		return e.kind();
	}
	ADD_FAILURE() << hex << " decoded";
	return DecodeErrorKind::Invalid;
}

TEST(Varint, RejectsMalformed) {
	EXPECT_EQ(varint_error(""), DecodeErrorKind::EndOfBuffer);
	EXPECT_EQ(varint_error("80"), DecodeErrorKind::EndOfBuffer);
	EXPECT_EQ(varint_error("ffff"), DecodeErrorKind::EndOfBuffer);
	// Non-canonical: a redundant zero group.
	EXPECT_EQ(varint_error("8000"), DecodeErrorKind::InvalidVarint);
	EXPECT_EQ(varint_error("ff00"), DecodeErrorKind::InvalidVarint);
	// Beyond 64 bits.
	EXPECT_EQ(varint_error("ffffffffffffffffff02"), DecodeErrorKind::InvalidVarint);
	EXPECT_EQ(varint_error("ffffffffffffffffff81"), DecodeErrorKind::InvalidVarint);
	EXPECT_EQ(varint_error("ffffffffffffffffffff01"), DecodeErrorKind::InvalidVarint);
}

TEST(Be8, BigEndian) {
	Writer w;
	w.be8(0x0102030405060708ull);
	EXPECT_EQ(to_hex(w.bytes()), "0102030405060708");
	Reader r(w.bytes());
	EXPECT_EQ(r.be8(), 0x0102030405060708ull);
	Bytes short_input = from_hex("01020304");
	Reader r2(short_input);
	EXPECT_THROW(r2.be8(), DecodeError);
}

TEST(Reader, NeverReadsPastItsInput) {
	Bytes b = from_hex("0102");
	Reader r(b);
	EXPECT_THROW(r.raw(3), DecodeError);
	EXPECT_EQ(r.remaining(), 2u); // a failed read consumes nothing
	EXPECT_EQ(r.u8(), 1);
	EXPECT_THROW(r.digest(), DecodeError);
	EXPECT_THROW(r.finish("x"), DecodeError);
	EXPECT_EQ(r.u8(), 2);
	EXPECT_THROW(r.u8(), DecodeError);
	EXPECT_NO_THROW(r.finish("x"));
}

TEST(Reader, LengthCapCheckedBeforeAllocation) {
	Writer w;
	w.varint(1000);
	Reader r(w.bytes());
	try {
		r.length(999, "thing");
		FAIL();
	} catch (const DecodeError &e) {
		EXPECT_EQ(e.kind(), DecodeErrorKind::InvalidLength);
	}
	Writer big;
	big.varint(uint64_t(1) << 33);
	Reader r2(big.bytes());
	EXPECT_THROW(r2.length(SIZE_MAX, "thing"), DecodeError);
}

TEST(Hex, RoundTripAndErrors) {
	EXPECT_EQ(to_hex(from_hex("00ffAb")), "00ffab");
	EXPECT_THROW(from_hex("abc"), Error);
	EXPECT_THROW(from_hex("zz"), Error);
	EXPECT_THROW(digest_from_hex("00"), Error);
}
