#include "core/merkle.h"
#include "core/proof.h"
#include "helpers.h"

#include <gtest/gtest.h>

using namespace qmdb;
using qmdb::test::be8_bytes;

namespace {

struct RawTree {
	Hasher &h;
	MemoryNodeStore store;
	Mmr mmr;
	std::vector<Bytes> elements;
	RawTree(Hasher &hasher, uint64_t n) : h(hasher) {
		for (uint64_t i = 0; i < n; i++) {
			elements.push_back(be8_bytes(i));
			mmr.append(h, store, elements.back());
		}
	}
	std::vector<ByteView> range(uint64_t start, uint64_t end) const {
		return std::vector<ByteView>(elements.begin() + start, elements.begin() + end);
	}
};

} // namespace

TEST(Proof, WorkedExampleBackwardK1) {
	Hasher h(Bagging::BackwardFold);
	RawTree t(h, 11);
	Proof p = build_proof(h, t.store, 11, 1, 4, 7);
	ASSERT_EQ(p.digests.size(), 3u);
	EXPECT_EQ(to_hex(p.digests[0]), "32b1f381fa78735669d39fe4d2d99911fb917373fe6d9acf8e3e71adfb4f7c51");
	EXPECT_EQ(to_hex(p.digests[1]), "af671e95438a19bbc0230c1c7994845f703d759a5846e1330d0e310fc49b1c9c");
	EXPECT_EQ(to_hex(p.digests[2]), "1b6ba94ff1c5ee1e39bd1db36d80cb74404561cbe946a371271a4b53fc402bf3");
	Digest root = digest_from_hex("c93c7018bc49191bef1b79d06bab828610a1822ceeae48858dbb6feda58f17ef");
	EXPECT_TRUE(verify_range_inclusion(h, p, t.range(4, 7), 4, root));

	Hasher fwd(Bagging::ForwardFold);
	Proof pf = build_proof(fwd, t.store, 11, 0, 4, 7);
	std::vector<Digest> expected = {*t.store.get(17), *t.store.get(18), *t.store.get(6), *t.store.get(11)};
	EXPECT_EQ(pf.digests, expected);

	Proof p2 = build_proof(h, t.store, 11, 0, 8, 10);
	std::vector<Digest> expected2 = {*t.store.get(14), *t.store.get(18)};
	EXPECT_EQ(p2.digests, expected2);
}

TEST(Proof, EmptyProofVerifiesOnlyTheEmptyTree) {
	Hasher h;
	Proof empty;
	EXPECT_TRUE(verify_range_inclusion(h, empty, {}, 0, h.empty_root()));
	EXPECT_FALSE(verify_range_inclusion(h, empty, {}, 1, h.empty_root()));
	Proof bad = empty;
	bad.leaves = 1;
	EXPECT_FALSE(verify_range_inclusion(h, bad, {}, 0, h.empty_root()));
}

TEST(Proof, BlueprintErrors) {
	EXPECT_THROW(Blueprint(11, 0, Bagging::BackwardFold, 3, 3), Error);  // empty range
	EXPECT_THROW(Blueprint(11, 0, Bagging::BackwardFold, 3, 12), Error); // beyond leaves
	EXPECT_THROW(Blueprint(11, 4, Bagging::BackwardFold, 3, 4), Error);  // k > 3 peaks
	EXPECT_NO_THROW(Blueprint(11, 3, Bagging::BackwardFold, 3, 4));
}

