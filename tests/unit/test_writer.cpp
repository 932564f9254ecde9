#include "core/memory_db.h"
#include "helpers.h"

#include <gtest/gtest.h>

#include <random>

using namespace qmdb;
using qmdb::test::bytes_of;
using qmdb::test::to_digest;
using qmdb::test::to_val;

namespace {

OpFormat
format_of(Encoding e) {
	OpFormat f;
	f.encoding = e;
	f.key_size = 32;
	f.value_size = 32;
	return f;
}

Bytes
key(uint64_t i) {
	return bytes_of(to_digest(i));
}

Bytes
val(uint64_t i, uint64_t s) {
	return bytes_of(to_val(i, s));
}

struct Section9 : ::testing::TestWithParam<Encoding> {};

} // namespace

TEST(WriterVectors, KeysAndValues) {
	EXPECT_EQ(to_hex(key(0)), "af5570f5a1810b7af78caf4bc70a660f0df51e42baf91d4de5b2328de0e83dfc");
	EXPECT_EQ(to_hex(key(1)), "cd2662154e6d76b2b2b92e70c0cac3ccf534f9b74eb5b89819ec509083d00a50");
	EXPECT_EQ(to_hex(val(0, 1)), "692865c9a376a1a82d161b0f9578595554873797fa9ebbb068b797828122e61d");
	EXPECT_EQ(to_hex(val(1, 1)), "8c7654ecfd7b0b623b803e2f4e02ad1cc84278efdfcd7c4c9208edd81f17e115");
	EXPECT_EQ(to_hex(val(0, 2)).substr(0, 8), "8b1ae42f");
	EXPECT_EQ(to_hex(val(1, 8)).substr(0, 8), "22db33e5");
}

TEST_P(Section9, InitialDatabase) {
	MemoryDb db(format_of(GetParam()));
	EXPECT_EQ(db.size(), 1u);
	EXPECT_EQ(db.floor(), 0u);
	EXPECT_EQ(to_hex(db.root()), GetParam() == Encoding::Variable
	                                 ? "e24bf56ac8c9cd132ab3931b8c85795af8611744e8742063307222ff9d7ccd82"
	                                 : "ea6e0567a525372add5e4ef4d0600c18ed47fa5dd041a0ab0d25b60ea8c35978");
}

TEST_P(Section9, FirstBatchCreatesTwoKeys) {
	bool var = GetParam() == Encoding::Variable;
	MemoryDb db(format_of(GetParam()));
	// Call order is irrelevant: k1 is written first.
	Mutations m;
	m[key(1)] = val(1, 1);
	m[key(0)] = val(0, 1);
	CommitResult r = db.apply_batch(m);
	EXPECT_EQ(r.size, 5u);
	EXPECT_EQ(r.floor, 2u);

	std::string k0v0 = "d2" + to_hex(key(0)) + to_hex(val(0, 1));
	std::string k1v1 = "d2" + to_hex(key(1)) + to_hex(val(1, 1));
	std::string commit0 = var ? "d30000" : "d3" + std::string(66, '0') + "0000000000000000" + std::string(46, '0');
	std::string commit2 = var ? "d30002"
	                          : "d3000000000000000000000000000000000000000000000000000000000000000000000000000000000200"
	                            "00000000000000000000000000000000000000000000";
	EXPECT_EQ(to_hex(db.op_bytes(0)), commit0);
	EXPECT_EQ(to_hex(db.op_bytes(1)), k0v0);
	EXPECT_EQ(to_hex(db.op_bytes(2)), k1v1);
	EXPECT_EQ(to_hex(db.op_bytes(3)), k0v0);
	EXPECT_EQ(to_hex(db.op_bytes(4)), commit2);

	auto node = [&](uint64_t pos) { return to_hex(*db.nodes().get(pos)); };
	EXPECT_EQ(node(0), var ? "9fde2cf8bc7ae93f2ac9e28bafba343d62c58674a0068d86a3acc6033ba01cca"
	                       : "30d49eb03e966008c8a9c903d7f7212bfc38f2c2ad056f579fa8c8b1c5459129");
	EXPECT_EQ(node(1), "7c3de10695023b5880510b958dd08a3edb791893e60672ecd74dd518e48dc216");
	EXPECT_EQ(node(2), var ? "d0677466d632f6c87fa006455bbfbf513fbb67883398e786557607fba40fdc41"
	                       : "a1181cc1ea5486210ccc11ccd67dd0a81ae1b5c538ab7929771f85c4a4692d7e");
	EXPECT_EQ(node(3), "f075149bcc97cb2aa01a29afbd3dcf633996409585a9ebf53f5119929946a28f");
	EXPECT_EQ(node(4), "c708979419737c673bbac7dbd8c58aae918243b3c256f5c99415d3cde184abe3");
	EXPECT_EQ(node(5), "ba27310db1a59ce0757a03ad98ddb6562a1378ff299c3ba6df660c94b78e6976");
	EXPECT_EQ(node(6), var ? "a6af9cfba230459cb1d84376f4271da847eb94209ca575b338b7bf75d4df882f"
	                       : "ce54697484810b9b4c65916f7e6d57155400963fab8850b69ea7ebdcaa56fa59");
	EXPECT_EQ(node(7), var ? "b2d4e88e63de75575f6c83b571066466cf13cdd284119f0722b370ddb7b1eb85"
	                       : "0291e7ad19b66da6cf0cf47f94049d6af1f795e3fd04c68c4590526a366a1b85");
	Digest bag = db.hasher().fold(*db.nodes().get(6), *db.nodes().get(7));
	EXPECT_EQ(to_hex(bag), var ? "df1ee292256df42a138ff24e857f82d82986090bab06e7f6fcd4390a36460589"
	                           : "591e7514b67dfdb7b18a0b2845b4593210713553994fc3da90abd9c40714874e");
	EXPECT_EQ(to_hex(r.root), var ? "6978611efa0d5a8f1414aecdddc02c511a26dea2cdb5d25d4151054cf04f5c0a"
	                              : "14575ce7f081d0ca85593be8daebc87a009e33e058c7cffbe12aa00677e6c7fb");
	std::map<Bytes, uint64_t> snap = {{key(0), 3}, {key(1), 2}};
	EXPECT_EQ(db.snapshot(), snap);
}

