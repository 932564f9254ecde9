#include "operation.h"

#include "mmr.h"

#include <algorithm>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

const char *
db_kind_name(DbKind kind) {
	switch (kind) {
	case DbKind::Any:
		return "any";
	case DbKind::Ordered:
		return "ordered";
	case DbKind::Immutable:
		return "immutable";
	case DbKind::Keyless:
		return "keyless";
	}
	return "unknown";
}

std::string
db_kind_phrase(DbKind kind) {
	return std::string(kind == DbKind::Keyless ? "a " : "an ") + db_kind_name(kind);
}

std::optional<DbKind>
db_kind_from_name(const std::string &name) {
	for (DbKind k : {DbKind::Any, DbKind::Ordered, DbKind::Immutable, DbKind::Keyless})
		if (name == db_kind_name(k))
			return k;
	return std::nullopt;
}

const char *
op_kind_name(OpKind kind) {
	switch (kind) {
	case OpKind::Delete:
		return "delete";
	case OpKind::Update:
		return "update";
	case OpKind::CommitFloor:
		return "commit";
	case OpKind::Append:
		return "append";
	}
	return "unknown";
}

uint8_t
op_tag(DbKind db, OpKind op) {
	switch (db) {
	case DbKind::Any:
	case DbKind::Ordered:
		return static_cast<uint8_t>(op);
	case DbKind::Immutable:
		return op == OpKind::Update ? 0x00 : 0x01;
	case DbKind::Keyless:
		return op == OpKind::CommitFloor ? 0x00 : 0x01;
	}
	return 0xFF;
}

const char *
encoding_name(Encoding e) {
	return e == Encoding::Fixed ? "fixed" : "variable";
}

void
OpFormat::validate() const {
	if (kind == DbKind::Keyless) {
		if (key_size)
			throw Error(ErrorCode::InvalidArgument, "a keyless database has no keys: key_size must be NULL");
		if (encoding == Encoding::Fixed && !value_size)
			throw Error(ErrorCode::InvalidArgument, "the fixed encoding needs a fixed value_size");
	} else if (encoding == Encoding::Fixed && (!key_size || !value_size))
		throw Error(ErrorCode::InvalidArgument, "the fixed encoding needs a fixed key_size and value_size");
	if ((key_size && *key_size == 0) || (value_size && *value_size == 0))
		throw Error(ErrorCode::InvalidArgument, "key_size and value_size must be positive");
	if ((key_size && *key_size > max_key_len) || (value_size && *value_size > max_value_len))
		throw Error(ErrorCode::InvalidArgument, "key_size or value_size exceeds its cap");
}

size_t
OpFormat::fixed_total() const {
	size_t k = key_size.value_or(0), v = *value_size, commit = 1 + 1 + v + 8;
	switch (kind) {
	case DbKind::Any:
		return std::max({1 + k + v, commit, 1 + k});
	case DbKind::Ordered:
		return std::max({1 + k + v + k, commit, 1 + k});
	case DbKind::Immutable:
		return std::max(1 + k + v, commit);
	case DbKind::Keyless:
		return commit;
	}
	return commit;
}

static bool
kind_has(DbKind kind, OpKind op) {
	switch (op) {
	case OpKind::CommitFloor:
		return true;
	case OpKind::Update:
		return kind != DbKind::Keyless;
	case OpKind::Delete:
		return kind == DbKind::Any || kind == DbKind::Ordered;
	case OpKind::Append:
		return kind == DbKind::Keyless;
	}
	return false;
}

bool
OpFormat::has(OpKind op) const {
	return kind_has(kind, op);
}

static void
check_item(ByteView item, const std::optional<uint32_t> &size, uint32_t max, const char *what) {
	if (size && item.size != *size)
		throw Error(ErrorCode::InvalidArgument, std::string(what) + " must be " + std::to_string(*size) +
		                                            " bytes, got " + std::to_string(item.size));
	if (!size && item.size > max)
		throw Error(ErrorCode::InvalidArgument, std::string(what) + " of " + std::to_string(item.size) +
		                                            " bytes exceeds the cap of " + std::to_string(max));
}

