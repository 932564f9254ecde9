// Key ranges for a state rebuild whose keys do not fit its memory budget:
// the journal's keyed operations are cut into ranges of keys, in bytea
// order, each small enough for a KeySet of its own, so the ranges can be
// rebuilt one after another and their keys handed to the index in order.
//
// A range is given by its splitters: range i holds the keys k with
// splitters[i-1] <= k < splitters[i] (bytea order: bytewise, a prefix
// first). The first cut is even over the keys' first 8 bytes, right for
// hashed keys; a range that comes out too big (keys that share a prefix,
// like "account:...") is cut again at quantiles of a sample of its keys.
#pragma once

#include "bytes.h"

#include <cstdint>
#include <random>
#include <vector>

namespace qmdb {

// Bytea order.
bool bytea_less(ByteView a, ByteView b);

// parts - 1 splitters cutting the space of keys evenly by their first 8
// bytes (big-endian): the ranges of uniformly distributed keys are equal.
std::vector<Bytes> even_splitters(size_t parts);

// The range of `key` among splitters (ascending): 0 .. splitters.size().
size_t range_of(const std::vector<Bytes> &splitters, ByteView key);

// At most parts - 1 splitters at the quantiles of `sample`, distinct and
// ascending (fewer when the sample holds few distinct keys; none when
// one). Sorts the sample.
std::vector<Bytes> sample_splitters(std::vector<Bytes> &sample, size_t parts);

// A uniform sample of the keys offered (reservoir sampling), at most
// `max_keys` of them and `max_bytes` of key bytes together.
class KeySample {
public:
	KeySample(size_t max_keys, size_t max_bytes, uint64_t seed)
	    : max_keys_(max_keys), max_bytes_(max_bytes), rng_(seed) {}
	void offer(ByteView key);
	std::vector<Bytes> &keys() { return keys_; }

private:
	size_t max_keys_, max_bytes_;
	size_t bytes_ = 0;
	uint64_t seen_ = 0;
	std::mt19937_64 rng_;
	std::vector<Bytes> keys_;
};

} // namespace qmdb
