// The boundary between C++ and PostgreSQL, one guard per direction
// (pattern of pg_duckdb and plv8):
//
//  * QMDB_FUNCTION defines a SQL-callable function whose body may throw:
//    exceptions become ereport(ERROR) with a SQLSTATE, raised only after the
//    catch block has been left, so no C++ frame is skipped by the longjmp.
//  * pg_call(f) runs PostgreSQL code from C++: an ereport inside it is caught
//    at once and rethrown as PgError, which the entry guard re-raises intact
//    (SQLSTATE, detail and context preserved).
#pragma once

#include "pg_headers.h"

#include <exception>
#include <type_traits>

namespace qmdb::pg {

class PgError : public std::exception {
public:
	explicit PgError(ErrorData *data) : data_(data) {}
	const char *what() const noexcept override { return data_ && data_->message ? data_->message : "PostgreSQL error"; }
	ErrorData *data() const { return data_; }

private:
	ErrorData *data_; // palloc'd in the caller's memory context
};

using CppFunction = Datum (*)(FunctionCallInfo);

// Call `fn`, turning any exception into a PostgreSQL ERROR.
Datum invoke(CppFunction fn, FunctionCallInfo fcinfo);

// Run PostgreSQL code that may ereport; returns its result or throws PgError.
// `f` must not own C++ resources: a longjmp out of it skips its destructors.
template <typename F>
auto
pg_call(F &&f) -> decltype(f()) {
	using R = decltype(f());
	if constexpr (std::is_void_v<R>) {
		MemoryContext caller_context = CurrentMemoryContext;
		ErrorData *volatile error = nullptr;
		PG_TRY();
		{ f(); }
		PG_CATCH();
		{
			MemoryContextSwitchTo(caller_context);
			error = CopyErrorData();
			FlushErrorState();
		}
		PG_END_TRY();
		if (error)
			throw PgError(error);
	} else {
		// The result lives outside the frame that calls setjmp, so it cannot be clobbered.
		R result{};
		pg_call([&] { result = f(); });
		return result;
	}
}

// CHECK_FOR_INTERRUPTS for long C++ loops: a cancel becomes a PgError that
// unwinds them properly (a FATAL exits without unwinding, as anywhere).
// Costs one flag test unless an interrupt is pending.
inline void
check_for_interrupts() {
	if (INTERRUPTS_PENDING_CONDITION())
		pg_call([] { CHECK_FOR_INTERRUPTS(); });
}

} // namespace qmdb::pg

#define QMDB_FUNCTION(name)                                                                                            \
	static Datum name##_cpp(FunctionCallInfo fcinfo);                                                                  \
	extern "C" {                                                                                                       \
	PG_FUNCTION_INFO_V1(name);                                                                                         \
	Datum name(PG_FUNCTION_ARGS) {                                                                                     \
		return qmdb::pg::invoke(name##_cpp, fcinfo);                                                                   \
	}                                                                                                                  \
	}                                                                                                                  \
	static Datum name##_cpp(FunctionCallInfo fcinfo)
