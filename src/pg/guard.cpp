#include "guard.h"

#include "core/error.h"

#include <cstring>
#include <new>

namespace qmdb::pg {

// SQLSTATEs for core errors. Class QM is ours, for situations PostgreSQL has
// no code for; docs/sql-reference.md lists them.
static int
sqlstate_for(ErrorCode code) {
	switch (code) {
	case ErrorCode::InvalidArgument:
		return ERRCODE_INVALID_PARAMETER_VALUE;
	case ErrorCode::Decode:
		return ERRCODE_INVALID_BINARY_REPRESENTATION;
	case ErrorCode::OutOfRange:
		return MAKE_SQLSTATE('Q', 'M', '0', '0', '1');
	case ErrorCode::Pruned:
		return MAKE_SQLSTATE('Q', 'M', '0', '0', '2');
	case ErrorCode::NotCommitBoundary:
		return MAKE_SQLSTATE('Q', 'M', '0', '0', '3');
	case ErrorCode::InvalidProof:
		return MAKE_SQLSTATE('Q', 'M', '0', '0', '4');
	case ErrorCode::DataCorrupted:
		return ERRCODE_DATA_CORRUPTED;
	case ErrorCode::NotFound:
		return ERRCODE_UNDEFINED_OBJECT;
	case ErrorCode::AlreadyExists:
		return ERRCODE_DUPLICATE_OBJECT;
	case ErrorCode::NullValue:
		return ERRCODE_NULL_VALUE_NOT_ALLOWED;
	case ErrorCode::LimitExceeded:
		return ERRCODE_PROGRAM_LIMIT_EXCEEDED;
	case ErrorCode::InUse:
		return ERRCODE_OBJECT_IN_USE;
	case ErrorCode::NotReady:
		return ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	case ErrorCode::PermissionDenied:
		return ERRCODE_INSUFFICIENT_PRIVILEGE;
	case ErrorCode::ReadOnly: // as a write on a hot standby
		return ERRCODE_READ_ONLY_SQL_TRANSACTION;
	case ErrorCode::WrongKind:
		return ERRCODE_WRONG_OBJECT_TYPE;
	case ErrorCode::PeerUnavailable:
		return ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION;
	case ErrorCode::PeerMisbehaved:
		return ERRCODE_PROTOCOL_VIOLATION;
	case ErrorCode::Internal:
		return ERRCODE_INTERNAL_ERROR;
	}
	return ERRCODE_INTERNAL_ERROR;
}

Datum
invoke(CppFunction fn, FunctionCallInfo fcinfo) {
	// Everything needed to raise the error after the catch scope is plain
	// data: nothing here has a destructor for the longjmp to skip.
	char message[1024];
	int sqlstate = ERRCODE_INTERNAL_ERROR;
	ErrorData *pg_error = nullptr;
	auto keep = [&](const char *what) {
		std::strncpy(message, what, sizeof(message) - 1);
		message[sizeof(message) - 1] = '\0';
	};
	try {
		return fn(fcinfo);
	} catch (const PgError &e) {
		pg_error = e.data();
	} catch (const Error &e) {
		sqlstate = sqlstate_for(e.code());
		keep(e.what());
	} catch (const std::bad_alloc &) {
		sqlstate = ERRCODE_OUT_OF_MEMORY;
		keep("out of memory");
	} catch (const std::exception &e) {
		keep(e.what());
	} catch (...) {
		keep("unknown C++ exception");
	}
	if (pg_error)
		ReThrowError(pg_error);
	ereport(ERROR, (errcode(sqlstate), errmsg("%s", message)));
	pg_unreachable();
}

} // namespace qmdb::pg
