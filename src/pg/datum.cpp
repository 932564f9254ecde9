#include "datum.h"

extern "C" {
#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/tuplestore.h"
}

#include <cstring>

namespace qmdb::pg {

ByteView
bytea_view(bytea *b) {
	return ByteView(reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
}

bytea *
to_bytea(ByteView b) {
	return pg_call([&] {
		bytea *out = static_cast<bytea *>(palloc(VARHDRSZ + b.size));
		SET_VARSIZE(out, VARHDRSZ + b.size);
		if (b.size)
			std::memcpy(VARDATA(out), b.data, b.size);
		return out;
	});
}

Datum
ByteaBuffer::set(ByteView b) {
	size_t size = VARHDRSZ + b.size;
	if (words_.size() * 8 < size)
		words_.resize((size + 7) / 8);
	bytea *out = reinterpret_cast<bytea *>(words_.data());
	SET_VARSIZE(out, size);
	if (b.size)
		std::memcpy(VARDATA(out), b.data, b.size);
	return PointerGetDatum(out);
}

std::string
text_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	if (PG_ARGISNULL(n))
		throw Error(ErrorCode::NullValue, std::string(what) + " must not be NULL");
	char *s = pg_call([&] { return text_to_cstring(PG_GETARG_TEXT_PP(n)); });
	return std::string(s);
}

uint64_t
location_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	if (PG_ARGISNULL(n))
		throw Error(ErrorCode::NullValue, std::string(what) + " must not be NULL");
	int64 v = PG_GETARG_INT64(n);
	if (v < 0)
		throw Error(ErrorCode::InvalidArgument, std::string(what) + " must not be negative");
	return static_cast<uint64_t>(v);
}

static std::optional<uint32_t>
size_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	int32 v = PG_GETARG_INT32(n);
	if (v <= 0)
		throw Error(ErrorCode::InvalidArgument, std::string(what) + " must be positive (or NULL for variable length)");
	return static_cast<uint32_t>(v);
}

OpFormat
format_args(FunctionCallInfo fcinfo, int n, int kind_arg) {
	std::string encoding = text_arg(fcinfo, n, "encoding");
	OpFormat format;
	// An older schema's create_database has no kind argument: any.
	if (kind_arg >= 0 && PG_NARGS() > kind_arg) {
		std::string kind = text_arg(fcinfo, kind_arg, "kind");
		std::optional<DbKind> k = db_kind_from_name(kind);
		if (!k)
			throw Error(ErrorCode::InvalidArgument,
			            "kind must be 'any', 'ordered', 'immutable' or 'keyless', not '" + kind + "'");
		format.kind = *k;
	}
	if (encoding == "fixed")
		format.encoding = Encoding::Fixed;
	else if (encoding != "variable")
		throw Error(ErrorCode::InvalidArgument, "encoding must be 'variable' or 'fixed', not '" + encoding + "'");
	format.key_size = size_arg(fcinfo, n + 1, "key_size");
	format.value_size = size_arg(fcinfo, n + 2, "value_size");
	format.validate();
	return format;
}

std::optional<Bytes>
opt_bytes_arg(FunctionCallInfo fcinfo, int n) {
	if (PG_ARGISNULL(n))
		return std::nullopt;
	bytea *b = pg_call([&] { return PG_GETARG_BYTEA_PP(n); });
	return bytea_view(b).to_bytes();
}

Bytes
bytes_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	std::optional<Bytes> b = opt_bytes_arg(fcinfo, n);
	if (!b)
		throw Error(ErrorCode::NullValue, std::string(what) + " must not be NULL");
	return std::move(*b);
}

// The elements of a one-dimensional array argument of varlena type `elemtype`.
static int
array_elements(FunctionCallInfo fcinfo, int n, const char *what, Oid elemtype, Datum **elems, bool **nulls) {
	if (PG_ARGISNULL(n))
		throw Error(ErrorCode::NullValue, std::string(what) + " must not be NULL");
	int count = 0;
	pg_call([&] {
		ArrayType *a = PG_GETARG_ARRAYTYPE_P(n);
		if (ARR_NDIM(a) > 1)
			ereport(ERROR, (errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR), errmsg("%s must be one-dimensional", what)));
		deconstruct_array(a, elemtype, -1, false, TYPALIGN_INT, elems, nulls, &count);
	});
	return count;
}

