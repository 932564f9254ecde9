#include "core/merkle.h"
#include "helpers.h"

#include <gtest/gtest.h>

using namespace qmdb;
using qmdb::test::be8_bytes;
using qmdb::test::to_digest;

namespace {

// An MMR whose element i is SHA256(be8(i)) (the conformance recipe).
struct DigestTree {
	MemoryNodeStore store;
	Mmr mmr;
	DigestTree(Hasher &h, uint64_t n) {
		for (uint64_t i = 0; i < n; i++)
			mmr.append(h, store, to_digest(i));
	}
};

// An MMR whose element i is the raw be8(i) (upstream proof tests' build_raw).
struct RawTree {
	MemoryNodeStore store;
	Mmr mmr;
	RawTree(Hasher &h, uint64_t n) {
		for (uint64_t i = 0; i < n; i++)
			mmr.append(h, store, be8_bytes(i));
	}
};

} // namespace

TEST(Merkle, MmrRootStabilityAggregate) {
	// commonware storage/conformance.toml, MmrRootStability, n_cases = 200:
	// aggregate = SHA256(concat(le8(32) || root_seed)) over seeds 0..199.
	Hasher h(Bagging::ForwardFold);
	Sha256 sha;
	Bytes all;
	MemoryNodeStore store;
	Mmr mmr;
	for (uint64_t seed = 0; seed < 200; seed++) {
		// The tree of `seed` elements is a prefix of the next one.
		ASSERT_EQ(mmr.leaves(), seed);
		Digest root = mmr.root(h, 0);
		uint8_t le8[8] = {32, 0, 0, 0, 0, 0, 0, 0};
		all.insert(all.end(), le8, le8 + 8);
		all.insert(all.end(), root.begin(), root.end());
		mmr.append(h, store, to_digest(seed));
	}
	EXPECT_EQ(to_hex(sha.hash(all)), "4078ce1f5e242f8edb1d41575d51e166af620404036124f8094fc74d4b401047");
}

TEST(Merkle, ForwardFoldRoots) {
	const std::pair<uint64_t, const char *> cases[] = {
	    {0, "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc"},
	    {1, "7676407563b96f8f78658b5b6fd523b190634cf5435393a66d62986a35cdd838"},
	    {2, "df6cbde68147ea5ad3282787273c2570137d8ac55e9815049cf8098aed18bff1"},
	    {3, "9298d0091664cf4cce531b3e9e63aabd9b4782ba78d5512ddb5d8a2a3b7adbdf"},
	    {7, "8b80e6b0470504809488c69159bc90a9af556bf88656e3f0d4aa6d69b9fcc27d"},
	    {8, "13a26662a051144a167ae0f6f7d988c135d05cd5f80d5f67763b6d78ea72a6bf"},
	    {11, "a39bd2d0f3ca6dd403db3177a55ade675a4a03dd2e764077e0d9ef76ab346fc1"},
	    {100, "2736b7451fa5599e47133e7a5c2021c953cb892b8f0cf93269395d355e890379"},
	    {199, "aaee4faf091a36b26820222838db09c8a06c37dd68eacb433a58b530a6c8f961"},
	};
	Hasher h(Bagging::ForwardFold);
	for (const auto &c : cases) {
		DigestTree t(h, c.first);
		EXPECT_EQ(to_hex(t.mmr.root(h, 0)), c.second) << "n = " << c.first;
	}
}

TEST(Merkle, BackwardFoldRoots) {
	const std::pair<uint64_t, const char *> cases[] = {
	    {7, "94597f8b0dc614b5d6c206b0d60664a212c8ff5d3cf40afdc843f0a5e269947d"},
	    {11, "b165f6c0e08933365811f8ff6c15d05b376a52a4706af570cebecaf16e7324a9"},
	    {100, "143c8b492d78eeba38a00cc94e790549a450dafed4b5ca7dafb82cc869cd8f74"},
	    {199, "b586be30384ab4666ac7920624b67b6c3dd6901bcd16c52d3b206253bc605cb6"},
	};
	Hasher h(Bagging::BackwardFold);
	for (const auto &c : cases) {
		DigestTree t(h, c.first);
		EXPECT_EQ(to_hex(t.mmr.root(h, 0)), c.second) << "n = " << c.first;
	}
	// With one or two peaks the two baggings coincide.
	Hasher fwd(Bagging::ForwardFold);
	for (uint64_t n : {0, 1, 2, 3, 4, 5, 8, 16}) {
		DigestTree a(h, n), b(fwd, n);
		EXPECT_EQ(a.mmr.root(h, 0), b.mmr.root(fwd, 0)) << n;
	}
}

