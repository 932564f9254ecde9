// QMDB operations and their two encodings: `any::unordered` (spec §3.1,
// writer spec §2) and the family's other members, `any::ordered`,
// `immutable` and `keyless` (family spec §1-3). The encoded bytes are the
// MMR leaf elements.
#pragma once

#include "codec.h"

#include <optional>
#include <string>
#include <vector>

namespace qmdb {

// The member of the QMDB family a database is: which operations its log
// holds, their tags and their layout. `any` is `any::unordered`.
enum class DbKind : uint8_t { Any, Ordered, Immutable, Keyless };

const char *db_kind_name(DbKind kind);
// "an any", "an ordered", "an immutable", "a keyless": for messages.
std::string db_kind_phrase(DbKind kind);
// nullopt for a name that is none of any, ordered, immutable, keyless.
std::optional<DbKind> db_kind_from_name(const std::string &name);
inline bool
db_kind_has_keys(DbKind kind) {
	return kind != DbKind::Keyless;
}

// What an operation does, whatever its kind's tag byte. The values of the
// first three are `any`'s tags (a fixed `any` log is read by casting its
// first byte); the others' tags come from op_tag().
//   Update: any's and ordered's Update, immutable's Set.
//   CommitFloor: every kind's commit (metadata and floor).
//   Append: keyless's Append (a value, no key).
enum class OpKind : uint8_t { Delete = 0xD1, Update = 0xD2, CommitFloor = 0xD3, Append = 0xA0 };

const char *op_kind_name(OpKind kind);
// The tag byte of an operation in a kind's log (family spec §1.1, §2.1,
// §3.1): any and ordered D1 Delete, D2 Update, D3 CommitFloor; immutable
// 00 Set, 01 Commit; keyless 00 Commit, 01 Append.
uint8_t op_tag(DbKind db, OpKind op);

struct Operation {
	OpKind kind = OpKind::CommitFloor;
	Bytes key;                     // Delete, Update
	Bytes value;                   // Update, Append
	std::optional<Bytes> metadata; // CommitFloor
	uint64_t floor = 0;            // CommitFloor
	Bytes next_key;                // Update of an ordered database: the next live key, cyclically

	static Operation update(Bytes key, Bytes value, Bytes next_key = {}) {
		return {OpKind::Update, std::move(key), std::move(value), {}, 0, std::move(next_key)};
	}
	static Operation remove(Bytes key) { return {OpKind::Delete, std::move(key), {}, {}, 0, {}}; }
	static Operation commit(std::optional<Bytes> metadata, uint64_t floor) {
		return {OpKind::CommitFloor, {}, {}, std::move(metadata), floor, {}};
	}
	static Operation append(Bytes value) { return {OpKind::Append, {}, std::move(value), {}, 0, {}}; }

	bool operator==(const Operation &o) const {
		return kind == o.kind && key == o.key && value == o.value && metadata == o.metadata && floor == o.floor &&
		       next_key == o.next_key;
	}
};

enum class Encoding { Variable, Fixed };

const char *encoding_name(Encoding e);

// How one database encodes its operations. A key or value is either
// fixed-size (written raw, exactly N bytes) or variable-length (written as
// varint(len) || bytes, at most max_*_len bytes). The fixed encoding needs
// both sizes; 32-byte keys and values give commonware's Digest layout.
struct OpFormat {
	DbKind kind = DbKind::Any;
	Encoding encoding = Encoding::Variable;
	std::optional<uint32_t> key_size;
	std::optional<uint32_t> value_size;
	// Caps on variable-length items; decoders check them before allocating.
	uint32_t max_key_len = 1024; // fits a btree index entry (keys are indexed in PostgreSQL)
	uint32_t max_value_len = 1 << 20;

	// Throws Error(InvalidArgument) for a combination that cannot be encoded.
	void validate() const;
	// Every operation's size in the fixed encoding, the largest of the
	// kind's operations: any max(1+K+V, 1+1+V+8, 1+K), ordered
	// max(1+2K+V, 1+1+V+8, 1+K), immutable max(1+K+V, 1+1+V+8), keyless 1+1+V+8.
	size_t fixed_total() const;
	// Whether the kind has this operation at all.
	bool has(OpKind op) const;
	// Throws Error(InvalidArgument) if `key`/`value` do not fit this format.
	void check_key(ByteView key) const;
	void check_value(ByteView value, const char *what = "value") const;
};

void encode_op(const OpFormat &format, const Operation &op, Writer &w);
Bytes encode_op(const OpFormat &format, const Operation &op);

// An operation read in place: views into the bytes it was decoded from.
struct OpView {
	OpKind kind = OpKind::CommitFloor;
	ByteView key, value;
	std::optional<ByteView> metadata;
	uint64_t floor = 0;
	ByteView next_key; // ordered Update
};

// Read one operation. Rejects unknown tags, bad Option tags, non-zero padding,
// over-cap lengths and floors beyond MAX_LEAVES with DecodeError.
OpView decode_op_view(const OpFormat &format, Reader &r);
// The same, copied out.
Operation decode_op(const OpFormat &format, Reader &r);
// Decode exactly one operation (trailing bytes are an error).
OpView decode_op_view(const OpFormat &format, ByteView bytes);
Operation decode_op(const OpFormat &format, ByteView bytes);

// Split encoded operations laid end to end (a journal row) into one view
// per operation. Fixed-size operations are cut at fixed_total() without
// decoding; variable ones are decoded to find their ends. DecodeError if
// the bytes do not split into whole operations.
std::vector<ByteView> split_ops(const OpFormat &format, ByteView bytes);

} // namespace qmdb
