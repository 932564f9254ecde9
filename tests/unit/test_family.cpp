// The QMDB family's other members (family spec): keyless, immutable and
// any::ordered. Upstream's conformance aggregates, the spec's derived
// vectors, the codecs' rejections, and the ordered invariant on random
// workloads.
#include "core/log_writer.h"
#include "core/memory_db.h"
#include "helpers.h"

#include <gtest/gtest.h>

#include <random>

using namespace qmdb;
using qmdb::test::be8_bytes;
using qmdb::test::bytes_of;
using qmdb::test::to_digest;
using qmdb::test::to_val;

namespace {

OpFormat
format_of(DbKind kind, Encoding encoding, std::optional<uint32_t> key_size, std::optional<uint32_t> value_size) {
	OpFormat f;
	f.kind = kind;
	f.encoding = encoding;
	f.key_size = key_size;
	f.value_size = value_size;
	return f;
}

// Upstream's conformance types: 32-byte digests raw in both encodings;
// keyless values are U64 (fixed) or a Vec<u8> of 8 bytes (variable).
OpFormat
conformance_format(DbKind kind, Encoding encoding) {
	if (kind == DbKind::Keyless)
		return format_of(kind, encoding, std::nullopt,
		                 encoding == Encoding::Fixed ? std::optional<uint32_t>(8) : std::nullopt);
	return format_of(kind, encoding, 32, 32);
}

// colliding_digest(p, j): p, 23 zero bytes, be8(j) (upstream any/mod.rs).
Bytes
colliding_digest(uint8_t prefix, uint64_t j) {
	Bytes d(32, 0);
	d[0] = prefix;
	write_be8(d.data() + 24, j);
	return d;
}

// SHA256(‖ le8(32) ‖ root) over seeds 0..199 (conformance/src/lib.rs).
template <typename RootOf>
std::string
aggregate(RootOf root_of) {
	Bytes all;
	for (uint64_t seed = 0; seed < 200; seed++) {
		Digest r = root_of(seed);
		uint8_t le8[8] = {32, 0, 0, 0, 0, 0, 0, 0};
		all.insert(all.end(), le8, le8 + 8);
		all.insert(all.end(), r.begin(), r.end());
	}
	Sha256 sha;
	return to_hex(sha.hash(all));
}

// keyless_root!: three batches of appends, floor 0, no metadata.
Digest
keyless_root(Encoding e, uint64_t seed) {
	MemoryDb db(conformance_format(DbKind::Keyless, e));
	uint64_t n = seed % 30 + 5;
	auto batch = [&](uint64_t base, uint64_t count) {
		std::vector<Bytes> values;
		for (uint64_t i = 0; i < count; i++)
			values.push_back(be8_bytes(base + i)); // wrapping, as u64 is
		db.apply_appends(values, std::nullopt, db.floor());
	};
	batch(seed, n);
	batch(seed + n, n);
	batch(~seed, n / 2);
	return db.root();
}

// immutable_root!: three batches of disjoint sets, floor 0, no metadata.
Digest
immutable_root(Encoding e, uint64_t seed) {
	MemoryDb db(conformance_format(DbKind::Immutable, e));
	uint64_t n = seed % 30 + 5;
	uint8_t prefix = static_cast<uint8_t>(seed % 256);
	Mutations m;
	for (uint64_t i = 0; i < n; i++)
		m[bytes_of(to_digest(i))] = bytes_of(to_val(i, 1));
	db.apply_sets(m, std::nullopt, db.floor());
	m.clear();
	for (uint64_t i = n; i < 2 * n; i++)
		m[bytes_of(to_digest(i))] = bytes_of(to_val(i, 2));
	db.apply_sets(m, std::nullopt, db.floor());
	m.clear();
	for (uint64_t i = 0; i < n / 2; i++)
		m[colliding_digest(prefix, 10000 + i)] = bytes_of(to_val(i, 3));
	db.apply_sets(m, std::nullopt, db.floor());
	return db.root();
}

// keyed_root: the four batches of every keyed conformance workload.
Digest
keyed_root(const OpFormat &format, uint64_t seed) {
	MemoryDb db(format);
	uint64_t n = seed % 50 + 5;
	uint8_t prefix = static_cast<uint8_t>(seed % 256);
	auto deleted = [&](uint64_t i) { return (seed ^ i) % 5 == 0; };
	Mutations m;
	for (uint64_t i = 0; i < n; i++)
		m[bytes_of(to_digest(i))] = bytes_of(to_val(i, 1));
	db.apply_batch(m);
	m.clear();
	for (uint64_t i = 0; i < n; i++)
		m[bytes_of(to_digest(i))] = deleted(i) ? std::nullopt : std::optional<Bytes>(bytes_of(to_val(i, 2)));
	db.apply_batch(m);
	m.clear();
	for (uint64_t i = 0; i < n; i++)
		if (deleted(i))
			m[bytes_of(to_digest(i))] = bytes_of(to_val(i, 3));
	for (uint64_t i = 0; i < n / 2; i++)
		m[colliding_digest(prefix, 10000 + i)] = bytes_of(to_val(i, 4));
	db.apply_batch(m);
	m.clear();
	for (uint64_t i = 0; i < n; i++)
		m[bytes_of(to_digest(i))] = bytes_of(to_val(i, 5));
	for (uint64_t i = 0; i < n / 2; i++)
		m[colliding_digest(prefix, 10000 + i)] =
		    i % 2 == 1 ? std::nullopt : std::optional<Bytes>(bytes_of(to_val(i, 6)));
	db.apply_batch(m);
	return db.root();
}

std::string
op_hex(const MemoryDb &db, uint64_t loc) {
	return to_hex(db.op_bytes(loc));
}

} // namespace

