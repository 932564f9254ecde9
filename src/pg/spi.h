// A small C++ face on SPI: connect/finish by RAII, cached prepared plans,
// typed parameters, and results copied out into C++ values. Every call into
// PostgreSQL goes through pg_call, so an ERROR becomes a PgError exception.
#pragma once

#include "guard.h"

#include "core/bytes.h"
#include "core/error.h"

struct PortalData;

#include <optional>
#include <string>
#include <vector>

namespace qmdb::pg {

struct Param {
	Oid type;
	Datum value;
	bool null;
};

Param int4_param(int32 v);
Param opt_int4_param(std::optional<uint32_t> v); // NULL when absent
Param int8_param(int64 v);
Param bytea_param(ByteView v);
Param null_bytea_param();
Param text_param(const std::string &v);
Param int8_array_param(const std::vector<int64> &v);
Param bytea_array_param(const std::vector<Bytes> &v);
Param bytea_array_param(const std::vector<const Bytes *> &v);

class Spi {
public:
	// read_only: for STABLE functions (queries see the statement's snapshot).
	// VOLATILE functions must see their own writes, so they use the default.
	explicit Spi(bool read_only = false);
	~Spi();
	Spi(const Spi &) = delete;
	Spi &operator=(const Spi &) = delete;

	// Run `sql` (a cached plan per distinct text) and keep its rows until
	// the next call. Returns the number of rows processed.
	uint64 exec(const char *sql, const std::vector<Param> &params);
	// Run a statement whose text varies (DDL naming a partition), unplanned
	// and uncached; otherwise like exec().
	uint64 exec_once(const std::string &sql, const std::vector<Param> &params = {});

	// A cursor over `sql`, read `n` rows at a time with fetch(); its rows
	// are read with the accessors below, like exec()'s.
	void open_cursor(const char *sql, const std::vector<Param> &params);
	uint64 fetch(long n);
	void close_cursor();

	uint64 rows() const { return rows_; }
	bool is_null(uint64 row, int col) const;
	int64 i64(uint64 row, int col) const;
	int32 i32(uint64 row, int col) const;
	Bytes bytes(uint64 row, int col) const;
	// A bytea column in place, without a copy (valid until the next call).
	ByteView view(uint64 row, int col) const;
	std::string str(uint64 row, int col) const;
	// A non-NULL column as the Datum SPI holds (valid until the next call).
	Datum datum(uint64 row, int col) const { return non_null(row, col); }
	std::optional<int64> opt_int8(uint64 row, int col) const {
		return is_null(row, col) ? std::nullopt : std::optional<int64>(i64(row, col));
	}

private:
	Datum value(uint64 row, int col, bool *isnull) const;
	Datum non_null(uint64 row, int col) const;
	uint64 rows_ = 0;
	::PortalData *cursor_ = nullptr;
	bool read_only_;
	int exceptions_at_start_;
};

} // namespace qmdb::pg