void
OpFormat::check_key(ByteView key) const {
	check_item(key, key_size, max_key_len, "key");
}

void
OpFormat::check_value(ByteView value, const char *what) const {
	check_item(value, value_size, max_value_len, what);
}

static void
write_item(Writer &w, ByteView item, const std::optional<uint32_t> &size) {
	if (!size)
		w.length(item.size);
	w.raw(item);
}

static ByteView
read_item(Reader &r, const std::optional<uint32_t> &size, uint32_t max, const char *what) {
	size_t n = size ? *size : r.length(max, what);
	return r.raw(n);
}

void
encode_op(const OpFormat &f, const Operation &op, Writer &w) {
	if (!f.has(op.kind))
		throw Error(ErrorCode::InvalidArgument, std::string("a ") + db_kind_name(f.kind) + " database has no " +
		                                            op_kind_name(op.kind) + " operation");
	bool ordered = f.kind == DbKind::Ordered;
	switch (op.kind) {
	case OpKind::Delete:
		f.check_key(op.key);
		break;
	case OpKind::Update:
		f.check_key(op.key);
		f.check_value(op.value);
		if (ordered)
			f.check_key(op.next_key);
		break;
	case OpKind::Append:
		f.check_value(op.value);
		break;
	case OpKind::CommitFloor:
		if (op.metadata)
			f.check_value(*op.metadata, "metadata");
		if (!location_is_valid(op.floor))
			throw Error(ErrorCode::InvalidArgument, "floor beyond MAX_LEAVES");
		break;
	}
	w.u8(op_tag(f.kind, op.kind));
	if (f.encoding == Encoding::Variable) {
		switch (op.kind) {
		case OpKind::Delete:
			write_item(w, op.key, f.key_size);
			break;
		case OpKind::Update:
			write_item(w, op.key, f.key_size);
			write_item(w, op.value, f.value_size);
			if (ordered)
				write_item(w, op.next_key, f.key_size);
			break;
		case OpKind::Append:
			write_item(w, op.value, f.value_size);
			break;
		case OpKind::CommitFloor:
			w.u8(op.metadata ? 1 : 0);
			if (op.metadata)
				write_item(w, *op.metadata, f.value_size);
			w.varint(op.floor);
			break;
		}
		return;
	}
	// Fixed: raw fields, floor as be8, zero-padded to fixed_total().
	size_t start = w.size() - 1;
	switch (op.kind) {
	case OpKind::Delete:
		w.raw(op.key);
		break;
	case OpKind::Update:
		w.raw(op.key);
		w.raw(op.value);
		if (ordered)
			w.raw(op.next_key);
		break;
	case OpKind::Append:
		w.raw(op.value);
		break;
	case OpKind::CommitFloor:
		w.u8(op.metadata ? 1 : 0);
		if (op.metadata)
			w.raw(*op.metadata);
		else
			w.zeros(*f.value_size);
		w.be8(op.floor);
		break;
	}
	w.zeros(f.fixed_total() - (w.size() - start));
}

Bytes
encode_op(const OpFormat &format, const Operation &op) {
	Writer w;
	encode_op(format, op, w);
	return w.take();
}

static void
ensure_zeros(ByteView b, const char *what) {
	for (uint8_t x : b)
		if (x != 0)
			throw DecodeError(DecodeErrorKind::Invalid, std::string("non-zero ") + what);
}

static uint64_t
checked_floor(uint64_t floor) {
	if (!location_is_valid(floor))
		throw DecodeError(DecodeErrorKind::Invalid, "commit floor exceeds MAX_LEAVES");
	return floor;
}

static uint8_t
option_tag(Reader &r) {
	uint8_t t = r.u8();
	if (t > 1)
		throw DecodeError(DecodeErrorKind::InvalidEnum, "option tag " + std::to_string(t));
	return t;
}