// Every tree size up to 64 leaves, every range, both baggings, every valid k:
// the built proof verifies, and tampering with any digest, the leaf count,
// k or an element makes it fail.
TEST(Proof, ExhaustiveSmallTrees) {
	size_t verified = 0, tampered = 0;
	for (Bagging bagging : {Bagging::BackwardFold, Bagging::ForwardFold}) {
		Hasher h(bagging);
		RawTree t(h, 64);
		for (uint64_t n = 1; n <= 64; n++) {
			uint64_t npeaks = peaks(location_to_position(n)).size();
			Mmr sized(t.store, n);
			for (uint64_t k = 0; k <= npeaks; k++) {
				Digest root = sized.root(h, k);
				for (uint64_t start = 0; start < n; start++) {
					for (uint64_t end = start + 1; end <= n; end++) {
						Proof p = build_proof(h, t.store, n, k, start, end);
						auto elems = t.range(start, end);
						ASSERT_TRUE(verify_range_inclusion(h, p, elems, start, root))
						    << n << " " << k << " [" << start << "," << end << ")";
						verified++;
						// Tampering is checked on every range of trees up to 32
						// leaves and on ranges of up to 16 elements above that
						// (long ranges only repeat the same shapes, slowly).
						if (n > 32 && end - start > 16)
							continue;
						// Tampering: a byte of each digest (rotating), leaves and k
						// off by one, the first and last element, and the start.
						for (size_t i = 0; i < p.digests.size(); i++) {
							Proof q = p;
							q.digests[i][(i * 7 + start) % 32] ^= 0x01;
							ASSERT_FALSE(verify_range_inclusion(h, q, elems, start, root));
							tampered++;
						}
						for (int delta : {-1, 1}) {
							Proof q = p;
							q.leaves += delta;
							ASSERT_FALSE(verify_range_inclusion(h, q, elems, start, root));
							q = p;
							q.inactive_peaks += delta;
							ASSERT_FALSE(verify_range_inclusion(h, q, elems, start, root));
							tampered += 2;
						}
						for (size_t i : {size_t(0), elems.size() - 1}) {
							Bytes changed = elems[i].to_bytes();
							changed[7] ^= 0x80;
							auto e2 = elems;
							e2[i] = changed;
							ASSERT_FALSE(verify_range_inclusion(h, p, e2, start, root));
							tampered++;
						}
						if (start + 1 < n) {
							ASSERT_FALSE(verify_range_inclusion(h, p, elems, start + 1, root));
							tampered++;
						}
						// An extra or a missing digest is rejected.
						Proof longer = p;
						longer.digests.push_back(root);
						ASSERT_FALSE(verify_range_inclusion(h, longer, elems, start, root));
						if (!p.digests.empty()) {
							Proof shorter = p;
							shorter.digests.pop_back();
							ASSERT_FALSE(verify_range_inclusion(h, shorter, elems, start, root));
						}
						tampered += 2;
					}
				}
			}
		}
	}
	RecordProperty("verified", static_cast<int>(verified));
	EXPECT_GT(verified, 100000u);
	EXPECT_GT(tampered, verified);
}

TEST(Proof, EveryElementContributes) {
	Hasher h;
	RawTree t(h, 23);
	Digest root = t.mmr.root(h, 0);
	Proof p = build_proof(h, t.store, 23, 0, 0, 23);
	auto elems = t.range(0, 23);
	ASSERT_TRUE(verify_range_inclusion(h, p, elems, 0, root));
	for (size_t i = 0; i < elems.size(); i++) {
		Bytes changed = elems[i].to_bytes();
		changed[0] ^= 1;
		auto e2 = elems;
		e2[i] = changed;
		EXPECT_FALSE(verify_range_inclusion(h, p, e2, 0, root)) << i;
	}
}

TEST(Proof, ExtractedDigestsMatchTheTree) {
	Hasher h;
	RawTree t(h, 50);
	uint64_t k = inactive_peaks(50, 20);
	Digest root = t.mmr.root(h, k);
	Proof p = build_proof(h, t.store, 50, k, 20, 37);
	PositionedDigests collected;
	ASSERT_TRUE(verify_range_inclusion_and_extract_digests(h, p, t.range(20, 37), 20, root, collected));
	size_t leaves = 0;
	for (const auto &pd : collected) {
		EXPECT_EQ(pd.second, *t.store.get(pd.first)) << pd.first;
		if (position_to_location(pd.first))
			leaves++;
	}
	EXPECT_GE(leaves, 17u);
	// A wrong root yields nothing.
	Digest wrong = root;
	wrong[0] ^= 1;
	EXPECT_FALSE(verify_range_inclusion_and_extract_digests(h, p, t.range(20, 37), 20, wrong, collected));
	EXPECT_TRUE(collected.empty());
}

