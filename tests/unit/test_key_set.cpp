#include "core/big_memory.h"
#include "core/key_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <map>
#include <random>

using namespace qmdb;

namespace {

Bytes
key_of(uint64_t i, size_t size = 32) {
	Bytes k(size, 0);
	for (size_t b = 0; b < size && b < 8; b++)
		k[b] = static_cast<uint8_t>(i >> (8 * b));
	return k;
}

// Insert `keys` in a shuffled order, each with its size in its payload
// (the first `payload` bytes of it, at most 8), then check that
// visit_sorted hands them back sorted and distinct (bytea order: std::vector<uint8_t>'s <
// is lexicographic with unsigned bytes, a prefix first), each with its own payload.
void
expect_sorted_visit(std::vector<Bytes> keys, size_t budget, size_t payload, unsigned seed) {
	std::sort(keys.begin(), keys.end());
	keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
	KeySet set(budget, payload);
	std::vector<Bytes> shuffled = keys;
	std::mt19937 rng(seed);
	std::shuffle(shuffled.begin(), shuffled.end(), rng);
	for (const Bytes &k : shuffled) {
		uint8_t *p;
		ASSERT_EQ(set.insert(k, &p), KeySet::Insert::Added);
		uint64_t n = k.size();
		std::memcpy(p, &n, payload);
	}
	std::vector<Bytes> order;
	order.reserve(keys.size());
	set.visit_sorted([&](ByteView k, const uint8_t *p) {
		uint64_t n = 0;
		std::memcpy(&n, p, payload);
		if (payload) {
			EXPECT_EQ(n, k.size);
		}
		order.emplace_back(k.data, k.data + k.size);
	});
	EXPECT_EQ(order, keys);
}

} // namespace

TEST(KeySet, AddsOnceAndTellsPresent) {
	KeySet set(1 << 20);
	EXPECT_EQ(set.insert(key_of(1)), KeySet::Insert::Added);
	EXPECT_EQ(set.insert(key_of(2)), KeySet::Insert::Added);
	EXPECT_EQ(set.insert(key_of(1)), KeySet::Insert::Present);
	EXPECT_EQ(set.size(), 2u);
	// Same leading bytes, other lengths: different keys (the empty one too).
	EXPECT_EQ(set.insert(Bytes{1}), KeySet::Insert::Added);
	EXPECT_EQ(set.insert(Bytes{1, 0}), KeySet::Insert::Added);
	EXPECT_EQ(set.insert(Bytes{}), KeySet::Insert::Added);
	EXPECT_EQ(set.insert(Bytes{}), KeySet::Insert::Present);
	EXPECT_EQ(set.insert(Bytes{1, 0}), KeySet::Insert::Present);
	EXPECT_EQ(set.size(), 5u);
}

TEST(KeySet, KeepsEveryKeyThroughGrowth) {
	KeySet set(64 << 20);
	const uint64_t n = 1000000;
	for (uint64_t i = 0; i < n; i++)
		ASSERT_EQ(set.insert(key_of(i * 7919)), KeySet::Insert::Added) << i;
	for (uint64_t i = 0; i < n; i++)
		ASSERT_EQ(set.insert(key_of(i * 7919)), KeySet::Insert::Present) << i;
	EXPECT_EQ(set.size(), n);
	// A million 32-byte keys fit PostgreSQL's default maintenance_work_mem.
	EXPECT_LE(set.memory(), size_t(56) << 20);
}

TEST(KeySet, FullLeavesTheSetAsItWas) {
	KeySet set(1 << 20); // maintenance_work_mem's least
	uint64_t added = 0;
	KeySet::Insert r;
	while ((r = set.insert(key_of(added))) == KeySet::Insert::Added)
		added++;
	EXPECT_EQ(r, KeySet::Insert::Full);
	EXPECT_GT(added, 10000u);
	EXPECT_LE(set.memory(), size_t(1) << 20);
	EXPECT_EQ(set.size(), added);
	for (uint64_t i = 0; i < added; i++)
		ASSERT_EQ(set.insert(key_of(i)), KeySet::Insert::Present) << i;
	EXPECT_EQ(set.insert(key_of(added)), KeySet::Insert::Full);
	EXPECT_EQ(KeySet(0).insert(key_of(0)), KeySet::Insert::Full);
}

TEST(KeySet, PayloadsStayWithTheirKeys) {
	KeySet set(4 << 20, 6);
	uint8_t *p = nullptr;
	ASSERT_EQ(set.insert(key_of(5), &p), KeySet::Insert::Added);
	ASSERT_NE(p, nullptr);
	EXPECT_EQ(Bytes(p, p + 6), Bytes(6, 0)); // zeroed for the caller
	std::memcpy(p, "\x01\x02\x03\x04\x05\x06", 6);
	for (uint64_t i = 0; i < 20000; i++) { // fills blocks and grows slots
		ASSERT_EQ(set.insert(key_of(1000 + i), &p), KeySet::Insert::Added);
		std::memcpy(p, &i, 6);
	}
	uint8_t *again = nullptr;
	EXPECT_EQ(set.insert(key_of(5), &again), KeySet::Insert::Present);
	EXPECT_EQ(again, nullptr); // only a new key hands out its payload
	std::map<Bytes, Bytes> seen;
	set.visit_sorted([&](ByteView k, const uint8_t *payload) {
		seen[Bytes(k.data, k.data + k.size)] = Bytes(payload, payload + 6);
	});
	EXPECT_EQ(seen.size(), 20001u);
	EXPECT_EQ(seen[key_of(5)], (Bytes{1, 2, 3, 4, 5, 6}));
	EXPECT_EQ(seen[key_of(1000 + 12345)], (Bytes{0x39, 0x30, 0, 0, 0, 0}));
	EXPECT_THROW(set.insert(key_of(6)), std::logic_error);
}

