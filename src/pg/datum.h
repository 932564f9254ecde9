// Converting between PostgreSQL Datums and core values, in one place.
#pragma once

#include "guard.h"

#include "core/bytes.h"
#include "core/error.h"
#include "core/operation.h"

#include <optional>
#include <string>
#include <vector>

struct ReturnSetInfo;

namespace qmdb::pg {

ByteView bytea_view(bytea *b);
bytea *to_bytea(ByteView b);
// A bytea Datum over a buffer reused for each value: no palloc per row for
// a caller that consumes the Datum before the next set().
class ByteaBuffer {
public:
	Datum set(ByteView b);

private:
	std::vector<uint64_t> words_; // 8-byte aligned, as a varlena needs
};
// Argument n as text; Error(NullValue) naming `what` when NULL.
std::string text_arg(FunctionCallInfo fcinfo, int n, const char *what);
// Argument n as a non-negative bigint; Error(NullValue / InvalidArgument).
uint64_t location_arg(FunctionCallInfo fcinfo, int n, const char *what);
// Arguments n, n+1, n+2 as (encoding text, key_size int, value_size int):
// a validated operation format; NULL sizes mean variable length. With
// kind_arg >= 0, that argument (when the call has it) names the kind.
OpFormat format_args(FunctionCallInfo fcinfo, int n, int kind_arg = -1);
// Argument n as bytea; Error(NullValue) naming `what` when NULL.
Bytes bytes_arg(FunctionCallInfo fcinfo, int n, const char *what);
// Argument n as bytea, or nullopt when NULL.
std::optional<Bytes> opt_bytes_arg(FunctionCallInfo fcinfo, int n);
// A bytea[] argument; NULL elements come back as nullopt.
std::vector<std::optional<Bytes>> bytea_array_arg(FunctionCallInfo fcinfo, int n, const char *what);
// A text[] argument; Error(NullValue) for a NULL array or element.
std::vector<std::string> text_array_arg(FunctionCallInfo fcinfo, int n, const char *what);
// Build one composite result row of the function's declared type.
Datum tuple_datum(FunctionCallInfo fcinfo, Datum *values, bool *nulls);
// An operation's SQL columns: kind, key, value, floor, metadata (NULL where
// the kind has none).
void operation_datums(const Operation &op, Datum *values, bool *nulls);
// An ordered Update's next key, or NULL.
void next_key_datum(const OpFormat &format, const Operation &op, Datum *value, bool *null);
Datum bytea_array_datum(const std::vector<Bytes> &items);

// Materialized set-returning function output, created before SPI connects.
class RowSink {
public:
	explicit RowSink(FunctionCallInfo fcinfo);
	void put(Datum *values, bool *nulls);

private:
	ReturnSetInfo *rsinfo_;
};

} // namespace qmdb::pg
