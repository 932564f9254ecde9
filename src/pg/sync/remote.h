// What pg_qmdb applies to every connection it opens to a peer (a sync
// worker's peers, qmdb.fetch_target): everything the peer sends is hostile
// (docs/security.md). Connections get our settings on top of the user's
// conninfo, the password rule is checked before any query, every result's
// shape is checked before a value is read, notices and notifications are
// dropped as they come, and text from the peer is made printable and short.
//
// Plain libpq and C++: nothing here raises a PostgreSQL error.
#pragma once

#include "core/peer_text.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace qmdb::pg {

// Most peers one job may have: each is a socket and a connection's buffers.
constexpr size_t MAX_PEERS = 32;
// Longest peer connection string accepted.
constexpr size_t MAX_CONNINFO_BYTES = 4096;
// Seconds to connect and authenticate when the conninfo sets no connect_timeout.
constexpr double DEFAULT_CONNECT_TIMEOUT = 10;

// Start a non-blocking connection: our defaults, then the user's conninfo
// (expand_dbname), then what we enforce (client_encoding UTF8). Notices
// from the peer are counted into *notices and dropped. Never null unless
// out of memory.
pg_conn *start_peer_connection(const std::string &conninfo, const char *application_name, uint64_t *notices);

// Count the connection's notices into *notices (null: drop them uncounted).
void set_notice_counter(pg_conn *conn, uint64_t *notices);

// Seconds allowed to connect and authenticate: the conninfo's
// connect_timeout (at least 2, as libpq), or DEFAULT_CONNECT_TIMEOUT.
double connect_timeout_of(const std::string &conninfo);

// After the connection is made and before any query: "" if it may be used,
// else why not. A connection for a non-superuser must have sent the
// password its conninfo gave (postgres_fdw's rule), so no role borrows this
// server's .pgpass, trust or peer authentication.
std::string password_rule_error(pg_conn *conn, bool password_required);

// Options a non-superuser may not set in a peer's conninfo: each reads a
// credential or file of this server's. "" if none is set, else the first.
std::string forbidden_conninfo_option(const std::string &conninfo);

// Read what libpq has buffered, then drop notifications it queued (a peer
// can send any number). False if the connection failed.
bool consume_peer_input(pg_conn *conn);

// The expected shape of one column of a peer's one-row result.
struct ColumnShape {
	const char *name;
	unsigned int type;     // the type OID the peer must announce
	bool binary;           // the result format asked for
	int max_length;        // the longest value accepted, in bytes
	int exact_length = -1; // when >= 0, the only length accepted
	bool nullable = false;
};

// "" when `res` is a single row of exactly these columns, else what is wrong
// (the status and the peer's error text, printable and capped).
std::string check_result_shape(const pg_result *res, const std::vector<ColumnShape> &columns);

// A decimal integer in text format: digits only (a leading '-' if allowed),
// no more than fit. nullopt otherwise.
std::optional<int64_t> parse_peer_integer(const char *text, int length);

// A binary-format int8 or int4 value (big-endian; the length checked by
// check_result_shape).
int64_t binary_int8(const char *value);
int32_t binary_int4(const char *value);

// Text from the peer, made safe to store (see core/peer_text.h): ASCII only
// unless this database's encoding is UTF-8. Trailing line breaks go.
std::string peer_text(const char *text);

// The libpq error of the connection, as peer_text.
std::string connection_error(pg_conn *conn);

} // namespace qmdb::pg