// commonware storage/conformance.toml, n_cases = 200 (family spec §0).
TEST(FamilyConformance, KeylessMmrFixedConf) {
	EXPECT_EQ(aggregate([](uint64_t s) { return keyless_root(Encoding::Fixed, s); }),
	          "311e78baa8209313a49f2d788d96aa880ba4b3c1c5c88f3151b665f25160fad8");
}
TEST(FamilyConformance, KeylessMmrVariableConf) {
	EXPECT_EQ(aggregate([](uint64_t s) { return keyless_root(Encoding::Variable, s); }),
	          "d6b0f89534be60d85f5754c16574536d84899fce930dfc182ef973475d3078e4");
}
TEST(FamilyConformance, ImmutableMmrFixedConf) {
	EXPECT_EQ(aggregate([](uint64_t s) { return immutable_root(Encoding::Fixed, s); }),
	          "e7917ffa234b8a156ac3d556ae4056bf307be259b1d6afe50256adc06e4ba133");
}
TEST(FamilyConformance, ImmutableMmrVariableConf) {
	EXPECT_EQ(aggregate([](uint64_t s) { return immutable_root(Encoding::Variable, s); }),
	          "e4e85deaf4b968ee4074a3e7d82edc4fe244feec4361a6c17c085302febfb6d3");
}
TEST(FamilyConformance, AnyMmrOrderedFixedConf) {
	OpFormat f = conformance_format(DbKind::Ordered, Encoding::Fixed);
	EXPECT_EQ(aggregate([&](uint64_t s) { return keyed_root(f, s); }),
	          "2c82870cf341bd0a55cdec3114d8dee0b8033a4cc552dd1d5ab421f092496b55");
}
TEST(FamilyConformance, AnyMmrOrderedVariableConf) {
	OpFormat f = conformance_format(DbKind::Ordered, Encoding::Variable);
	EXPECT_EQ(aggregate([&](uint64_t s) { return keyed_root(f, s); }),
	          "e42304d395e9fa591637a5559c76086f86b9d2af9245ff45d31cacb2db1d65cf");
}

