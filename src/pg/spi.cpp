#include "spi.h"

#include "datum.h"

extern "C" {
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
}

#include <cstring>
#include <exception>
#include <map>

namespace qmdb::pg {

Param
int4_param(int32 v) {
	return {INT4OID, Int32GetDatum(v), false};
}

Param
opt_int4_param(std::optional<uint32_t> v) {
	return v ? int4_param(static_cast<int32>(*v)) : Param{INT4OID, (Datum)0, true};
}

Param
int8_param(int64 v) {
	return {INT8OID, Int64GetDatum(v), false};
}

Param
bytea_param(ByteView v) {
	return {BYTEAOID, PointerGetDatum(to_bytea(v)), false};
}

Param
null_bytea_param() {
	return {BYTEAOID, (Datum)0, true};
}

Param
text_param(const std::string &v) {
	text *t = pg_call([&] { return cstring_to_text_with_len(v.data(), static_cast<int>(v.size())); });
	return {TEXTOID, PointerGetDatum(t), false};
}

Param
int8_array_param(const std::vector<int64> &v) {
	ArrayType *a = pg_call([&] {
		Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (v.size() + 1)));
		for (size_t i = 0; i < v.size(); i++)
			elems[i] = Int64GetDatum(v[i]);
		return construct_array(elems, static_cast<int>(v.size()), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	});
	return {INT8ARRAYOID, PointerGetDatum(a), false};
}

template <typename Get>
static Param
bytea_array(size_t n, Get get) {
	ArrayType *a = pg_call([&] {
		Datum *elems = static_cast<Datum *>(palloc(sizeof(Datum) * (n + 1)));
		for (size_t i = 0; i < n; i++) {
			const Bytes &b = get(i);
			bytea *x = static_cast<bytea *>(palloc(VARHDRSZ + b.size()));
			SET_VARSIZE(x, VARHDRSZ + b.size());
			if (!b.empty())
				std::memcpy(VARDATA(x), b.data(), b.size());
			elems[i] = PointerGetDatum(x);
		}
		return construct_array(elems, static_cast<int>(n), BYTEAOID, -1, false, TYPALIGN_INT);
	});
	return {BYTEAARRAYOID, PointerGetDatum(a), false};
}

Param
bytea_array_param(const std::vector<Bytes> &v) {
	return bytea_array(v.size(), [&](size_t i) -> const Bytes & { return v[i]; });
}

Param
bytea_array_param(const std::vector<const Bytes *> &v) {
	return bytea_array(v.size(), [&](size_t i) -> const Bytes & { return *v[i]; });
}

Spi::Spi(bool read_only) : read_only_(read_only), exceptions_at_start_(std::uncaught_exceptions()) {
	pg_call([] {
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
	});
}

Spi::~Spi() {
	// When unwinding from an error the transaction is about to abort, and
	// its cleanup (AtEOXact_SPI) closes the connection; touch nothing then.
	if (std::uncaught_exceptions() > exceptions_at_start_)
		return;
	SPI_finish();
}

namespace {
// SPI calls that execute leave the SPI procedure context current; the
// caller's is put back, or its later allocations would pile up in the
// procedure context until SPI_finish.
struct KeepContext {
	MemoryContext context = CurrentMemoryContext;
	~KeepContext() { MemoryContextSwitchTo(context); }
};

// SPI's parallel arrays for a parameter list (at most 24).
struct SpiArgs {
	explicit SpiArgs(const std::vector<Param> &params) {
		if (params.size() > 24)
			throw Error(ErrorCode::Internal, "too many SPI parameters");
		for (size_t i = 0; i < params.size(); i++) {
			types[i] = params[i].type;
			values[i] = params[i].value;
			nulls[i] = params[i].null ? 'n' : ' ';
		}
	}
	Oid types[24];
	Datum values[24];
	char nulls[24];
};
} // namespace

