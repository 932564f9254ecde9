#include "wire.h"

#include "mmr.h"

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

static uint64_t
read_location(Reader &r, const char *what) {
	uint64_t v = r.varint();
	if (!location_is_valid(v))
		throw DecodeError(DecodeErrorKind::Invalid, std::string(what) + " exceeds MAX_LEAVES");
	return v;
}

void
encode_target(const Target &t, Writer &w) {
	w.raw(t.root);
	w.varint(t.start);
	w.varint(t.end);
}

Bytes
encode_target(const Target &t) {
	Writer w;
	encode_target(t, w);
	return w.take();
}

Target
decode_target(ByteView bytes) {
	Reader r(bytes);
	Target t;
	t.root = r.digest();
	t.start = read_location(r, "target start");
	t.end = read_location(r, "target end");
	if (t.start >= t.end)
		throw DecodeError(DecodeErrorKind::Invalid, "target range start must be < end");
	r.finish("target");
	return t;
}

bool
advances(const Target &next, const Target &from) {
	return location_is_valid(next.end) && next.end > from.end && next.start >= from.start;
}

Bytes
encode_request(const Request &req) {
	Writer w;
	w.u8(static_cast<uint8_t>(req.kind));
	w.varint(req.size);
	w.varint(req.start);
	if (req.kind == RequestKind::Operations)
		w.be8(req.max_ops);
	return w.take();
}

Request
decode_request(ByteView bytes) {
	Reader r(bytes);
	Request req;
	uint8_t tag = r.u8();
	if (tag > 1)
		throw DecodeError(DecodeErrorKind::InvalidEnum, "request tag " + std::to_string(tag));
	req.kind = static_cast<RequestKind>(tag);
	req.size = read_location(r, "request size");
	req.start = read_location(r, "request start");
	if (req.kind == RequestKind::Operations) {
		req.max_ops = r.be8();
		if (req.max_ops == 0)
			throw DecodeError(DecodeErrorKind::Invalid, "max_ops must be non-zero");
	} else {
		req.max_ops = 1;
	}
	if (req.start >= req.size)
		throw DecodeError(DecodeErrorKind::Invalid, "request start >= size");
	r.finish("request");
	return req;
}

size_t
encoded_response_bound(const Response &resp) {
	// The tag, the proof's size, and the three lengths fit in 64 bytes.
	size_t size = 64 + 32 * (resp.proof.digests.size() + resp.pinned_nodes.size());
	for (const Bytes &op : resp.operations)
		size += op.size();
	return size;
}

void
encode_response(const Response &resp, Writer &w) {
	w.u8(static_cast<uint8_t>(resp.kind));
	encode_proof(resp.proof, w);
	if (resp.kind == RequestKind::Operations) {
		w.length(resp.operations.size());
		for (const Bytes &op : resp.operations)
			w.raw(op);
	} else {
		if (resp.operations.size() != 1)
			throw Error(ErrorCode::InvalidArgument, "a boundary response carries exactly one operation");
		w.raw(resp.operations[0]);
		w.length(resp.pinned_nodes.size());
		for (const Digest &d : resp.pinned_nodes)
			w.raw(d);
	}
}

Bytes
encode_response(const Response &resp) {
	// One buffer of (at least) the final size: a response of thousands of
	// operations would otherwise be moved on every doubling.
	Writer w(encoded_response_bound(resp));
	encode_response(resp, w);
	return w.take();
}

// Read one op, keeping its exact bytes.
static Bytes
read_op_bytes(Reader &r, const OpFormat &format) {
	size_t before = r.position();
	Reader probe = r;
	decode_op_view(format, probe); // checks it, without copying it out
	size_t len = probe.position() - before;
	return r.raw(len).to_bytes();
}

Response
decode_response(ByteView bytes, uint64_t max_ops, const OpFormat &format) {
	Reader r(bytes);
	Response resp;
	uint8_t tag = r.u8();
	if (tag > 1)
		throw DecodeError(DecodeErrorKind::InvalidEnum, "response tag " + std::to_string(tag));
	resp.kind = static_cast<RequestKind>(tag);
	if (resp.kind == RequestKind::Operations) {
		// Cap the digest count without overflowing on a huge max_ops.
		uint64_t cap =
		    max_ops > UINT32_MAX / MAX_PROOF_DIGESTS_PER_ELEMENT ? UINT32_MAX : max_ops * MAX_PROOF_DIGESTS_PER_ELEMENT;
		resp.proof = decode_proof(r, cap);
		size_t n = r.length(max_ops > UINT32_MAX ? UINT32_MAX : max_ops, "operation");
		resp.operations.reserve(std::min<size_t>(n, r.remaining()));
		for (size_t i = 0; i < n; i++)
			resp.operations.push_back(read_op_bytes(r, format));
	} else {
		resp.proof = decode_proof(r, MAX_PROOF_DIGESTS_PER_ELEMENT);
		resp.operations.push_back(read_op_bytes(r, format));
		size_t m = r.length(MAX_PINNED_NODES, "pinned node");
		for (size_t i = 0; i < m; i++)
			resp.pinned_nodes.push_back(r.digest());
	}
	r.finish("response");
	return resp;
}

} // namespace qmdb