// The operation a tag byte stands for in the kind's log.
static OpKind
kind_tag(DbKind db, Reader &r) {
	uint8_t tag = r.u8();
	for (OpKind k : {OpKind::Delete, OpKind::Update, OpKind::CommitFloor, OpKind::Append})
		if (kind_has(db, k) && op_tag(db, k) == tag)
			return k;
	throw DecodeError(DecodeErrorKind::InvalidEnum,
	                  "operation tag " + std::to_string(tag) + " in " + db_kind_phrase(db) + " log");
}

OpView
decode_op_view(const OpFormat &f, Reader &r) {
	OpView op;
	bool ordered = f.kind == DbKind::Ordered;
	if (f.encoding == Encoding::Variable) {
		op.kind = kind_tag(f.kind, r);
		switch (op.kind) {
		case OpKind::Delete:
			op.key = read_item(r, f.key_size, f.max_key_len, "key");
			break;
		case OpKind::Update:
			op.key = read_item(r, f.key_size, f.max_key_len, "key");
			op.value = read_item(r, f.value_size, f.max_value_len, "value");
			if (ordered)
				op.next_key = read_item(r, f.key_size, f.max_key_len, "next key");
			break;
		case OpKind::Append:
			op.value = read_item(r, f.value_size, f.max_value_len, "value");
			break;
		case OpKind::CommitFloor:
			if (option_tag(r))
				op.metadata = read_item(r, f.value_size, f.max_value_len, "metadata");
			op.floor = checked_floor(r.varint());
			break;
		}
		return op;
	}
	// Fixed: read the whole record first so a bad tag cannot shift framing.
	Reader rec(r.raw(f.fixed_total()));
	size_t k = f.key_size.value_or(0), v = *f.value_size;
	op.kind = kind_tag(f.kind, rec);
	switch (op.kind) {
	case OpKind::Delete:
		op.key = rec.raw(k);
		break;
	case OpKind::Update:
		op.key = rec.raw(k);
		op.value = rec.raw(v);
		if (ordered)
			op.next_key = rec.raw(k);
		break;
	case OpKind::Append:
		op.value = rec.raw(v);
		break;
	case OpKind::CommitFloor:
		if (option_tag(rec))
			op.metadata = rec.raw(v);
		else
			ensure_zeros(rec.raw(v), "absent metadata");
		op.floor = checked_floor(rec.be8());
		break;
	}
	ensure_zeros(rec.raw(rec.remaining()), "padding");
	return op;
}

// An operation read in place, copied out.
static Operation
owned(const OpView &v) {
	Operation op;
	op.kind = v.kind;
	op.key = v.key.to_bytes();
	op.value = v.value.to_bytes();
	op.next_key = v.next_key.to_bytes();
	if (v.metadata)
		op.metadata = v.metadata->to_bytes();
	op.floor = v.floor;
	return op;
}

Operation
decode_op(const OpFormat &f, Reader &r) {
	return owned(decode_op_view(f, r));
}

OpView
decode_op_view(const OpFormat &format, ByteView bytes) {
	Reader r(bytes);
	OpView op = decode_op_view(format, r);
	r.finish("operation");
	return op;
}

Operation
decode_op(const OpFormat &format, ByteView bytes) {
	return owned(decode_op_view(format, bytes));
}

std::vector<ByteView>
split_ops(const OpFormat &format, ByteView bytes) {
	std::vector<ByteView> out;
	if (format.encoding == Encoding::Fixed) {
		size_t n = format.fixed_total();
		if (bytes.size % n != 0)
			throw DecodeError(DecodeErrorKind::EndOfBuffer, std::to_string(bytes.size) +
			                                                    " bytes are not whole operations of " +
			                                                    std::to_string(n) + " bytes");
		out.reserve(bytes.size / n);
		for (size_t at = 0; at < bytes.size; at += n)
			out.emplace_back(bytes.data + at, n);
		return out;
	}
	Reader r(bytes);
	while (r.remaining() > 0) {
		size_t at = r.position();
		decode_op_view(format, r);
		out.emplace_back(bytes.data + at, r.position() - at);
	}
	return out;
}

} // namespace qmdb