// Family spec §5: the initial roots of every kind and encoding.
TEST(FamilyVectors, InitialRoots) {
	const std::tuple<DbKind, Encoding, const char *> cases[] = {
	    {DbKind::Keyless, Encoding::Fixed, "b0bef3ce703732e6c41aee754eb0a7ff51173b259b4ac59cba63cdb97c77824c"},
	    {DbKind::Keyless, Encoding::Variable, "550b70a7c0fd428441985a82b1e8b1e9d64fb376d4d2b451f25d368fdff437d1"},
	    {DbKind::Immutable, Encoding::Fixed, "290cbd39f3eaaca7cb4a92f4a2740fc438cabb99144258b24ba0cf54b3f4cfec"},
	    {DbKind::Immutable, Encoding::Variable, "0de3acdef91e867ed7b8d9ee27331b3c8d4da550d1aa078058b0900d603725b5"},
	    {DbKind::Ordered, Encoding::Fixed, "058e68ab381d74d82cd54bc8890015433d3bbb1cd8591c7e9870b2a8d774b03b"},
	    {DbKind::Ordered, Encoding::Variable, "e24bf56ac8c9cd132ab3931b8c85795af8611744e8742063307222ff9d7ccd82"},
	};
	for (const auto &c : cases) {
		MemoryDb db(conformance_format(std::get<0>(c), std::get<1>(c)));
		EXPECT_EQ(to_hex(db.root()), std::get<2>(c))
		    << db_kind_name(std::get<0>(c)) << " " << encoding_name(std::get<1>(c));
	}
}

// §5.1: metadata and a floor of 4 (one inactive peak).
TEST(FamilyVectors, Keyless) {
	for (Encoding e : {Encoding::Fixed, Encoding::Variable}) {
		bool fixed = e == Encoding::Fixed;
		MemoryDb db(conformance_format(DbKind::Keyless, e));
		db.apply_appends({be8_bytes(5), be8_bytes(6)}, std::nullopt, 0);
		EXPECT_EQ(op_hex(db, 1), fixed ? "010000000000000005000000000000000000" : "01080000000000000005");
		EXPECT_EQ(op_hex(db, 2), fixed ? "010000000000000006000000000000000000" : "01080000000000000006");
		EXPECT_EQ(op_hex(db, 3), fixed ? "00" + std::string(34, '0') : "000000");
		EXPECT_EQ(to_hex(db.root()), fixed ? "e2626bb4cd5c9f921f5a9fb3ab7fa32d44210ae1751892b3aadf31e08c89b4ec"
		                                   : "a5be95070605064b395c75d59b7cacadedad3d17ea616a978c79dafc5520b623");
		db.apply_appends({be8_bytes(7)}, be8_bytes(42), 4);
		EXPECT_EQ(op_hex(db, 5), fixed ? "0001000000000000002a0000000000000004" : "000108000000000000002a04");
		EXPECT_EQ(to_hex(db.root()), fixed ? "910c5b5e21e763c8e635073212f218760f01f523ac0a28c5c0980375c200e87e"
		                                   : "13338e333070f51e0752077e871963c328043d759eaf6e3237d9f044a2dc363e");
		EXPECT_EQ(db.floor(), 4u);
	}
}

// §5.2: sets emitted in key order, then metadata and a floor of 4.
TEST(FamilyVectors, Immutable) {
	for (Encoding e : {Encoding::Fixed, Encoding::Variable}) {
		bool fixed = e == Encoding::Fixed;
		MemoryDb db(conformance_format(DbKind::Immutable, e));
		Mutations m;
		m[bytes_of(to_digest(1))] = bytes_of(to_val(1, 1));
		m[bytes_of(to_digest(0))] = bytes_of(to_val(0, 1));
		db.apply_sets(m, std::nullopt, 0);
		EXPECT_EQ(db.op(1).key, bytes_of(to_digest(0))); // af55... before cd26...
		EXPECT_EQ(db.op(2).key, bytes_of(to_digest(1)));
		EXPECT_EQ(db.op_bytes(1).size(), 65u);
		EXPECT_EQ(op_hex(db, 3), fixed ? "0100" + std::string(126, '0') : "010000");
		EXPECT_EQ(to_hex(db.root()), fixed ? "391b39f71d7c73015c91c76d9cfe8ebd5b861019468ea7cf74e774fc0fda2a5f"
		                                   : "65ed56e286f869218e3857e185faa8f503e37a5f555c8bd8834176ffd8ef3dc9");
		m.clear();
		m[bytes_of(to_digest(2))] = bytes_of(to_val(2, 2)); // the spec leaves the value out; this one matches
		db.apply_sets(m, bytes_of(to_val(9, 9)), 4);
		EXPECT_EQ(to_hex(db.root()), fixed ? "8717672622373900fea726b3c51dfe1598e4dbc22121524f51e4f1ffcf44aead"
		                                   : "a1ee29378c61b780d1b9f7359745788dc26f313c01d7b746ecca9b16902ce03a");
	}
}