TEST(Proof, PinnedNodesAcrossSizes) {
	// Upstream mmr_verify_proof_and_pinned_nodes_across_sizes: ForwardFold, k = 0.
	const std::pair<uint64_t, uint64_t> cases[] = {{5, 4},      {10, 3},     {20, 5},    {50, 10},
	                                               {100, 10},   {100, 30},   {200, 50},  {500, 100},
	                                               {1000, 100}, {1000, 300}, {2000, 500}};
	for (Bagging bagging : {Bagging::ForwardFold, Bagging::BackwardFold}) {
		Hasher h(bagging);
		RawTree t(h, 2000);
		for (const auto &c : cases) {
			uint64_t leaves = c.first, start = c.second;
			for (uint64_t k : {uint64_t(0), inactive_peaks(leaves, start)}) {
				Mmr sized(t.store, leaves);
				Digest root = sized.root(h, k);
				Proof p = build_proof(h, t.store, leaves, k, start, start + 1);
				std::vector<Digest> pins;
				for (uint64_t pos : nodes_to_pin(start))
					pins.push_back(*t.store.get(pos));
				auto elem = t.range(start, start + 1);
				EXPECT_TRUE(verify_proof_and_pinned_nodes(h, p, elem, start, pins, root))
				    << leaves << " " << start << " k=" << k;
				// A wrong pin, a missing pin, an extra pin, or pins out of order fail.
				for (size_t i = 0; i < pins.size(); i++) {
					auto bad = pins;
					bad[i][3] ^= 0x10;
					EXPECT_FALSE(verify_proof_and_pinned_nodes(h, p, elem, start, bad, root)) << i;
				}
				auto fewer = pins;
				fewer.pop_back();
				EXPECT_FALSE(verify_proof_and_pinned_nodes(h, p, elem, start, fewer, root));
				auto more = pins;
				more.push_back(root);
				EXPECT_FALSE(verify_proof_and_pinned_nodes(h, p, elem, start, more, root));
				if (pins.size() > 1) {
					auto swapped = pins;
					std::swap(swapped.front(), swapped.back());
					EXPECT_FALSE(verify_proof_and_pinned_nodes(h, p, elem, start, swapped, root));
				}
				// Pins of a different boundary fail too.
				std::vector<Digest> other;
				for (uint64_t pos : nodes_to_pin(start - 1))
					other.push_back(*t.store.get(pos));
				EXPECT_FALSE(verify_proof_and_pinned_nodes(h, p, elem, start, other, root));
			}
		}
	}
}

TEST(Proof, PinnedNodesWithMultiElementRange) {
	Hasher h;
	RawTree t(h, 100);
	for (uint64_t start = 1; start < 100; start += 7) {
		uint64_t end = std::min<uint64_t>(start + 9, 100);
		uint64_t k = inactive_peaks(100, start);
		Digest root = t.mmr.root(h, k);
		Proof p = build_proof(h, t.store, 100, k, start, end);
		std::vector<Digest> pins;
		for (uint64_t pos : nodes_to_pin(start))
			pins.push_back(*t.store.get(pos));
		EXPECT_TRUE(verify_proof_and_pinned_nodes(h, p, t.range(start, end), start, pins, root)) << start;
	}
}

TEST(Proof, CodecRoundTripAndCaps) {
	Hasher h;
	RawTree t(h, 11);
	Proof p = build_proof(h, t.store, 11, 1, 4, 7);
	Writer w;
	encode_proof(p, w);
	EXPECT_EQ(to_hex(w.bytes()).substr(0, 6), "0b0103");
	Reader r(w.bytes());
	EXPECT_EQ(decode_proof(r, 3), p);
	Reader r2(w.bytes());
	EXPECT_THROW(decode_proof(r2, 2), DecodeError);
	// leaves above MAX_LEAVES is invalid.
	Writer big;
	big.varint(MAX_LEAVES + 1);
	big.varint(0);
	big.varint(0);
	Reader r3(big.bytes());
	EXPECT_THROW(decode_proof(r3, 10), DecodeError);
}

TEST(Proof, PrunedNodesCannotBeProven) {
	Hasher h;
	RawTree t(h, 20);
	t.store.prune(location_to_position(8), nodes_to_pin(8));
	EXPECT_NO_THROW(build_proof(h, t.store, 20, 0, 8, 20));
	EXPECT_THROW(build_proof(h, t.store, 20, 0, 3, 5), Error);
}