// Plans live for the backend's life: prepared once per statement text.
static SPIPlanPtr
plan_for(const char *sql, const SpiArgs &args, int nargs) {
	static std::map<std::string, SPIPlanPtr> *plans = new std::map<std::string, SPIPlanPtr>();
	auto it = plans->find(sql);
	if (it != plans->end())
		return it->second;
	KeepContext keep;
	SPIPlanPtr plan = pg_call([&] {
		SPIPlanPtr p = SPI_prepare(sql, nargs, const_cast<Oid *>(args.types));
		if (!p)
			elog(ERROR, "SPI_prepare failed for: %s", sql);
		SPI_keepplan(p);
		return p;
	});
	(*plans)[sql] = plan;
	return plan;
}

uint64
Spi::exec(const char *sql, const std::vector<Param> &params) {
	SpiArgs args(params);
	SPIPlanPtr plan = plan_for(sql, args, static_cast<int>(params.size()));
	KeepContext keep;
	rows_ = pg_call([&] {
		if (SPI_tuptable) // the previous result is no longer needed
			SPI_freetuptable(SPI_tuptable);
		int rc = SPI_execute_plan(plan, args.values, args.nulls, read_only_, 0);
		if (rc < 0)
			elog(ERROR, "SPI_execute_plan failed (%d) for: %s", rc, sql);
		return SPI_processed;
	});
	return rows_;
}

uint64
Spi::exec_once(const std::string &sql, const std::vector<Param> &params) {
	SpiArgs args(params);
	KeepContext keep;
	rows_ = pg_call([&] {
		if (SPI_tuptable)
			SPI_freetuptable(SPI_tuptable);
		int rc = SPI_execute_with_args(sql.c_str(), static_cast<int>(params.size()), args.types, args.values,
		                               args.nulls, read_only_, 0);
		if (rc < 0)
			elog(ERROR, "SPI_execute_with_args failed (%d) for: %s", rc, sql.c_str());
		return SPI_processed;
	});
	return rows_;
}

void
Spi::open_cursor(const char *sql, const std::vector<Param> &params) {
	SpiArgs args(params);
	SPIPlanPtr plan = plan_for(sql, args, static_cast<int>(params.size()));
	KeepContext keep;
	cursor_ = pg_call([&] { return SPI_cursor_open(nullptr, plan, args.values, args.nulls, read_only_); });
}

uint64
Spi::fetch(long n) {
	KeepContext keep;
	rows_ = pg_call([&] {
		if (SPI_tuptable)
			SPI_freetuptable(SPI_tuptable);
		SPI_cursor_fetch(cursor_, true, n);
		return SPI_processed;
	});
	return rows_;
}

void
Spi::close_cursor() {
	KeepContext keep;
	if (cursor_)
		pg_call([&] { SPI_cursor_close(cursor_); });
	cursor_ = nullptr;
}

Datum
Spi::value(uint64 row, int col, bool *isnull) const {
	if (row >= rows_)
		throw Error(ErrorCode::Internal, "SPI row out of range");
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1, isnull);
}

bool
Spi::is_null(uint64 row, int col) const {
	bool isnull;
	value(row, col, &isnull);
	return isnull;
}

Datum
Spi::non_null(uint64 row, int col) const {
	bool isnull;
	Datum d = value(row, col, &isnull);
	if (isnull)
		throw Error(ErrorCode::Internal, "unexpected NULL in column " + std::to_string(col + 1));
	return d;
}

int64
Spi::i64(uint64 row, int col) const {
	return DatumGetInt64(non_null(row, col));
}

int32
Spi::i32(uint64 row, int col) const {
	return DatumGetInt32(non_null(row, col));
}

Bytes
Spi::bytes(uint64 row, int col) const {
	return view(row, col).to_bytes();
}

ByteView
Spi::view(uint64 row, int col) const {
	Datum d = non_null(row, col);
	bytea *b = pg_call([&] { return DatumGetByteaPP(d); });
	return ByteView(reinterpret_cast<const uint8_t *>(VARDATA_ANY(b)), VARSIZE_ANY_EXHDR(b));
}

std::string
Spi::str(uint64 row, int col) const {
	Datum d = non_null(row, col);
	char *s = pg_call([&] { return TextDatumGetCString(d); });
	return std::string(s);
}

} // namespace qmdb::pg