TEST_P(Section9, EdgeCasesInSequence) {
	bool var = GetParam() == Encoding::Variable;
	MemoryDb db(format_of(GetParam()));
	db.apply_batch({{key(1), val(1, 1)}, {key(0), val(0, 1)}});

	struct Step {
		Mutations m;
		uint64_t floor, leaves, k, live;
		const char *var_root, *fixed_root;
	};
	const Step steps[] = {
	    {{{key(0), val(0, 2)}},
	     6,
	     9,
	     0,
	     2,
	     "83ff7a30cdc0fea909d861782ca086d99f7b808aea22067ea674e490e963020d",
	     "64ded7d11d8cc2bbcc0acacb3211bc2fbf7f780a131a3bb6b96e3a1e9b875698"},
	    {{{key(1), std::nullopt}, {key(99), std::nullopt}},
	     10,
	     12,
	     1,
	     1,
	     "e5b21ecde4910b100aceb1621c8817d226ef8adfb8bb289265a330d5af3f7fc9",
	     "ff26f362e96a33bdf02da07f6bdb68d7bec193c0932fe6ff618d8d3080eaec6e"},
	    {{},
	     11,
	     14,
	     1,
	     1,
	     "d5c1de05bce5e3844c66199d080ca3da2397e83fd4a1764f1fe13fb61bd8c312",
	     "ec4fd100c6c21fb1f4f04284109ae93a6a08c67ad9aeeee1faa449c4249dc5f4"},
	    {{{key(0), std::nullopt}},
	     15,
	     16,
	     0,
	     0,
	     "a94afe158c390f4ce348733e7692ed0ea2b32304a032cf077bf98535e6c7c23b",
	     "0f4dd6fdac2c40def42ca7d89a92182acf6d55d1c68d200497da6c2a8b066ba3"},
	    // Two writes to k1 in one batch: the last wins (std::map keeps one).
	    {{{key(1), val(1, 8)}},
	     17,
	     19,
	     1,
	     1,
	     "23d8862badfe128712e6f975a9b09fa8159816a4ee7b3e1778607517d15c215a",
	     "b18f7513777ac99d22346d49fb962e5d46d1aa0476dca2a27f9895818f416e29"},
	};
	for (size_t i = 0; i < std::size(steps); i++) {
		const Step &s = steps[i];
		CommitResult r = db.apply_batch(s.m);
		SCOPED_TRACE("batch " + std::to_string(i + 2));
		EXPECT_EQ(r.floor, s.floor);
		EXPECT_EQ(r.size, s.leaves);
		EXPECT_EQ(inactive_peaks(r.size, r.floor), s.k);
		EXPECT_EQ(db.active_keys(), s.live);
		EXPECT_EQ(to_hex(r.root), var ? s.var_root : s.fixed_root);
	}
	// The ops of batch 2 and 3 as the spec lists them.
	EXPECT_EQ(db.op(5), Operation::update(key(0), val(0, 2)));
	EXPECT_EQ(db.op(6), Operation::update(key(1), val(1, 1)));
	EXPECT_EQ(db.op(7), Operation::update(key(0), val(0, 2)));
	EXPECT_EQ(db.op(8), Operation::commit(std::nullopt, 6));
	EXPECT_EQ(db.op(9), Operation::remove(key(1)));
	EXPECT_EQ(db.op(10), Operation::update(key(0), val(0, 2)));
	EXPECT_EQ(db.op(14), Operation::remove(key(0)));
	EXPECT_EQ(db.op(15), Operation::commit(std::nullopt, 15));
	EXPECT_EQ(db.get(key(1)), val(1, 8));
	EXPECT_FALSE(db.get(key(0)).has_value());
}

