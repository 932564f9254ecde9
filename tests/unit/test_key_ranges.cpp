#include "core/key_ranges.h"
#include "core/key_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

using namespace qmdb;

namespace {

Bytes
text(const std::string &s) {
	return Bytes(s.begin(), s.end());
}

Bytes
random_key(std::mt19937_64 &rng, size_t size) {
	Bytes k(size);
	for (auto &b : k)
		b = static_cast<uint8_t>(rng());
	return k;
}

} // namespace

TEST(KeyRanges, ByteaOrderPutsAPrefixFirst) {
	EXPECT_TRUE(bytea_less(text("ab"), text("ab\x01")));
	EXPECT_TRUE(bytea_less(Bytes(), Bytes({0})));
	EXPECT_TRUE(bytea_less(text("a\x7f"), text("a\x80"))); // unsigned bytes
	EXPECT_FALSE(bytea_less(text("b"), text("ab")));
	EXPECT_FALSE(bytea_less(text("ab"), text("ab")));
}

TEST(KeyRanges, EvenSplittersCutTheFirstEightBytes) {
	std::vector<Bytes> s = even_splitters(4);
	ASSERT_EQ(s.size(), 3u);
	EXPECT_EQ(s[0], Bytes({0x40, 0, 0, 0, 0, 0, 0, 0}));
	EXPECT_EQ(s[1], Bytes({0x80, 0, 0, 0, 0, 0, 0, 0}));
	EXPECT_EQ(s[2], Bytes({0xc0, 0, 0, 0, 0, 0, 0, 0}));
	EXPECT_TRUE(even_splitters(1).empty());
	// A splitter's own key starts its range; a shorter key that is its
	// prefix comes before it.
	EXPECT_EQ(range_of(s, Bytes({0x40, 0, 0, 0, 0, 0, 0, 0})), 1u);
	EXPECT_EQ(range_of(s, Bytes({0x40, 0, 0, 0})), 0u);
	EXPECT_EQ(range_of(s, Bytes({0x3f, 0xff})), 0u);
	EXPECT_EQ(range_of(s, Bytes({0xff})), 3u);
	EXPECT_EQ(range_of(s, Bytes()), 0u);
}

TEST(KeyRanges, RangesFollowKeyOrderAndHashedKeysSpreadEvenly) {
	std::mt19937_64 rng(7);
	const size_t parts = 16, n = 64000;
	std::vector<Bytes> s = even_splitters(parts);
	std::vector<Bytes> keys;
	std::vector<size_t> counts(parts);
	for (size_t i = 0; i < n; i++) {
		keys.push_back(random_key(rng, 1 + i % 40));
		counts[range_of(s, keys.back())]++;
	}
	for (size_t c : counts) {
		EXPECT_GT(c, n / parts * 9 / 10);
		EXPECT_LT(c, n / parts * 11 / 10);
	}
	// Concatenating the ranges in order gives the keys in order: the
	// index can take each range's sorted keys one range after another.
	std::sort(keys.begin(), keys.end(), [](const Bytes &a, const Bytes &b) { return bytea_less(a, b); });
	for (size_t i = 1; i < keys.size(); i++)
		EXPECT_LE(range_of(s, keys[i - 1]), range_of(s, keys[i]));
}

TEST(KeyRanges, SampleSplittersCutCrowdedKeysAtTheirQuantiles) {
	// Keys sharing their first 8 bytes: one even range holds them all.
	std::vector<Bytes> keys;
	for (int i = 0; i < 10000; i++) {
		std::string n = std::to_string(i);
		keys.push_back(text("account:" + std::string(6 - n.size(), '0') + n));
	}
	std::vector<Bytes> even = even_splitters(8);
	size_t first = range_of(even, keys.front());
	for (const Bytes &k : keys)
		ASSERT_EQ(range_of(even, k), first);

	KeySample sample(1000, 1 << 20, 1);
	for (const Bytes &k : keys)
		sample.offer(k);
	std::vector<Bytes> s = sample_splitters(sample.keys(), 4);
	ASSERT_EQ(s.size(), 3u);
	for (size_t i = 1; i < s.size(); i++)
		EXPECT_TRUE(bytea_less(s[i - 1], s[i]));
	std::vector<size_t> counts(4);
	for (const Bytes &k : keys)
		counts[range_of(s, k)]++;
	for (size_t c : counts) { // a quarter each, within the sample's error
		EXPECT_GT(c, 2000u);
		EXPECT_LT(c, 3000u);
	}
}

TEST(KeyRanges, SampleSplittersOfFewDistinctKeys) {
	std::vector<Bytes> same(500, text("hot"));
	EXPECT_TRUE(sample_splitters(same, 8).empty()); // one key: nothing to cut
	std::vector<Bytes> two;
	for (int i = 0; i < 500; i++)
		two.push_back(text(i % 2 ? "b" : "a"));
	std::vector<Bytes> s = sample_splitters(two, 8);
	ASSERT_EQ(s.size(), 1u); // distinct and above the least key
	EXPECT_EQ(s[0], text("b"));
	std::vector<Bytes> none;
	EXPECT_TRUE(sample_splitters(none, 4).empty());
}

TEST(KeyRanges, KeySampleStaysWithinItsBounds) {
	KeySample by_count(100, 1 << 20, 3);
	KeySample by_bytes(1000, 640, 3);
	std::mt19937_64 rng(3);
	for (int i = 0; i < 100000; i++) {
		Bytes k = random_key(rng, 32);
		by_count.offer(k);
		by_bytes.offer(k);
	}
	EXPECT_EQ(by_count.keys().size(), 100u);
	EXPECT_EQ(by_bytes.keys().size(), 20u); // 640 bytes of 32-byte keys
	// Uniform: about half the sampled keys start below 0x80.
	size_t low = 0;
	for (const Bytes &k : by_count.keys())
		low += k[0] < 0x80;
	EXPECT_GT(low, 30u);
	EXPECT_LT(low, 70u);
}

// memory_for is the rebuild's promise that a range fits before it writes
// any row: a set with exactly that budget takes every key.
TEST(KeyRanges, MemoryForIsEnoughForEveryKey) {
	std::mt19937_64 rng(11);
	for (size_t n : {0, 1, 716, 717, 5000, 100000}) {
		for (size_t size : {1, 32, 200}) {
			std::vector<Bytes> keys;
			size_t bytes = 0;
			for (size_t i = 0; i < n; i++) {
				keys.push_back(random_key(rng, size));
				bytes += size;
			}
			for (bool reserve : {false, true}) {
				KeySet set(KeySet::memory_for(n, bytes, size, 6), 6);
				if (reserve)
					set.reserve(n);
				for (const Bytes &k : keys)
					ASSERT_NE(set.insert(k), KeySet::Insert::Full) << n << " keys of " << size;
				EXPECT_LE(set.memory(), KeySet::memory_for(n, bytes, size, 6));
			}
		}
	}
	// Keys of mixed sizes: the longest bounds a block's waste.
	std::vector<Bytes> keys;
	size_t bytes = 0;
	for (size_t i = 0; i < 20000; i++) {
		keys.push_back(random_key(rng, i % 7 ? 8 : 1024));
		bytes += keys.back().size();
	}
	KeySet set(KeySet::memory_for(keys.size(), bytes, 1024, 6), 6);
	for (const Bytes &k : keys)
		ASSERT_NE(set.insert(k), KeySet::Insert::Full);
	// And the bound is not wildly loose: 32-byte keys, about 70 bytes each.
	EXPECT_LT(KeySet::memory_for(1000000, 32000000, 32, 6), size_t(75) << 20);
}
