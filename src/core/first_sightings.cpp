#include "first_sightings.h"

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

OpView
FirstSightings::read(const OpFormat &format, ByteView op) {
	// Fixed sizes put the key and the value of an Update (and the key of
	// a Delete) at fixed offsets in both encodings, after the tag: no
	// decoding. (An ordered Update's next key follows; keyless has no keys.)
	if (format.key_size && format.value_size && op.size > 0 && db_kind_has_keys(format.kind)) {
		size_t k = *format.key_size, v = *format.value_size;
		uint8_t tag = op[0];
		bool update = tag == op_tag(format.kind, OpKind::Update);
		bool remove = !update && format.has(OpKind::Delete) && tag == op_tag(format.kind, OpKind::Delete);
		if ((update || remove) && op.size >= 1 + k + v)
			return OpView{update ? OpKind::Update : OpKind::Delete,
			              ByteView(op.data + 1, k),
			              ByteView(op.data + 1 + k, v),
			              {},
			              0,
			              {}};
	}
	return decode_op_view(format, op);
}

void
FirstSightings::run(Chunk &chunk) {
	size_t n = chunk.size();
	chunk.first.assign(n, nullptr);
	chunk.full = full_;
	if (full_)
		return;
	try {
		look_up(chunk);
	} catch (...) { // a malformed operation, or no memory: the caller's to raise
		chunk.error = std::current_exception();
	}
}

void
FirstSightings::look_up(Chunk &chunk) {
	constexpr size_t AHEAD = 8; // lookups started this many operations early
	size_t n = chunk.size();
	std::vector<OpView> &ops = chunk.views;
	ops.resize(n);
	for (size_t i = 0; i < n; i++)
		ops[i] = read(format_, chunk.op(i));
	auto keyed = [](const OpView &o) { return o.kind == OpKind::Update || o.kind == OpKind::Delete; };
	for (size_t i = 0; i < n && i < AHEAD; i++)
		if (keyed(ops[i]))
			set_.prefetch(ops[i].key);
	for (size_t i = 0; i < n; i++) {
		if (i + AHEAD < n && keyed(ops[i + AHEAD]))
			set_.prefetch(ops[i + AHEAD].key);
		if (!keyed(ops[i]))
			continue;
		uint8_t *payload = nullptr;
		KeySet::Insert r = set_.insert(ops[i].key, &payload);
		if (r == KeySet::Insert::Full) {
			full_ = chunk.full = true;
			return;
		}
		if (r == KeySet::Insert::Added && ops[i].kind == OpKind::Update)
			chunk.first[i] = payload;
	}
}

} // namespace qmdb