INSTANTIATE_TEST_SUITE_P(BothEncodings, Section9, ::testing::Values(Encoding::Variable, Encoding::Fixed),
                         [](const auto &info) { return std::string(encoding_name(info.param)); });

TEST(Writer, MetadataOnlyChangesTheCommit) {
	MemoryDb a(format_of(Encoding::Variable)), b(format_of(Encoding::Variable));
	Mutations m = {{key(5), val(5, 0)}};
	CommitResult ra = a.apply_batch(m, val(9, 9));
	CommitResult rb = b.apply_batch(m);
	EXPECT_NE(ra.root, rb.root);
	EXPECT_EQ(ra.floor, rb.floor);
	EXPECT_EQ(a.op(ra.size - 1), Operation::commit(val(9, 9), ra.floor));
}

TEST(Writer, RejectsWrongSizes) {
	MemoryDb db(format_of(Encoding::Fixed));
	EXPECT_THROW(db.apply_batch({{Bytes(31, 1), val(0, 0)}}), Error);
	EXPECT_THROW(db.apply_batch({{key(0), Bytes(33, 1)}}), Error);
	EXPECT_THROW(db.apply_batch({}, Bytes(3, 0)), Error);
	EXPECT_EQ(db.size(), 1u); // nothing was written
}

TEST(Writer, PruneNeverBeyondTheFloor) {
	MemoryDb db(format_of(Encoding::Variable));
	for (uint64_t i = 0; i < 20; i++)
		db.apply_batch({{key(i % 5), val(i, 0)}});
	Digest root = db.root();
	EXPECT_THROW(db.prune(db.floor() + 1), Error);
	db.prune(db.floor());
	EXPECT_EQ(db.root(), root);
	EXPECT_EQ(db.pruning_boundary(), db.floor());
	EXPECT_THROW(db.op_bytes(db.floor() - 1), Error);
	// Writing continues after pruning, and the pins keep the root computable.
	db.apply_batch({{key(7), val(7, 7)}});
	EXPECT_EQ(db.get(key(7)), val(7, 7));
}

// Random workloads: the snapshot replayed from [floor, size) equals the
// writer's, every active Update lies at or above the floor, and the log
// always ends with a commit.
TEST(Writer, ReplayMatchesWriterOnRandomWorkloads) {
	for (uint32_t seed = 0; seed < 60; seed++) {
		std::mt19937_64 rng(seed);
		OpFormat f;
		f.encoding = seed % 2 ? Encoding::Fixed : Encoding::Variable;
		f.key_size = 32;
		f.value_size = 32;
		MemoryDb db(f);
		uint64_t keyspace = 1 + rng() % 12;
		for (int batch = 0; batch < 40; batch++) {
			Mutations m;
			int writes = static_cast<int>(rng() % 6);
			for (int w = 0; w < writes; w++) {
				Bytes k = key(rng() % keyspace);
				if (rng() % 4 == 0)
					m[k] = std::nullopt;
				else
					m[k] = val(rng() % 1000, seed);
			}
			db.apply_batch(m, rng() % 5 == 0 ? std::optional<Bytes>(val(batch, 0)) : std::nullopt);
			uint64_t floor = 0;
			auto replayed = replay_snapshot(
			    db.size(), [&](uint64_t loc) { return db.op(loc); }, &floor);
			ASSERT_EQ(floor, db.floor());
			ASSERT_EQ(replayed, db.snapshot()) << "seed " << seed << " batch " << batch;
			for (const auto &e : db.snapshot())
				ASSERT_GE(e.second, db.floor());
			ASSERT_EQ(db.op(db.size() - 1).kind, OpKind::CommitFloor);
		}
	}
}

TEST(Writer, VariableLengthKeysAndValues) {
	OpFormat f; // variable encoding, variable-length key and value
	MemoryDb db(f);
	Bytes k = {'k', 'e', 'y'}, v = {'v'};
	db.apply_batch({{k, v}, {Bytes{'z'}, Bytes{}}});
	EXPECT_EQ(to_hex(db.op_bytes(1)), "d2036b6579"
	                                  "0176");
	EXPECT_EQ(to_hex(db.op_bytes(2)), "d2017a00");
	EXPECT_EQ(db.get(k), v);
	EXPECT_EQ(db.get(Bytes{'z'}), Bytes{});
}
