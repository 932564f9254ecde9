#include "peer_text.h"

#include <algorithm>

namespace qmdb {

size_t
utf8_char_length(std::string_view s) {
	if (s.empty())
		return 0;
	auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
	unsigned char c = b(0);
	if (c < 0x80)
		return c == 0 ? 0 : 1; // NUL is not text
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; // the range of the second byte
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0; // overlong
		if (c == 0xed)
			hi = 0x9f; // surrogates
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90; // overlong
		if (c == 0xf4)
			hi = 0x8f; // above U+10FFFF
	} else {
		return 0;
	}
	if (s.size() < n || b(1) < lo || b(1) > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (b(i) < 0x80 || b(i) > 0xbf)
			return 0;
	return n;
}

std::string
printable_peer_text(std::string_view text, size_t max_bytes, bool ascii_only) {
	static const char *const ELLIPSIS = "...";
	std::string out;
	out.reserve(std::min(text.size(), max_bytes));
	bool cut = false;
	for (size_t i = 0; i < text.size();) {
		std::string piece;
		unsigned char c = static_cast<unsigned char>(text[i]);
		size_t n = utf8_char_length(text.substr(i));
		if (c == '\n' || c == '\r' || c == '\t') {
			piece = " ";
			n = 1;
		} else if (n == 0 || c < 0x20 || c == 0x7f || (ascii_only && c >= 0x80)) {
			static const char *const HEX = "0123456789abcdef";
			piece = {'\\', 'x', HEX[c >> 4], HEX[c & 15]};
			n = 1;
		} else {
			piece = std::string(text.substr(i, n));
		}
		if (out.size() + piece.size() > max_bytes) {
			cut = true;
			break;
		}
		out += piece;
		i += n;
	}
	while (!out.empty() && out.back() == ' ')
		out.pop_back();
	if (cut) {
		size_t keep = max_bytes >= 3 ? max_bytes - 3 : 0;
		while (out.size() > keep) {
			// Drop whole characters: back up over UTF-8 continuation bytes.
			size_t end = out.size() - 1;
			while (end > 0 && (static_cast<unsigned char>(out[end]) & 0xc0) == 0x80)
				end--;
			out.resize(end);
		}
		out += std::string(ELLIPSIS).substr(0, max_bytes - out.size());
	}
	return out;
}

} // namespace qmdb
