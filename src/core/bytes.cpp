#include "bytes.h"

#include "error.h"

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

std::string
to_hex(ByteView bytes) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	out.reserve(bytes.size * 2);
	for (uint8_t b : bytes) {
		out.push_back(digits[b >> 4]);
		out.push_back(digits[b & 0xf]);
	}
	return out;
}

static int
hex_value(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

Bytes
from_hex(const std::string &hex) {
	if (hex.size() % 2 != 0)
		throw Error(ErrorCode::InvalidArgument, "hex string has odd length");
	Bytes out(hex.size() / 2);
	for (size_t i = 0; i < out.size(); i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			throw Error(ErrorCode::InvalidArgument, "invalid hex character");
		out[i] = static_cast<uint8_t>(hi << 4 | lo);
	}
	return out;
}

Digest
digest_from_hex(const std::string &hex) {
	Bytes b = from_hex(hex);
	if (b.size() != 32)
		throw Error(ErrorCode::InvalidArgument, "a digest is 32 bytes");
	Digest d;
	std::copy(b.begin(), b.end(), d.begin());
	return d;
}

const char *
decode_error_kind_name(DecodeErrorKind kind) {
	switch (kind) {
	case DecodeErrorKind::EndOfBuffer:
		return "end of buffer";
	case DecodeErrorKind::InvalidVarint:
		return "invalid varint";
	case DecodeErrorKind::InvalidEnum:
		return "invalid tag";
	case DecodeErrorKind::InvalidLength:
		return "invalid length";
	case DecodeErrorKind::ExtraData:
		return "trailing bytes";
	case DecodeErrorKind::Invalid:
		return "invalid value";
	}
	return "decode error";
}

} // namespace qmdb