// §5.3: creates, a predecessor rewrite, a cyclic one, and moves that keep
// their next_key, op by op.
TEST(FamilyVectors, Ordered) {
	Bytes af55 = bytes_of(to_digest(0)), cd04 = bytes_of(to_digest(2)), cd26 = bytes_of(to_digest(1));
	for (Encoding e : {Encoding::Fixed, Encoding::Variable}) {
		bool fixed = e == Encoding::Fixed;
		MemoryDb db(conformance_format(DbKind::Ordered, e));
		auto expect_update = [&](uint64_t loc, const Bytes &k, const Bytes &nk) {
			Operation op = db.op(loc);
			EXPECT_EQ(op.kind, OpKind::Update) << loc;
			EXPECT_EQ(op.key, k) << loc;
			EXPECT_EQ(op.next_key, nk) << loc;
		};
		db.apply_batch({{cd26, bytes_of(to_val(1, 1))}, {af55, bytes_of(to_val(0, 1))}});
		expect_update(1, af55, cd26);
		expect_update(2, cd26, af55);
		expect_update(3, af55, cd26);
		EXPECT_EQ(db.floor(), 2u);
		EXPECT_EQ(db.size(), 5u);
		EXPECT_EQ(to_hex(db.root()), fixed ? "2a4dc819c4c82a4363b2552d34099b2b38f454caad26ed759b5720ea4e0fd10f"
		                                   : "89535b73b5a0bb1f857bb85ee2ec99edf26583d995da4cade8ab57ea065b4dc3");
		db.apply_batch({{cd04, bytes_of(to_val(2, 1))}});
		expect_update(5, cd04, cd26);
		expect_update(6, af55, cd04);
		expect_update(7, cd26, af55);
		expect_update(8, cd04, cd26);
		EXPECT_EQ(db.floor(), 6u);
		EXPECT_EQ(to_hex(db.root()), fixed ? "c17937ee684d674f4ffb3be61075245942683c967c1a5f988540f363b1ac7964"
		                                   : "6f82a3b1defc933fa644612f3c604f36cafd93f89f39fd44d8254c8f84891aac");
		db.apply_batch({{af55, std::nullopt}});
		EXPECT_EQ(db.op(10).kind, OpKind::Delete);
		expect_update(11, cd26, cd04);
		expect_update(12, cd04, cd26);
		expect_update(13, cd26, cd04);
		EXPECT_EQ(db.floor(), 12u);
		EXPECT_EQ(to_hex(db.root()), fixed ? "67e10da8fb19bf2ba2a1d73a8e2b95aa1abf9fd8a67026edae4480c91583d856"
		                                   : "3d5de7a5b42f901671b89c94d2b2cad03753c0c6fcf8581366f5c1d374365d39");
		db.apply_batch({{cd26, bytes_of(to_val(1, 2))}});
		expect_update(15, cd26, cd04);
		expect_update(16, cd04, cd26);
		expect_update(17, cd26, cd04);
		EXPECT_EQ(db.floor(), 16u);
		EXPECT_EQ(db.size(), 19u);
		EXPECT_EQ(to_hex(db.root()), fixed ? "d8608897f55399ff98131beee892101059ef03efa8b275350b365771f3f77f35"
		                                   : "bad961590674ddd1e0c52ea22c7cb241ab58e4df9c5ccce1f8c019aa12c6a80d");
		if (fixed) { // TOTAL = 97: an Update unpadded, a Delete padded with 64 zero bytes
			EXPECT_EQ(db.op_bytes(11).size(), 97u);
			EXPECT_EQ(op_hex(db, 10), "d1" + to_hex(af55) + std::string(128, '0'));
		} else {
			EXPECT_EQ(op_hex(db, 10), "d1" + to_hex(af55));
		}
	}
}

