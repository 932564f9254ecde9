#include "base64.h"

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string
base64_encode(ByteView data) {
	std::string out;
	out.reserve((data.size + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 3 <= data.size; i += 3) {
		uint32_t v = (uint32_t(data[i]) << 16) | (uint32_t(data[i + 1]) << 8) | data[i + 2];
		for (int s = 18; s >= 0; s -= 6)
			out.push_back(ALPHABET[(v >> s) & 63]);
	}
	size_t rest = data.size - i;
	if (rest) {
		uint32_t v = uint32_t(data[i]) << 16;
		if (rest == 2)
			v |= uint32_t(data[i + 1]) << 8;
		out.push_back(ALPHABET[(v >> 18) & 63]);
		out.push_back(ALPHABET[(v >> 12) & 63]);
		out.push_back(rest == 2 ? ALPHABET[(v >> 6) & 63] : '=');
		out.push_back('=');
	}
	return out;
}

static int
value_of(char c) {
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

std::optional<Bytes>
base64_decode(const std::string &text) {
	if (text.size() % 4 != 0)
		return std::nullopt;
	Bytes out;
	out.reserve(text.size() / 4 * 3);
	for (size_t i = 0; i < text.size(); i += 4) {
		bool last = i + 4 == text.size();
		int pad = 0;
		if (last && text[i + 3] == '=')
			pad = text[i + 2] == '=' ? 2 : 1;
		uint32_t v = 0;
		for (int j = 0; j < 4; j++) {
			int d = j >= 4 - pad ? 0 : value_of(text[i + j]);
			if (d < 0)
				return std::nullopt;
			v = (v << 6) | uint32_t(d);
		}
		// Padding bits must be zero (the canonical encoding).
		if ((pad == 1 && (v & 0xff)) || (pad == 2 && (v & 0xffff)))
			return std::nullopt;
		out.push_back(uint8_t(v >> 16));
		if (pad < 2)
			out.push_back(uint8_t(v >> 8));
		if (pad < 1)
			out.push_back(uint8_t(v));
	}
	return out;
}

} // namespace qmdb
