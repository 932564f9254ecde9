#include "core/mmr.h"

#include <gtest/gtest.h>

using namespace qmdb;

TEST(Mmr, LocationPositionTable) {
	const uint64_t expected[] = {0, 1, 3, 4, 7, 8, 10, 11, 15, 16, 18, 19, 22, 23, 25, 26};
	for (uint64_t loc = 0; loc < 16; loc++) {
		EXPECT_EQ(location_to_position(loc), expected[loc]);
		EXPECT_EQ(position_to_location(expected[loc]), loc);
	}
	for (uint64_t pos : {2, 5, 6, 9, 12, 13, 14, 17, 20, 21, 24, 27, 28, 29, 30})
		EXPECT_FALSE(position_to_location(pos).has_value()) << pos;
}

TEST(Mmr, MaxPositionRoundTrip) {
	EXPECT_EQ(MAX_NODES, (uint64_t(1) << 63) - 1);
	EXPECT_EQ(MAX_LEAVES, uint64_t(1) << 62);
	uint64_t pos = location_to_position(MAX_LEAVES);
	EXPECT_LE(pos, MAX_NODES);
	EXPECT_EQ(position_to_location(pos), MAX_LEAVES);
}

TEST(Mmr, HeightsMatchConstruction) {
	// Build the layout of 500 leaves by appending, recording each node's height.
	std::vector<uint32_t> heights;
	for (uint64_t loc = 0; loc < 500; loc++) {
		heights.push_back(0);
		for (uint32_t h = 1; h <= parents_after_leaf(loc); h++)
			heights.push_back(h);
	}
	for (uint64_t pos = 0; pos < heights.size(); pos++)
		ASSERT_EQ(pos_to_height(pos), heights[pos]) << pos;
}

TEST(Mmr, PeaksOfSize19) {
	std::vector<Peak> expected = {{14, 3}, {17, 1}, {18, 0}};
	EXPECT_EQ(peaks(19), expected);
	EXPECT_TRUE(peaks(0).empty());
}

TEST(Mmr, ValidSizesFirst10000) {
	std::vector<bool> valid(10001, false);
	for (uint64_t n = 0; location_to_position(n) <= 10000; n++)
		valid[location_to_position(n)] = true;
	uint64_t nearest = 0;
	for (uint64_t size = 0; size <= 10000; size++) {
		ASSERT_EQ(is_valid_size(size), valid[size]) << size;
		if (valid[size])
			nearest = size;
		ASSERT_EQ(to_nearest_size(size), nearest) << size;
	}
}

TEST(Mmr, InactivePeaks) {
	// 11 leaves: peaks covering 8, 2 and 1 leaves (upstream test_inactive_peaks).
	EXPECT_EQ(inactive_peaks(11, 0), 0u);
	EXPECT_EQ(inactive_peaks(11, 7), 0u);
	EXPECT_EQ(inactive_peaks(11, 8), 1u);
	EXPECT_EQ(inactive_peaks(11, 9), 1u);
	EXPECT_EQ(inactive_peaks(11, 10), 2u);
	EXPECT_EQ(inactive_peaks(11, 11), 3u);
	EXPECT_EQ(inactive_peaks(0, 0), 0u);
}

TEST(Mmr, NodesToPin) {
	EXPECT_TRUE(nodes_to_pin(0).empty());
	EXPECT_EQ(nodes_to_pin(4), std::vector<uint64_t>({6}));
	EXPECT_EQ(nodes_to_pin(5), std::vector<uint64_t>({6, 7}));
	EXPECT_EQ(nodes_to_pin(7), std::vector<uint64_t>({6, 9, 10}));
	EXPECT_EQ(nodes_to_pin(10), std::vector<uint64_t>({14, 17}));
}