std::vector<std::optional<Bytes>>
bytea_array_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	Datum *elems = nullptr;
	bool *nulls = nullptr;
	int count = array_elements(fcinfo, n, what, BYTEAOID, &elems, &nulls);
	std::vector<std::optional<Bytes>> out;
	out.reserve(count);
	for (int i = 0; i < count; i++) {
		if (nulls[i])
			out.emplace_back(std::nullopt);
		else
			out.emplace_back(bytea_view(reinterpret_cast<bytea *>(pg_call([&] {
				                 return PG_DETOAST_DATUM_PACKED(elems[i]);
			                 }))).to_bytes());
	}
	return out;
}

std::vector<std::string>
text_array_arg(FunctionCallInfo fcinfo, int n, const char *what) {
	Datum *elems = nullptr;
	bool *nulls = nullptr;
	int count = array_elements(fcinfo, n, what, TEXTOID, &elems, &nulls);
	std::vector<std::string> out;
	for (int i = 0; i < count; i++) {
		if (nulls[i])
			throw Error(ErrorCode::NullValue, std::string(what) + " must not contain NULL");
		out.push_back(pg_call([&] { return text_to_cstring(DatumGetTextPP(elems[i])); }));
	}
	return out;
}

Datum
tuple_datum(FunctionCallInfo fcinfo, Datum *values, bool *nulls) {
	return pg_call([&] {
		// Looked up once per call site (fn_extra): a decoder runs once per row.
		auto desc = static_cast<TupleDesc>(fcinfo->flinfo->fn_extra);
		if (!desc) {
			TupleDesc found;
			if (get_call_result_type(fcinfo, nullptr, &found) != TYPEFUNC_COMPOSITE)
				elog(ERROR, "return type must be a row type");
			MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
			desc = BlessTupleDesc(CreateTupleDescCopy(found));
			MemoryContextSwitchTo(old);
			fcinfo->flinfo->fn_extra = desc;
		}
		return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
	});
}

void
operation_datums(const Operation &op, Datum *values, bool *nulls) {
	for (int i = 0; i < 5; i++)
		nulls[i] = true;
	values[0] = pg_call([&] { return CStringGetTextDatum(op_kind_name(op.kind)); });
	nulls[0] = false;
	if (op.kind == OpKind::Update || op.kind == OpKind::Delete) {
		values[1] = PointerGetDatum(to_bytea(op.key));
		nulls[1] = false;
	}
	if (op.kind == OpKind::Update || op.kind == OpKind::Append) {
		values[2] = PointerGetDatum(to_bytea(op.value));
		nulls[2] = false;
	}
	if (op.kind == OpKind::CommitFloor) {
		values[3] = Int64GetDatum(static_cast<int64>(op.floor));
		nulls[3] = false;
		if (op.metadata) {
			values[4] = PointerGetDatum(to_bytea(*op.metadata));
			nulls[4] = false;
		}
	}
}

void
next_key_datum(const OpFormat &format, const Operation &op, Datum *value, bool *null) {
	*null = !(format.kind == DbKind::Ordered && op.kind == OpKind::Update);
	*value = *null ? (Datum)0 : PointerGetDatum(to_bytea(op.next_key));
}

Datum
bytea_array_datum(const std::vector<Bytes> &items) {
	std::vector<bytea *> parts;
	parts.reserve(items.size());
	for (const Bytes &b : items)
		parts.push_back(to_bytea(b));
	return pg_call([&] {
		Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (parts.size() + 1)));
		for (size_t i = 0; i < parts.size(); i++)
			elems[i] = PointerGetDatum(parts[i]);
		return PointerGetDatum(
		    construct_array(elems, static_cast<int>(parts.size()), BYTEAOID, -1, false, TYPALIGN_INT));
	});
}

RowSink::RowSink(FunctionCallInfo fcinfo) {
	// The caller's row type when it gives one (FROM clause): without it,
	// every call would build the type anew from the catalog in the query's
	// memory, for the rest of the query (a lateral call per journal row
	// piled up 600 bytes each).
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	bits32 flags = rsinfo && IsA(rsinfo, ReturnSetInfo) && rsinfo->expectedDesc ? MAT_SRF_USE_EXPECTED_DESC : 0;
	pg_call([&] { InitMaterializedSRF(fcinfo, flags); });
	rsinfo_ = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
}

void
RowSink::put(Datum *values, bool *nulls) {
	pg_call([&] { tuplestore_putvalues(rsinfo_->setResult, rsinfo_->setDesc, values, nulls); });
}

} // namespace qmdb::pg