// After every batch of random workloads (few first bytes, so keys crowd
// together; deletes of absent keys, rewrites, delete-all), each live key's
// Update points at the next live key in cyclic order, and a replay of the
// log from the floor gives the writer's snapshot.
TEST(FamilyOrdered, NextKeysFormACycle) {
	std::mt19937_64 rng(20261204);
	for (int w = 0; w < 60; w++) {
		MemoryDb db(format_of(DbKind::Ordered, w % 2 ? Encoding::Fixed : Encoding::Variable, 4, 4));
		for (int batch = 0; batch < 12; batch++) {
			Mutations m;
			int writes = static_cast<int>(rng() % 9);
			for (int i = 0; i < writes; i++) {
				Bytes key = {static_cast<uint8_t>(rng() % 3), static_cast<uint8_t>(rng() % 6), 0, 0};
				if (rng() % 3 == 0)
					m[key] = std::nullopt;
				else
					m[key] = Bytes{1, 2, 3, static_cast<uint8_t>(rng())};
			}
			if (batch == 9) // everything goes
				for (const auto &s : db.snapshot())
					m[s.first] = std::nullopt;
			db.apply_batch(m);
			const auto &snap = db.snapshot();
			for (auto it = snap.begin(); it != snap.end(); ++it) {
				auto next = std::next(it) == snap.end() ? snap.begin() : std::next(it);
				Operation op = db.op(it->second);
				ASSERT_EQ(op.key, it->first);
				ASSERT_EQ(op.next_key, next->first) << "workload " << w << " batch " << batch;
			}
			EXPECT_EQ(replay_snapshot(db.size(), [&](uint64_t loc) { return db.op(loc); }), snap);
			EXPECT_EQ(db.active_keys(), snap.size());
		}
	}
}

TEST(FamilyCodec, RoundTripsAndRejections) {
	for (Encoding e : {Encoding::Fixed, Encoding::Variable}) {
		OpFormat keyless = conformance_format(DbKind::Keyless, e);
		OpFormat immutable = conformance_format(DbKind::Immutable, e);
		OpFormat ordered = conformance_format(DbKind::Ordered, e);
		Operation a = Operation::append(be8_bytes(9));
		EXPECT_EQ(decode_op(keyless, encode_op(keyless, a)), a);
		Operation s = Operation::update(bytes_of(to_digest(1)), bytes_of(to_val(1, 1)));
		EXPECT_EQ(decode_op(immutable, encode_op(immutable, s)), s);
		Operation u = Operation::update(bytes_of(to_digest(1)), bytes_of(to_val(1, 1)), bytes_of(to_digest(2)));
		EXPECT_EQ(decode_op(ordered, encode_op(ordered, u)), u);
		Operation c = Operation::commit(be8_bytes(3), 7);
		EXPECT_EQ(decode_op(keyless, encode_op(keyless, Operation::commit(be8_bytes(3), 7))), c);
		// Operations a kind does not have are neither written nor read.
		EXPECT_THROW(encode_op(keyless, s), Error);
		EXPECT_THROW(encode_op(immutable, Operation::remove(bytes_of(to_digest(1)))), Error);
		EXPECT_THROW(encode_op(immutable, a), Error);
		// Tags are the kind's own: an `any` Delete's D1 is nothing in immutable.
		Bytes d1 = encode_op(ordered, Operation::remove(bytes_of(to_digest(1))));
		EXPECT_THROW(decode_op(immutable, d1), DecodeError);
		Bytes set = encode_op(immutable, s);
		EXPECT_THROW(decode_op(ordered, set), DecodeError);
		// Keyless's 01 is an Append, immutable's 01 a Commit.
		Bytes commit = encode_op(immutable, Operation::commit(std::nullopt, 0));
		EXPECT_EQ(commit[0], 0x01);
		EXPECT_EQ(encode_op(keyless, a)[0], 0x01);
		EXPECT_EQ(encode_op(keyless, Operation::commit(std::nullopt, 0))[0], 0x00);
	}
	// A keyless database has no keys.
	EXPECT_THROW(format_of(DbKind::Keyless, Encoding::Fixed, 8, 8).validate(), Error);
	EXPECT_NO_THROW(format_of(DbKind::Keyless, Encoding::Fixed, std::nullopt, 8).validate());
	// Fixed padding must be zero in every kind.
	OpFormat keyless = conformance_format(DbKind::Keyless, Encoding::Fixed);
	Bytes append = encode_op(keyless, Operation::append(be8_bytes(1)));
	append.back() = 1;
	EXPECT_THROW(decode_op(keyless, append), DecodeError);
}

