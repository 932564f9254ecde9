// The rebuild's last-write search on a helper thread (FirstSightings):
// the same answers as one thread walking the journal newest first.
#include "core/first_sightings.h"
#include "helpers.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>

using namespace qmdb;
using namespace qmdb::test;

namespace {

// A journal of updates, deletes and commits over `keys` keys.
std::vector<Bytes>
journal_of(size_t n, uint64_t keys, uint64_t seed) {
	std::mt19937_64 rng(seed);
	std::vector<Bytes> ops;
	for (size_t i = 0; i < n; i++) {
		Bytes k = bytes_of(to_digest(rng() % keys));
		uint64_t pick = rng() % 10;
		if (pick == 0)
			ops.push_back(encode_op(fixed32_format(), Operation::commit(std::nullopt, i / 2)));
		else if (pick < 3)
			ops.push_back(encode_op(fixed32_format(), Operation::remove(k)));
		else
			ops.push_back(encode_op(fixed32_format(), Operation::update(k, bytes_of(to_digest(i)))));
	}
	return ops;
}

// loc of each live key's last write, by one thread newest first.
std::map<Bytes, uint64_t>
expected_live(const std::vector<Bytes> &ops) {
	std::map<Bytes, uint64_t> live;
	std::map<Bytes, bool> seen;
	for (size_t l = ops.size(); l-- > 0;) {
		OpView o = FirstSightings::read(fixed32_format(), ops[l]);
		if (o.kind != OpKind::Update && o.kind != OpKind::Delete)
			continue;
		Bytes k(o.key.data, o.key.data + o.key.size);
		if (seen.emplace(k, true).second && o.kind == OpKind::Update)
			live[k] = l;
	}
	return live;
}

// Feed `ops` newest first in chunks of `chunk_ops`; the caller's part
// writes each first sighting's loc into its payload, as the rebuild
// writes a row address. Returns false if the set filled up.
bool
run_finder(KeySet &set, const std::vector<Bytes> &ops, size_t chunk_ops, std::map<Bytes, uint64_t> &found) {
	FirstSightings finder(set, fixed32_format());
	bool full = false;
	auto take = [&](FirstSightings::Chunk c) {
		EXPECT_FALSE(c.error);
		for (size_t i = 0; i < c.size(); i++)
			if (c.first[i]) {
				OpView o = FirstSightings::read(fixed32_format(), c.op(i));
				found[Bytes(o.key.data, o.key.data + o.key.size)] = c.locs[i];
				std::memcpy(c.first[i], &c.locs[i], 8);
			}
		full = full || c.full;
	};
	FirstSightings::Chunk chunk;
	for (size_t l = ops.size(); l-- > 0 && !full;) {
		chunk.add(l, ops[l]);
		if (chunk.size() == chunk_ops || l == 0) {
			finder.submit(std::move(chunk));
			chunk = FirstSightings::Chunk();
			while (finder.pending() > 3)
				take(finder.next());
		}
	}
	while (finder.pending() > 0)
		take(finder.next());
	return !full;
}

} // namespace

TEST(FirstSightings, FindsEachLiveKeysLastWrite) {
	std::vector<Bytes> ops = journal_of(20000, 700, 1);
	std::map<Bytes, uint64_t> want = expected_live(ops);
	ASSERT_GT(want.size(), 300u);
	for (size_t chunk_ops : {1, 7, 1024}) {
		KeySet set(16 << 20, 8);
		std::map<Bytes, uint64_t> found;
		ASSERT_TRUE(run_finder(set, ops, chunk_ops, found));
		EXPECT_EQ(found, want) << chunk_ops;
		// The payloads written meanwhile stayed with their keys.
		std::map<Bytes, uint64_t> payloads;
		set.visit_sorted([&](ByteView k, const uint8_t *p) {
			uint64_t loc;
			std::memcpy(&loc, p, 8);
			if (loc != 0 || want.count(Bytes(k.data, k.data + k.size)))
				payloads[Bytes(k.data, k.data + k.size)] = loc;
		});
		EXPECT_EQ(payloads, want);
	}
}

TEST(FirstSightings, StopsWhenTheSetIsFull) {
	std::vector<Bytes> ops = journal_of(20000, 20000, 2);
	KeySet set(256 << 10, 8); // far too small for 20000 keys
	std::map<Bytes, uint64_t> found;
	EXPECT_FALSE(run_finder(set, ops, 512, found));
	EXPECT_LT(found.size(), 20000u);
}

TEST(FirstSightings, AMalformedOperationIsTheCallersError) {
	KeySet set(1 << 20, 8);
	FirstSightings finder(set, fixed32_format());
	FirstSightings::Chunk chunk;
	chunk.add(0, encode_op(fixed32_format(), Operation::update(bytes_of(to_digest(1)), bytes_of(to_digest(2)))));
	Bytes bad = {0x99, 1, 2}; // no such tag
	chunk.add(1, bad);
	finder.submit(std::move(chunk));
	FirstSightings::Chunk done = finder.next();
	ASSERT_TRUE(done.error);
	EXPECT_THROW(std::rethrow_exception(done.error), DecodeError);
}