TEST(KeySet, PayloadsCountAgainstTheBudget) {
	KeySet bare(1 << 20), carrying(1 << 20, 32);
	uint64_t a = 0, b = 0;
	while (bare.insert(key_of(a)) == KeySet::Insert::Added)
		a++;
	while (carrying.insert(key_of(b)) == KeySet::Insert::Added)
		b++;
	EXPECT_LT(b, a * 3 / 4); // 68 bytes a key instead of 36, plus slots
	EXPECT_LE(carrying.memory(), size_t(1) << 20);
}

TEST(KeySet, VisitsKeysInByteaOrder) {
	// Ties in the first 4 bytes (the integers the sort compares first),
	// keys shorter than that, prefixes of each other, the empty key, and
	// bytes above 0x7f (unsigned).
	std::vector<Bytes> keys = {{},
	                           {0},
	                           {0, 0},
	                           {0, 0, 0, 0},
	                           {0, 0, 0, 0, 0},
	                           {1, 2, 3, 4},
	                           {1, 2, 3, 4, 0},
	                           {1, 2, 3, 4, 9},
	                           {1, 2, 3, 4, 9, 9},
	                           {1, 2, 3},
	                           {1, 2, 3, 5},
	                           {0xff},
	                           {0x80, 1},
	                           {0x7f, 0xff, 0xff, 0xff, 0xff}};
	for (uint64_t i = 0; i < 5000; i++)
		keys.push_back(key_of(i * 2654435761u, 1 + i % 40));
	expect_sorted_visit(keys, 8 << 20, 8, 7);
}

TEST(KeySet, ReservesWithinTheBudget) {
	KeySet set(64 << 20);
	set.reserve(1000000);
	size_t reserved = set.memory();
	EXPECT_EQ(reserved, (size_t(1) << 21) * 8); // the power of two that keeps the load under 0.7
	for (uint64_t i = 0; i < 1000000; i++)
		ASSERT_EQ(set.insert(key_of(i)), KeySet::Insert::Added) << i;
	const size_t per_block = 65536 / (4 + 32); // arena blocks of 64 KiB
	EXPECT_EQ(set.memory(), reserved + (1000000 + per_block - 1) / per_block * 65536) << "no growth of the table";
	KeySet small(1 << 20);
	small.reserve(1000000); // 16 MiB of slots: beyond the budget, ignored
	EXPECT_EQ(small.memory(), 0u);
	EXPECT_EQ(small.insert(key_of(1)), KeySet::Insert::Added);
}

TEST(KeySet, VisitsKeysWithACommonStartInByteaOrder) {
	// Every key starts "account:" (the sort looks past what all share), one
	// is that start alone, and the suffixes tie on their first bytes too.
	std::vector<Bytes> keys;
	auto with = [](const std::string &s) { return Bytes(s.begin(), s.end()); };
	keys.push_back(with("account:"));
	for (uint64_t i = 0; i < 3000; i++) {
		Bytes k = with("account:");
		Bytes tail = key_of(i * 40503u, 1 + i % 9);
		if (i % 3 == 0)
			tail.insert(tail.begin(), {7, 7, 7, 7}); // ties on the next 4 bytes
		k.insert(k.end(), tail.begin(), tail.end());
		keys.push_back(k);
	}
	expect_sorted_visit(keys, 8 << 20, 0, 11);
}

TEST(KeySet, SortsABigSetOnTwoThreadsInByteaOrder) {
	// Past the size that splits the sort in two runs merged on the way
	// out; a run of keys sharing their first 4 bytes too.
	std::vector<Bytes> keys;
	for (uint64_t i = 0; i < 150000; i++)
		keys.push_back(key_of(i * 2654435761u, 1 + i % 33));
	for (uint64_t i = 0; i < 3000; i++) {
		Bytes k = {9, 9, 9, 9};
		Bytes tail = key_of(i, 1 + i % 5);
		k.insert(k.end(), tail.begin(), tail.end());
		keys.push_back(k);
	}
	expect_sorted_visit(keys, 64 << 20, 4, 5);
}

TEST(BigMemory, BigBlocksAreAlignedForHugePages) {
	for (size_t bytes : {size_t(1) << 20, (size_t(3) << 20) + 5, size_t(16) << 20}) {
		uint8_t *p = static_cast<uint8_t *>(big_alloc(bytes));
		EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % BIG_PAGE, 0u) << bytes;
		p[0] = 1;
		p[bytes - 1] = 2; // all of it is ours
		EXPECT_EQ(p[0] + p[bytes - 1], 3);
		big_free(p, bytes);
	}
	uint8_t *small = static_cast<uint8_t *>(big_alloc(100));
	small[99] = 7;
	big_free(small, 100);
	big_free(nullptr, 100);
	std::vector<uint64_t, BigAllocator<uint64_t>> v(size_t(1) << 18, 5); // 2 MiB through the allocator
	EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % BIG_PAGE, 0u);
	EXPECT_EQ(v.back(), 5u);
}
