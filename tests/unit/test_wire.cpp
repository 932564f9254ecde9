#include "core/memory_db.h"
#include "core/wire.h"
#include "helpers.h"

#include <gtest/gtest.h>

using namespace qmdb;

namespace {

DecodeErrorKind
kind_of(const std::function<void()> &f) {
	try {
		f();
	} catch (const DecodeError &e) {
		return e.kind();
	}
	ADD_FAILURE() << "decoded";
	return DecodeErrorKind::Invalid;
}

OpFormat
fixed32() {
	return test::fixed32_format();
}

} // namespace

TEST(Target, CodecAndValidation) {
	Target t{test::to_digest(3), 5, 300};
	Bytes b = encode_target(t);
	EXPECT_EQ(to_hex(b), to_hex(t.root) + "05" + "ac02");
	EXPECT_EQ(decode_target(b), t);
	Bytes eq = encode_target({t.root, 7, 7});
	EXPECT_EQ(kind_of([&] { decode_target(eq); }), DecodeErrorKind::Invalid);
	Bytes back = encode_target({t.root, 8, 7});
	EXPECT_EQ(kind_of([&] { decode_target(back); }), DecodeErrorKind::Invalid);
	Bytes big = encode_target({t.root, 0, MAX_LEAVES + 1});
	EXPECT_EQ(kind_of([&] { decode_target(big); }), DecodeErrorKind::Invalid);
	Bytes extra = b;
	extra.push_back(0);
	EXPECT_EQ(kind_of([&] { decode_target(extra); }), DecodeErrorKind::ExtraData);
	Bytes cut(b.begin(), b.end() - 1);
	EXPECT_EQ(kind_of([&] { decode_target(cut); }), DecodeErrorKind::EndOfBuffer);
}

TEST(Target, Advances) {
	Target from{{}, 10, 20};
	EXPECT_TRUE(advances({{}, 10, 21}, from));
	EXPECT_TRUE(advances({{}, 15, 30}, from));
	EXPECT_FALSE(advances({{}, 10, 20}, from)); // same end
	EXPECT_FALSE(advances({{}, 9, 30}, from));  // start goes back
	EXPECT_FALSE(advances({{}, 10, 19}, from)); // end goes back
	EXPECT_FALSE(advances({{}, 10, MAX_LEAVES + 1}, from));
	EXPECT_TRUE(advances({{}, 10, MAX_LEAVES}, from));
}

TEST(Request, CodecBytes) {
	EXPECT_EQ(to_hex(encode_request(Request::operations(300, 5, 1000))), "00ac020500000000000003e8");
	EXPECT_EQ(to_hex(encode_request(Request::boundary(300, 5))), "01ac0205");
	for (const Request &r : {Request::operations(10, 0, 1), Request::operations(MAX_LEAVES, MAX_LEAVES - 1, UINT64_MAX),
	                         Request::boundary(2, 1)})
		EXPECT_EQ(decode_request(encode_request(r)), r);
	// A boundary differs from a one-operation Operations request only by its tag.
	EXPECT_NE(Request::boundary(10, 3), Request::operations(10, 3, 1));
}

TEST(Request, RejectsMalformed) {
	EXPECT_EQ(kind_of([] { decode_request(from_hex("02ac0205")); }), DecodeErrorKind::InvalidEnum);
	EXPECT_EQ(kind_of([] { decode_request(from_hex("010505")); }), DecodeErrorKind::Invalid); // start == size
	EXPECT_EQ(kind_of([] { decode_request(from_hex("010506")); }), DecodeErrorKind::Invalid); // start > size
	EXPECT_EQ(kind_of([] { decode_request(from_hex("000a000000000000000000")); }),
	          DecodeErrorKind::Invalid); // max_ops 0
	EXPECT_EQ(kind_of([] { decode_request(from_hex("000a0000000000000001")); }), DecodeErrorKind::EndOfBuffer);
	EXPECT_EQ(kind_of([] { decode_request(from_hex("01ac020500")); }), DecodeErrorKind::ExtraData);
	EXPECT_EQ(kind_of([] { decode_request(from_hex("")); }), DecodeErrorKind::EndOfBuffer);
	Writer huge;
	huge.u8(1);
	huge.varint(MAX_LEAVES + 1);
	huge.varint(0);
	EXPECT_EQ(kind_of([&] { decode_request(huge.bytes()); }), DecodeErrorKind::Invalid);
	EXPECT_EQ(kind_of([] { decode_request(from_hex("0180000a")); }), DecodeErrorKind::InvalidVarint);
}

TEST(Operation, VariableEncodings) {
	OpFormat f;
	f.key_size = 32;
	f.value_size = 32;
	EXPECT_EQ(to_hex(encode_op(f, Operation::commit(std::nullopt, 0))), "d30000");
	EXPECT_EQ(to_hex(encode_op(f, Operation::commit(std::nullopt, 300))), "d300ac02");
	Bytes k = test::bytes_of(test::to_digest(0));
	EXPECT_EQ(encode_op(f, Operation::remove(k)).size(), 33u);
	EXPECT_EQ(encode_op(f, Operation::commit(k, 1)).size(), 35u);
	for (const Operation &op :
	     {Operation::remove(k), Operation::update(k, k), Operation::commit(k, 77), Operation::commit(std::nullopt, 9)})
		EXPECT_EQ(decode_op(f, encode_op(f, op)), op);
}