TEST(FamilyWriters, CallerFloorIsChecked) {
	MemoryDb keyless(conformance_format(DbKind::Keyless, Encoding::Variable));
	// The commit of a batch of two appends is at 3: floors 0..3 are allowed.
	EXPECT_THROW(keyless.apply_appends({be8_bytes(1), be8_bytes(2)}, std::nullopt, 4), Error);
	keyless.apply_appends({be8_bytes(1), be8_bytes(2)}, std::nullopt, 3);
	EXPECT_EQ(keyless.floor(), 3u);
	EXPECT_THROW(keyless.apply_appends({be8_bytes(3)}, std::nullopt, 2), Error); // regressed
	EXPECT_THROW(keyless.apply_batch({{be8_bytes(1), be8_bytes(1)}}), Error);
	MemoryDb immutable(conformance_format(DbKind::Immutable, Encoding::Fixed));
	EXPECT_THROW(immutable.apply_sets({{bytes_of(to_digest(1)), std::nullopt}}, std::nullopt, 0), Error);
	EXPECT_THROW(immutable.apply_appends({be8_bytes(1)}, std::nullopt, 0), Error);
	// A key set again gets another Set; reads see the newest.
	immutable.apply_sets({{bytes_of(to_digest(1)), bytes_of(to_val(1, 1))}}, std::nullopt, 0);
	immutable.apply_sets({{bytes_of(to_digest(1)), bytes_of(to_val(1, 2))}}, std::nullopt, 0);
	EXPECT_EQ(immutable.size(), 5u);
	EXPECT_EQ(immutable.get(bytes_of(to_digest(1))), bytes_of(to_val(1, 2)));
}

// A batch that deletes a long run of neighbouring keys walks the run once:
// the navigation calls stay linear in the batch (a walk per key near the
// run would make them quadratic).
TEST(FamilyOrdered, RunsOfDeletesAreWalkedOnce) {
	struct Counting : MemoryDb {
		using MemoryDb::MemoryDb;
		uint64_t calls = 0;
		std::optional<Bytes> live_key_after(const Bytes *k) override {
			calls++;
			return MemoryDb::live_key_after(k);
		}
		std::optional<Bytes> live_key_before(const Bytes *k) override {
			calls++;
			return MemoryDb::live_key_before(k);
		}
	};
	Counting db(format_of(DbKind::Ordered, Encoding::Variable, 8, 1));
	Mutations all;
	for (uint64_t i = 0; i < 3000; i++)
		all[be8_bytes(i)] = Bytes{1};
	db.apply_batch(all);
	Mutations m;
	for (uint64_t i = 1; i < 2999; i++)
		m[be8_bytes(i)] = std::nullopt;
	m[be8_bytes(0)] = Bytes{2};    // its next key lies past the run
	m[be8_bytes(5000)] = Bytes{3}; // a create whose predecessor lies past it
	db.calls = 0;
	db.apply_batch(m);
	EXPECT_LT(db.calls, 4u * 3000);
	EXPECT_EQ(db.snapshot().size(), 3u);
	// 0 -> 2999 -> 5000 -> 0, cyclically.
	EXPECT_EQ(db.op(db.snapshot().at(be8_bytes(0))).next_key, be8_bytes(2999));
	EXPECT_EQ(db.op(db.snapshot().at(be8_bytes(2999))).next_key, be8_bytes(5000));
	EXPECT_EQ(db.op(db.snapshot().at(be8_bytes(5000))).next_key, be8_bytes(0));
}
