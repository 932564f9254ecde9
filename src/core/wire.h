// The sync messages (spec §4.1–§4.2): Target, Request and Response, byte for
// byte as commonware encodes them. Response operations are kept as their raw
// encoded bytes (each checked by decoding): those bytes are what the MMR
// hashes and what the journal stores, and decoding is canonical, so
// re-encoding would only reproduce them.
#pragma once

#include "operation.h"
#include "proof.h"

namespace qmdb {

// The trusted input of a sync: a root and the operation range [start, end).
struct Target {
	Digest root{};
	uint64_t start = 0;
	uint64_t end = 0;

	bool operator==(const Target &o) const { return root == o.root && start == o.start && end == o.end; }
	bool operator!=(const Target &o) const { return !(*this == o); }
};

void encode_target(const Target &t, Writer &w);
Bytes encode_target(const Target &t);
// Enforces start < end and both bounds <= MAX_LEAVES.
Target decode_target(ByteView bytes);

// Whether `next` may replace `from`: a strictly larger end and a start that does not go back.
bool advances(const Target &next, const Target &from);

enum class RequestKind : uint8_t { Operations = 0, Boundary = 1 };

struct Request {
	RequestKind kind = RequestKind::Operations;
	uint64_t size = 0;    // leaves of the tree whose root the proof must match
	uint64_t start = 0;   // first location wanted
	uint64_t max_ops = 1; // Operations only (non-zero); 1 for Boundary

	static Request operations(uint64_t size, uint64_t start, uint64_t max_ops) {
		return {RequestKind::Operations, size, start, max_ops};
	}
	static Request boundary(uint64_t size, uint64_t start) { return {RequestKind::Boundary, size, start, 1}; }

	bool operator==(const Request &o) const {
		return kind == o.kind && size == o.size && start == o.start && max_ops == o.max_ops;
	}
	bool operator!=(const Request &o) const { return !(*this == o); }
};

Bytes encode_request(const Request &r);
// Rejects unknown tags, start >= size, max_ops = 0, bounds beyond MAX_LEAVES, trailing bytes.
Request decode_request(ByteView bytes);

struct Response {
	RequestKind kind = RequestKind::Operations;
	Proof proof;
	std::vector<Bytes> operations;    // Boundary: exactly one
	std::vector<Digest> pinned_nodes; // Boundary only
};

Bytes encode_response(const Response &r);
// The same into a Writer (one over the caller's memory: the bytea a server
// returns), and an upper bound of the encoding's size to allocate first.
void encode_response(const Response &r, Writer &w);
size_t encoded_response_bound(const Response &r);
// Caps as upstream: Operations carries <= max_ops ops and <= max_ops*122 proof
// digests; Boundary <= 122 digests and <= 64 pins. Each op must decode under `format`.
Response decode_response(ByteView bytes, uint64_t max_ops, const OpFormat &format);

} // namespace qmdb
