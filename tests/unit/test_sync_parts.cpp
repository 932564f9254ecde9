// The engine's building blocks: the gap finder, request tracking, the journal.
#include "core/sync/gaps.h"
#include "core/sync/journal.h"
#include "core/sync/requests.h"

#include <gtest/gtest.h>

using namespace qmdb;
using namespace qmdb::sync;

struct GapCase {
	const char *name;
	LocRange range;
	std::vector<std::pair<uint64_t, uint64_t>> fetched;
	std::vector<LocRange> outstanding;
	std::optional<LocRange> expected;
};

TEST(Gaps, FindNextTable) {
	const GapCase cases[] = {
	    {"empty range", {5, 5}, {}, {}, std::nullopt},
	    {"nothing covered", {0, 10}, {}, {}, LocRange{0, 10}},
	    {"fetched prefix", {0, 10}, {{0, 3}}, {}, LocRange{3, 10}},
	    {"outstanding prefix", {0, 10}, {}, {{0, 4}}, LocRange{4, 10}},
	    {"fully fetched", {0, 10}, {{0, 10}}, {}, std::nullopt},
	    {"fully requested", {0, 10}, {}, {{0, 10}}, std::nullopt},
	    {"gap before fetched", {0, 10}, {{4, 2}}, {}, LocRange{0, 4}},
	    {"gap between fetched and outstanding", {0, 10}, {{0, 2}}, {{5, 5}}, LocRange{2, 5}},
	    {"mixed coverage gap in middle", {0, 16}, {{0, 2}, {8, 2}}, {{3, 7}, {12, 16}}, LocRange{2, 3}},
	    {"adjacent intervals leave the tail", {0, 16}, {{0, 2}, {6, 2}}, {{2, 6}}, LocRange{8, 16}},
	    {"overlapping intervals", {0, 20}, {{0, 5}}, {{3, 8}, {8, 12}}, LocRange{12, 20}},
	    {"equal starts", {0, 10}, {{0, 3}}, {{0, 5}}, LocRange{5, 10}},
	    {"coverage beyond the range end", {0, 10}, {}, {{0, 50}}, std::nullopt},
	    {"range starts mid-interval", {4, 10}, {{0, 6}}, {}, LocRange{6, 10}},
	    {"intervals before the range", {10, 20}, {{0, 3}}, {{3, 8}}, LocRange{10, 20}},
	    {"gap clipped to range end", {0, 10}, {}, {{12, 14}}, LocRange{0, 10}},
	    {"single location", {7, 8}, {}, {}, LocRange{7, 8}},
	    {"single location covered", {7, 8}, {{7, 1}}, {}, std::nullopt},
	};
	for (const GapCase &c : cases)
		EXPECT_EQ(find_next(c.range, c.fetched, c.outstanding), c.expected) << c.name;
}

TEST(Requests, AddRemoveAndRanges) {
	Requests r;
	uint64_t a = r.insert(Request::operations(100, 10, 5));
	uint64_t b = r.insert(Request::operations(100, 0, 4));
	EXPECT_LT(a, b);
	EXPECT_EQ(r.size(), 2u);
	EXPECT_EQ(r.ranges(), std::vector<LocRange>({{0, 4}, {10, 15}}));
	EXPECT_EQ(r.outstanding_ops(), 9u);
	EXPECT_EQ(r.remove(a), Request::operations(100, 10, 5));
	EXPECT_FALSE(r.remove(a).has_value());
	EXPECT_FALSE(r.has_start(10));
	EXPECT_TRUE(r.take_cancelled().empty());
}

TEST(Requests, SupersedeAtTheSameStart) {
	Requests r;
	uint64_t a = r.insert(Request::operations(100, 10, 5));
	uint64_t b = r.insert(Request::boundary(120, 10));
	EXPECT_EQ(r.size(), 1u);
	EXPECT_FALSE(r.remove(a).has_value()); // superseded: stale
	EXPECT_EQ(r.take_cancelled(), std::vector<uint64_t>({a}));
	EXPECT_TRUE(r.has_start(10));
	EXPECT_EQ(r.remove(b), Request::boundary(120, 10));
}

TEST(Requests, RemoveBefore) {
	Requests r;
	uint64_t a = r.insert(Request::operations(100, 1, 1));
	uint64_t b = r.insert(Request::operations(100, 5, 1));
	uint64_t c = r.insert(Request::operations(100, 9, 1));
	r.remove_before(5);
	EXPECT_EQ(r.take_cancelled(), std::vector<uint64_t>({a}));
	EXPECT_FALSE(r.remove(a).has_value()); // a stale id after remove_before
	r.remove_before(10);
	EXPECT_EQ(r.take_cancelled(), std::vector<uint64_t>({b, c}));
	EXPECT_TRUE(r.empty());
	// A later request at an old start gets a fresh id.
	EXPECT_GT(r.insert(Request::operations(100, 1, 1)), c);
}

static MemoryJournal
journal_with(uint64_t start, uint64_t end) {
	MemoryJournal j;
	j.clear_to(start);
	std::vector<Bytes> ops;
	for (uint64_t l = start; l < end; l++)
		ops.push_back(Bytes{static_cast<uint8_t>(l)});
	j.append(ops);
	return j;
}

TEST(Journal, OpenReusesDataInsideTheRange) {
	MemoryJournal j = MemoryJournal::open(journal_with(0, 30), 7, 20);
	EXPECT_EQ(j.start(), 7u);
	EXPECT_EQ(j.size(), 20u); // rewound: progress beyond an older target keeps its prefix
	EXPECT_EQ(j.read(7), Bytes{7});
	EXPECT_THROW(j.read(6), Error);

	// Pruned past the start: reset to an empty journal at the start.
	MemoryJournal k = MemoryJournal::open(journal_with(40, 50), 7, 60);
	EXPECT_EQ(k.start(), 7u);
	EXPECT_EQ(k.size(), 7u);

	// Nothing reaches the start: cleared to it.
	MemoryJournal m = MemoryJournal::open(journal_with(0, 5), 9, 20);
	EXPECT_EQ(m.size(), 9u);

	// Empty at zero stays as is.
	MemoryJournal e = MemoryJournal::open(MemoryJournal(), 0, 10);
	EXPECT_EQ(e.size(), 0u);
}

TEST(Journal, Resize) {
	MemoryJournal j = journal_with(0, 10);
	j.resize(4);
	EXPECT_EQ(j.start(), 4u);
	EXPECT_EQ(j.size(), 10u);
	j.resize(10);
	EXPECT_EQ(j.start(), 10u);
	EXPECT_EQ(j.size(), 10u);
	j.resize(15);
	EXPECT_EQ(j.size(), 15u);
}