TEST(Merkle, RawElevenLeafTree) {
	Hasher h(Bagging::BackwardFold);
	RawTree t(h, 11);
	auto node = [&](uint64_t pos) { return to_hex(*t.store.get(pos)); };
	EXPECT_EQ(node(14), "79b61b14cbfdefcc4f09068e53ecd13c5ba6f11748757891c5434d4de451f7a4");
	EXPECT_EQ(node(17), "7772e9731da65c86a98080a7bcc485db4a93414eb0f53837f578f6906c1c82bb");
	EXPECT_EQ(node(18), "fc1875992c640f1f23692aedff8106fd31b7e0431a096cd0ad3c8d600eb0e486");
	EXPECT_EQ(node(0), "374708fff7719dd5979ec875d56cd2286f6d3cf7ec317a3b25632aab28ec37bb");
	EXPECT_EQ(node(2), "5d7e8e2cca269ec271671f55efdbaab04dc9ab4d7394b0fa2bb4e7703b8b1f2f");
	EXPECT_EQ(node(6), "af671e95438a19bbc0230c1c7994845f703d759a5846e1330d0e310fc49b1c9c");
	EXPECT_EQ(to_hex(t.mmr.root(h, 0)), "f76c1cd28e920c7be25fb36b2bf20c8c830fd6f007fbbedc3e9764221ffef6d1");
	EXPECT_EQ(to_hex(t.mmr.root(h, 1)), "c93c7018bc49191bef1b79d06bab828610a1822ceeae48858dbb6feda58f17ef");
	EXPECT_EQ(to_hex(t.mmr.root(h, 2)), "4e0ec5293a86407d75de2ba11b6934750988af2fe983b90ee7b500fddc1efa74");
	Hasher fwd(Bagging::ForwardFold);
	EXPECT_EQ(to_hex(root_from_peaks(fwd, 11, 0, t.mmr.peak_digests())),
	          "a9ed7665fb7efa70fa15abbb7a19b7c8f1992875b55c24179d6a6858752a9801");
	// k beyond the peak count, or k on an empty tree, is an error.
	EXPECT_THROW(t.mmr.root(h, 4), Error);
	MemoryNodeStore empty;
	EXPECT_THROW(Mmr().root(h, 1), Error);
}

TEST(Merkle, ReopenFromStoredPeaks) {
	Hasher h;
	RawTree t(h, 11);
	Mmr reopened(t.store, 11);
	EXPECT_EQ(reopened.root(h, 1), t.mmr.root(h, 1));
	reopened.append(h, t.store, be8_bytes(11));
	t.mmr.append(h, t.store, be8_bytes(11));
	EXPECT_EQ(reopened.root(h, 0), t.mmr.root(h, 0));
}

// A known parent is stored as given instead of hashed; each is asked for
// with its position and the location of its first leaf.
TEST(Merkle, KnownParentsAreTakenAsGiven) {
	Hasher h;
	MemoryNodeStore plain, given;
	Mmr a, b;
	Digest marker{};
	marker.fill(0xab);
	std::vector<std::pair<uint64_t, uint64_t>> asked;
	KnownParent known = [&](uint64_t pos, uint64_t first_leaf) -> const Digest * {
		asked.emplace_back(pos, first_leaf);
		return pos == 5 ? &marker : nullptr; // the parent of leaves 2 and 3
	};
	for (uint64_t i = 0; i < 4; i++) {
		Digest leaf = h.leaf(location_to_position(i), be8_bytes(i));
		a.append_leaf_digest(h, plain, leaf);
		b.append_leaf_digest(h, given, leaf, &known);
	}
	EXPECT_EQ(asked, (std::vector<std::pair<uint64_t, uint64_t>>{{2, 0}, {5, 2}, {6, 0}}));
	EXPECT_EQ(given.get(2), plain.get(2));
	EXPECT_EQ(given.get(5), marker);
	EXPECT_NE(given.get(6), plain.get(6)); // hashed from the marker
	EXPECT_EQ(*given.get(6), h.node(6, *plain.get(2), marker));
}

TEST(Merkle, QmdbInitialRoots) {
	Hasher h;
	Sha256 sha;
	auto initial = [&](const std::string &op_hex) {
		Bytes op = from_hex(op_hex);
		return to_hex(sha.hash({be8_bytes(1), h.leaf(0, op)}));
	};
	EXPECT_EQ(initial("d3" + std::string(66, '0') + "0000000000000000" + std::string(46, '0')),
	          "ea6e0567a525372add5e4ef4d0600c18ed47fa5dd041a0ab0d25b60ea8c35978");
	EXPECT_EQ(initial("d3" + std::string(66, '0') + "0000000000000000" + std::string(110, '0')),
	          "058e68ab381d74d82cd54bc8890015433d3bbb1cd8591c7e9870b2a8d774b03b");
	EXPECT_EQ(initial("d30000"), "e24bf56ac8c9cd132ab3931b8c85795af8611744e8742063307222ff9d7ccd82");
}
