// One exception type for the core; the PostgreSQL glue maps `code` to a
// SQLSTATE, so every failure a user can cause carries a stable class.
#pragma once

#include <stdexcept>
#include <string>

namespace qmdb {

enum class ErrorCode {
	InvalidArgument,   // caller passed something malformed (bad length, bad range)
	Decode,            // bytes from outside failed to decode (see DecodeError)
	OutOfRange,        // a location/size beyond what exists
	Pruned,            // data below the pruning boundary was asked for
	NotCommitBoundary, // a historical size that does not end at a commit
	InvalidProof,      // a proof is malformed (not merely non-matching)
	DataCorrupted,     // stored data contradicts itself
	NotFound,          // a named object (database) does not exist
	AlreadyExists,     // a named object exists already
	NullValue,         // a required value was NULL
	LimitExceeded,     // a request above a configured cap
	InUse,             // an object busy with other work (a database being synced)
	NotReady,          // an object not in a state for this (a database whose sync has not completed)
	PermissionDenied,  // the caller may not do this (another role's sync job)
	ReadOnly,          // a write to a replica (it changes only through sync)
	WrongKind,         // a call that does not fit the database's kind (keyless has no keys)
	PeerUnavailable,   // a peer could not be reached, or refused, in time
	PeerMisbehaved,    // a peer's answer broke the protocol (wrong shape, extra results)
	Internal,          // a bug: an invariant did not hold
};

class Error : public std::runtime_error {
public:
	Error(ErrorCode code, const std::string &message) : std::runtime_error(message), code_(code) {}
	ErrorCode code() const { return code_; }

private:
	ErrorCode code_;
};

// Why a decoder refused its input. Names follow commonware's codec errors.
enum class DecodeErrorKind {
	EndOfBuffer,   // input ended inside a value
	InvalidVarint, // overlong, non-canonical or > 64-bit varint
	InvalidEnum,   // unknown tag byte
	InvalidLength, // a length prefix or count above its cap
	ExtraData,     // bytes left after a complete value
	Invalid,       // a value that decodes but breaks a rule (e.g. start >= end)
};

const char *decode_error_kind_name(DecodeErrorKind kind);

class DecodeError : public Error {
public:
	DecodeError(DecodeErrorKind kind, const std::string &what)
	    : Error(ErrorCode::Decode, std::string(decode_error_kind_name(kind)) + ": " + what), kind_(kind) {}
	DecodeErrorKind kind() const { return kind_; }

private:
	DecodeErrorKind kind_;
};

} // namespace qmdb
