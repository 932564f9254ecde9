#include "core/hash.h"
#include "helpers.h"

#include <gtest/gtest.h>

using namespace qmdb;

TEST(Sha256, KnownAnswers) {
	Sha256 sha;
	EXPECT_EQ(to_hex(sha.hash(ByteView())), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	Bytes abc = {'a', 'b', 'c'};
	EXPECT_EQ(to_hex(sha.hash(abc)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	// Parts are concatenated with no separator, and a context is reusable.
	Bytes a = {'a'}, bc = {'b', 'c'};
	EXPECT_EQ(sha.hash({a, bc}), sha.hash(abc));
}

TEST(Hasher, PreImages) {
	Hasher h;
	Sha256 sha;
	// Empty root = SHA256(be8(0)) (spec §1.9.2, n = 0).
	EXPECT_EQ(to_hex(h.empty_root()), "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc");
	Digest x = test::to_digest(1), y = test::to_digest(2);
	Bytes pre = test::be8_bytes(7);
	pre.insert(pre.end(), x.begin(), x.end());
	pre.insert(pre.end(), y.begin(), y.end());
	EXPECT_EQ(h.node(7, x, y), sha.hash(pre));
	EXPECT_EQ(h.fold(x, y), sha.hash({x, y}));
	Bytes k0 = test::be8_bytes(5);
	EXPECT_EQ(h.root_from_folded(5, 0, x), sha.hash({k0, x}));
	Bytes k2 = test::be8_bytes(2);
	EXPECT_EQ(h.root_from_folded(5, 2, x), sha.hash({k0, k2, x}));
}
