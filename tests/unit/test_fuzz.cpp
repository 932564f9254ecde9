// Decoders on random, truncated and corrupted input: they never crash, never
// read out of bounds (run under ASan/valgrind to see), and never accept bytes
// that do not re-encode to themselves.
#include "core/memory_db.h"
#include "core/wire.h"
#include "helpers.h"

#include <gtest/gtest.h>

#include <random>

using namespace qmdb;

namespace {

const OpFormat &
format_for(int i) {
	static const OpFormat formats[] = {
	    [] {
		    OpFormat f;
		    f.encoding = Encoding::Fixed;
		    f.key_size = 32;
		    f.value_size = 32;
		    return f;
	    }(),
	    [] {
		    OpFormat f;
		    f.key_size = 32;
		    f.value_size = 32;
		    return f;
	    }(),
	    [] {
		    OpFormat f;
		    f.max_key_len = 64;
		    f.max_value_len = 256;
		    return f;
	    }(),
	    [] {
		    OpFormat f;
		    f.encoding = Encoding::Fixed;
		    f.key_size = 8;
		    f.value_size = 3;
		    return f;
	    }(),
	};
	return formats[i % 4];
}

// A valid encoded Response from a small random database.
Bytes
valid_response(std::mt19937_64 &rng, const OpFormat &f, uint64_t &max_ops) {
	MemoryDb db(f);
	int batches = 1 + static_cast<int>(rng() % 8);
	for (int b = 0; b < batches; b++) {
		Mutations m;
		for (int i = 0; i < 3; i++) {
			Bytes k(f.key_size ? *f.key_size : 1 + rng() % 10, static_cast<uint8_t>(rng() % 5));
			Bytes v(f.value_size ? *f.value_size : rng() % 20, static_cast<uint8_t>(rng()));
			m[k] = v;
		}
		db.apply_batch(m);
	}
	uint64_t size = db.size();
	uint64_t start = rng() % size;
	Response r;
	if (rng() % 2) {
		r.kind = RequestKind::Boundary;
		r.proof = db.historical_proof(size, start, 1);
		r.operations.push_back(db.op_bytes(start));
		r.pinned_nodes = db.pinned_nodes_at(start);
		max_ops = 1;
	} else {
		max_ops = 1 + rng() % 8;
		r.proof = db.historical_proof(size, start, max_ops);
		for (uint64_t l = start; l < std::min(size, start + max_ops); l++)
			r.operations.push_back(db.op_bytes(l));
	}
	return encode_response(r);
}

} // namespace

TEST(Fuzz, RandomBytesNeverDecodeToGarbage) {
	size_t accepted = 0;
	for (uint32_t seed = 0; seed < 20000; seed++) {
		std::mt19937_64 rng(seed);
		Bytes b(rng() % 96);
		for (auto &x : b)
			x = static_cast<uint8_t>(rng() % 4 == 0 ? rng() % 4 : rng());
		const OpFormat &f = format_for(static_cast<int>(seed));
		try {
			Request r = decode_request(b);
			ASSERT_EQ(encode_request(r), b);
			accepted++;
		} catch (const DecodeError &) {
		}
		try {
			Target t = decode_target(b);
			ASSERT_EQ(encode_target(t), b);
			accepted++;
		} catch (const DecodeError &) {
		}
		try {
			Operation op = decode_op(f, b);
			ASSERT_EQ(encode_op(f, op), b);
			accepted++;
		} catch (const DecodeError &) {
		}
		try {
			Response r = decode_response(b, 1 + seed % 9, f);
			ASSERT_EQ(encode_response(r), b);
			accepted++;
		} catch (const DecodeError &) {
		}
	}
	RecordProperty("accepted", static_cast<int>(accepted));
}

TEST(Fuzz, CorruptedResponsesRoundTripOrFail) {
	size_t rejected = 0, total = 0;
	for (uint32_t seed = 0; seed < 1500; seed++) {
		std::mt19937_64 rng(seed);
		const OpFormat &f = format_for(static_cast<int>(seed));
		uint64_t max_ops = 1;
		Bytes good = valid_response(rng, f, max_ops);
		Response decoded = decode_response(good, max_ops, f);
		ASSERT_EQ(encode_response(decoded), good);
		// Every truncation fails.
		for (size_t cut = 0; cut < good.size(); cut += 1 + rng() % 7) {
			Bytes t(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
			EXPECT_THROW(decode_response(t, max_ops, f), DecodeError) << seed << " cut " << cut;
		}
		// Random corruption: either an error, or bytes that re-encode exactly.
		for (int trial = 0; trial < 8; trial++) {
			Bytes c = good;
			int flips = 1 + static_cast<int>(rng() % 3);
			for (int i = 0; i < flips; i++)
				c[rng() % c.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
			if (rng() % 4 == 0)
				c.insert(c.begin() + static_cast<std::ptrdiff_t>(rng() % c.size()), static_cast<uint8_t>(rng()));
			total++;
			try {
				Response r = decode_response(c, max_ops, f);
				ASSERT_EQ(encode_response(r), c);
			} catch (const DecodeError &) {
				rejected++;
			}
		}
	}
	EXPECT_GT(rejected, 0u);
	EXPECT_GT(total, rejected); // many single-byte flips land in digests and still parse
}
