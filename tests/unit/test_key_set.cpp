#include "core/key_set.h"

#include <gtest/gtest.h>

using namespace qmdb;

namespace {

Bytes
key_of(uint64_t i, size_t size = 32) {
	Bytes k(size, 0);
	for (size_t b = 0; b < size && b < 8; b++)
		k[b] = static_cast<uint8_t>(i >> (8 * b));
	return k;
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
