#include "key_ranges.h"

#include <algorithm>
#include <cstring>

#include "core_only.h"

namespace qmdb {

bool
bytea_less(ByteView a, ByteView b) {
	size_t n = std::min(a.size, b.size);
	int c = n ? std::memcmp(a.data, b.data, n) : 0;
	return c < 0 || (c == 0 && a.size < b.size);
}

std::vector<Bytes>
even_splitters(size_t parts) {
	std::vector<Bytes> out;
	for (size_t i = 1; i < parts; i++) {
		// i / parts of the 64-bit space, as 8 big-endian bytes.
		uint64_t at = static_cast<uint64_t>((static_cast<unsigned __int128>(i) << 64) / parts);
		Bytes s(8);
		for (int b = 7; b >= 0; b--, at >>= 8)
			s[static_cast<size_t>(b)] = static_cast<uint8_t>(at);
		out.push_back(std::move(s));
	}
	return out;
}

size_t
range_of(const std::vector<Bytes> &splitters, ByteView key) {
	// The first splitter above the key: the keys equal to a splitter start its range.
	auto it = std::upper_bound(splitters.begin(), splitters.end(), key,
	                           [](ByteView k, const Bytes &s) { return bytea_less(k, ByteView(s)); });
	return static_cast<size_t>(it - splitters.begin());
}

std::vector<Bytes>
sample_splitters(std::vector<Bytes> &sample, size_t parts) {
	std::sort(sample.begin(), sample.end(),
	          [](const Bytes &a, const Bytes &b) { return bytea_less(ByteView(a), ByteView(b)); });
	std::vector<Bytes> out;
	for (size_t i = 1; i < parts && !sample.empty(); i++) {
		const Bytes &s = sample[i * sample.size() / parts];
		// A splitter equal to the sample's least key would leave range 0
		// empty; one equal to the last splitter, a range empty.
		if (s == sample.front() || (!out.empty() && s == out.back()))
			continue;
		out.push_back(s);
	}
	return out;
}

void
KeySample::offer(ByteView key) {
	seen_++;
	if (keys_.size() < max_keys_ && bytes_ + key.size <= max_bytes_) {
		keys_.emplace_back(key.data, key.data + key.size);
		bytes_ += key.size;
		return;
	}
	if (keys_.empty())
		return;
	// Each key seen so far stays in the sample with the same chance.
	uint64_t at = std::uniform_int_distribution<uint64_t>(0, seen_ - 1)(rng_);
	if (at >= keys_.size())
		return;
	Bytes &slot = keys_[static_cast<size_t>(at)];
	if (bytes_ - slot.size() + key.size > max_bytes_)
		return;
	bytes_ = bytes_ - slot.size() + key.size;
	slot.assign(key.data, key.data + key.size);
}

} // namespace qmdb