TEST(Operation, FixedEncodingsArePadded) {
	OpFormat f = fixed32();
	EXPECT_EQ(f.fixed_total(), 65u);
	Bytes k = test::bytes_of(test::to_digest(0));
	EXPECT_EQ(to_hex(encode_op(f, Operation::remove(k))), "d1" + to_hex(k) + std::string(64, '0'));
	EXPECT_EQ(to_hex(encode_op(f, Operation::commit(k, 2))),
	          "d301" + to_hex(k) + "0000000000000002" + std::string(46, '0'));
	for (const Operation &op :
	     {Operation::remove(k), Operation::update(k, k), Operation::commit(k, 77), Operation::commit(std::nullopt, 9)})
		EXPECT_EQ(decode_op(f, encode_op(f, op)), op);
	OpFormat small;
	small.encoding = Encoding::Fixed;
	small.key_size = 40;
	small.value_size = 2;
	EXPECT_EQ(small.fixed_total(), 43u); // max(1+40+2, 1+1+2+8, 1+40)
}

TEST(Operation, DecodeRejects) {
	OpFormat f = fixed32();
	Bytes k = test::bytes_of(test::to_digest(0));
	Bytes del = encode_op(f, Operation::remove(k));
	Bytes padded = del;
	padded.back() = 1;
	EXPECT_EQ(kind_of([&] { decode_op(f, padded); }), DecodeErrorKind::Invalid);
	Bytes tag = del;
	tag[0] = 0xD4;
	EXPECT_EQ(kind_of([&] { decode_op(f, tag); }), DecodeErrorKind::InvalidEnum);
	Bytes commit = encode_op(f, Operation::commit(std::nullopt, 3));
	Bytes opt = commit;
	opt[1] = 2;
	EXPECT_EQ(kind_of([&] { decode_op(f, opt); }), DecodeErrorKind::InvalidEnum);
	Bytes ghost = commit;
	ghost[5] = 1; // bytes of an absent metadata must be zero
	EXPECT_EQ(kind_of([&] { decode_op(f, ghost); }), DecodeErrorKind::Invalid);
	Bytes floor = commit;
	floor[34] = 0x80; // floor = 2^63 > MAX_LEAVES
	EXPECT_EQ(kind_of([&] { decode_op(f, floor); }), DecodeErrorKind::Invalid);
	Bytes cut(del.begin(), del.end() - 1);
	EXPECT_EQ(kind_of([&] { decode_op(f, cut); }), DecodeErrorKind::EndOfBuffer);
	Bytes longer = del;
	longer.push_back(0);
	EXPECT_EQ(kind_of([&] { decode_op(f, longer); }), DecodeErrorKind::ExtraData);

	OpFormat v; // variable-length key and value
	v.max_key_len = 4;
	EXPECT_EQ(kind_of([&] { decode_op(v, from_hex("d1056162636465")); }), DecodeErrorKind::InvalidLength);
	EXPECT_EQ(kind_of([&] { decode_op(v, from_hex("d10361626364")); }), DecodeErrorKind::ExtraData);
	EXPECT_EQ(kind_of([&] { decode_op(v, from_hex("d30080")); }), DecodeErrorKind::EndOfBuffer);
	EXPECT_THROW(encode_op(v, Operation::remove(Bytes(5, 1))), Error);
}

// A journal row: operations laid end to end, split back exactly.
TEST(Operation, SplitsOperationsLaidEndToEnd) {
	Bytes k = test::bytes_of(test::to_digest(0));
	std::vector<Operation> ops = {Operation::update(k, k), Operation::remove(k), Operation::commit(k, 77),
	                              Operation::commit(std::nullopt, 300)};
	OpFormat variable;
	for (const OpFormat &f : {fixed32(), variable}) {
		Bytes row;
		for (const Operation &op : ops) {
			Bytes b = encode_op(f, op);
			row.insert(row.end(), b.begin(), b.end());
		}
		std::vector<ByteView> parts = split_ops(f, row);
		ASSERT_EQ(parts.size(), ops.size());
		for (size_t i = 0; i < ops.size(); i++)
			EXPECT_EQ(parts[i].to_bytes(), encode_op(f, ops[i])) << encoding_name(f.encoding) << " op " << i;
		EXPECT_TRUE(split_ops(f, Bytes()).empty());
		Bytes cut(row.begin(), row.end() - 1);
		EXPECT_EQ(kind_of([&] { split_ops(f, cut); }), DecodeErrorKind::EndOfBuffer) << encoding_name(f.encoding);
	}
	// Variable operations are decoded to find their ends: a bad tag is seen.
	EXPECT_EQ(kind_of([&] { split_ops(variable, from_hex("d30000d4")); }), DecodeErrorKind::InvalidEnum);
	EXPECT_EQ(split_ops(variable, from_hex("d30000d300ac02")).size(), 2u);
}

TEST(Response, RoundTripFromADatabase) {
	OpFormat f = fixed32();
	MemoryDb db(f);
	for (uint64_t i = 0; i < 30; i++)
		db.apply_batch({{test::bytes_of(test::to_digest(i % 7)), test::bytes_of(test::to_val(i, 0))}});
	uint64_t size = db.size();
	Response ops;
	ops.kind = RequestKind::Operations;
	ops.proof = db.historical_proof(size, 10, 5);
	for (uint64_t l = 10; l < 15; l++)
		ops.operations.push_back(db.op_bytes(l));
	Bytes wire = encode_response(ops);
	Response back = decode_response(wire, 5, f);
	EXPECT_EQ(back.proof, ops.proof);
	EXPECT_EQ(back.operations, ops.operations);
	std::vector<ByteView> elems(back.operations.begin(), back.operations.end());
	EXPECT_TRUE(verify_range_inclusion(db.hasher(), back.proof, elems, 10, db.root()));
	// Over the cap: 5 ops decoded with max_ops 4.
	EXPECT_EQ(kind_of([&] { decode_response(wire, 4, f); }), DecodeErrorKind::InvalidLength);

	Response bnd;
	bnd.kind = RequestKind::Boundary;
	bnd.proof = db.historical_proof(size, 12, 1);
	bnd.operations.push_back(db.op_bytes(12));
	bnd.pinned_nodes = db.pinned_nodes_at(12);
	Bytes bwire = encode_response(bnd);
	Response bback = decode_response(bwire, 1, f);
	EXPECT_EQ(bback.kind, RequestKind::Boundary);
	EXPECT_EQ(bback.pinned_nodes, bnd.pinned_nodes);
	EXPECT_TRUE(verify_proof_and_pinned_nodes(db.hasher(), bback.proof, {bback.operations[0]}, 12, bback.pinned_nodes,
	                                          db.root()));
	Bytes badtag = bwire;
	badtag[0] = 2;
	EXPECT_EQ(kind_of([&] { decode_response(badtag, 1, f); }), DecodeErrorKind::InvalidEnum);
	Bytes extra = bwire;
	extra.push_back(7);
	EXPECT_EQ(kind_of([&] { decode_response(extra, 1, f); }), DecodeErrorKind::ExtraData);
}

TEST(Response, EncodesIntoTheCallersMemory) {
	// As qmdb.serve does: into a buffer of the bound's size, the same bytes
	// as encode_response returns; a buffer too small is an error, not an
	// overrun.
	OpFormat f = fixed32();
	MemoryDb db(f);
	for (uint64_t i = 0; i < 30; i++)
		db.apply_batch({{test::bytes_of(test::to_digest(i)), test::bytes_of(test::to_val(i, 0))}});
	for (RequestKind kind : {RequestKind::Operations, RequestKind::Boundary}) {
		Response r;
		r.kind = kind;
		uint64_t n = kind == RequestKind::Operations ? 9 : 1;
		r.proof = db.historical_proof(db.size(), 11, n);
		for (uint64_t l = 11; l < 11 + n; l++)
			r.operations.push_back(db.op_bytes(l));
		if (kind == RequestKind::Boundary)
			r.pinned_nodes = db.pinned_nodes_at(11);
		Bytes expected = encode_response(r);
		size_t bound = encoded_response_bound(r);
		ASSERT_GE(bound, expected.size());
		Bytes buffer(bound + 1, 0xEE);
		Writer w(buffer.data(), bound);
		encode_response(r, w);
		ASSERT_EQ(w.size(), expected.size());
		EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + static_cast<long>(w.size())), expected);
		EXPECT_EQ(buffer[bound], 0xEE); // nothing past the capacity
		Bytes small(expected.size() - 1);
		Writer short_writer(small.data(), small.size());
		EXPECT_THROW(encode_response(r, short_writer), Error);
	}
}

TEST(Response, CapsAreCheckedBeforeAllocating) {
	OpFormat f = fixed32();
	// A claimed 2^32-1 ops with max_ops huge: rejected as truncated, not allocated.
	Writer w;
	w.u8(0);
	w.varint(1);
	w.varint(0);
	w.varint(0);
	w.varint(UINT32_MAX);
	EXPECT_EQ(kind_of([&] { decode_response(w.bytes(), UINT64_MAX, f); }), DecodeErrorKind::EndOfBuffer);
	// 65 pins exceed MAX_PINNED_NODES.
	Writer b;
	b.u8(1);
	b.varint(1);
	b.varint(0);
	b.varint(0);
	b.raw(encode_op(f, Operation::commit(std::nullopt, 0)));
	b.varint(65);
	EXPECT_EQ(kind_of([&] { decode_response(b.bytes(), 1, f); }), DecodeErrorKind::InvalidLength);
}
