#include "remote.h"

#include "../pg_headers.h"

extern "C" {
#include "catalog/pg_type_d.h"
#include "mb/pg_wchar.h"
}

#include <libpq-fe.h>

#include <cstring>

namespace qmdb::pg {

namespace {

void
count_notice(void *arg, const PGresult *) {
	// Dropped, not logged: a peer could fill this server's log with them.
	if (arg)
		++*static_cast<uint64_t *>(arg);
}

// Calls f(keyword, value) for each option the conninfo sets.
template <typename F>
void
each_option(const std::string &conninfo, F &&f) {
	PQconninfoOption *opts = PQconninfoParse(conninfo.c_str(), nullptr);
	if (!opts)
		return;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && *o->val)
			f(o->keyword, o->val);
	PQconninfoFree(opts);
}

} // namespace

pg_conn *
start_peer_connection(const std::string &conninfo, const char *application_name, uint64_t *notices) {
	// Later keywords win over the expanded conninfo: client_encoding is ours.
	const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "fallback_application_name", "dbname",
	                      "client_encoding", nullptr};
	const char *vals[] = {"10", "1", "30", application_name, conninfo.c_str(), "UTF8", nullptr};
	PGconn *conn = PQconnectStartParams(keys, vals, 1);
	if (conn) {
		PQsetNoticeReceiver(conn, count_notice, notices);
		PQsetnonblocking(conn, 1);
	}
	return conn;
}

void
set_notice_counter(PGconn *conn, uint64_t *notices) {
	PQsetNoticeReceiver(conn, count_notice, notices);
}

double
connect_timeout_of(const std::string &conninfo) {
	double timeout = DEFAULT_CONNECT_TIMEOUT;
	each_option(conninfo, [&](const char *key, const char *val) {
		if (std::strcmp(key, "connect_timeout") != 0)
			return;
		auto v = parse_peer_integer(val, static_cast<int>(std::strlen(val)));
		if (v && *v > 0)
			timeout = std::max(2.0, static_cast<double>(std::min<int64_t>(*v, 86400)));
	});
	return timeout;
}

std::string
password_rule_error(PGconn *conn, bool password_required) {
	if (password_required && !PQconnectionUsedPassword(conn))
		return "password is required: the peer did not ask for the given password (a non-superuser's sync may "
		       "only use peers that authenticate it by password)";
	return "";
}

std::string
forbidden_conninfo_option(const std::string &conninfo) {
	static const char *const FORBIDDEN[] = {"passfile",    "service",    "sslcert", "sslkey",
	                                        "sslpassword", "krbsrvname", "gsslib"};
	std::string found;
	each_option(conninfo, [&](const char *key, const char *) {
		for (const char *f : FORBIDDEN)
			if (found.empty() && std::strcmp(key, f) == 0)
				found = f;
	});
	return found;
}

bool
consume_peer_input(PGconn *conn) {
	if (!PQconsumeInput(conn))
		return false;
	while (PGnotify *n = PQnotifies(conn))
		PQfreemem(n);
	return true;
}

std::optional<int64_t>
parse_peer_integer(const char *text, int length) {
	if (!text || length <= 0 || length > 20)
		return std::nullopt;
	int i = 0;
	bool negative = text[0] == '-';
	if (negative)
		i = 1;
	if (i == length)
		return std::nullopt;
	uint64_t v = 0;
	for (; i < length; i++) {
		if (text[i] < '0' || text[i] > '9')
			return std::nullopt;
		uint64_t d = static_cast<uint64_t>(text[i] - '0');
		if (v > (static_cast<uint64_t>(INT64_MAX) - d) / 10)
			return std::nullopt;
		v = v * 10 + d;
	}
	return negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
}

int64_t
binary_int8(const char *value) {
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | static_cast<uint8_t>(value[i]);
	return static_cast<int64_t>(v);
}

int32_t
binary_int4(const char *value) {
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | static_cast<uint8_t>(value[i]);
	return static_cast<int32_t>(v);
}

std::string
peer_text(const char *text) {
	return printable_peer_text(text ? text : "", PEER_TEXT_MAX, GetDatabaseEncoding() != PG_UTF8);
}

std::string
connection_error(PGconn *conn) {
	return conn ? peer_text(PQerrorMessage(conn)) : "out of memory";
}

std::string
check_result_shape(const PGresult *res, const std::vector<ColumnShape> &columns) {
	if (!res)
		return "no result";
	ExecStatusType st = PQresultStatus(res);
	if (st == PGRES_FATAL_ERROR)
		return peer_text(PQresultErrorMessage(res));
	if (st != PGRES_TUPLES_OK)
		return std::string("unexpected result from the peer: ") + PQresStatus(st);
	if (PQntuples(res) != 1)
		return "the peer answered " + std::to_string(PQntuples(res)) + " rows, not 1";
	if (PQnfields(res) != static_cast<int>(columns.size()))
		return "the peer answered " + std::to_string(PQnfields(res)) + " columns, not " +
		       std::to_string(columns.size());
	for (size_t i = 0; i < columns.size(); i++) {
		const ColumnShape &c = columns[i];
		int col = static_cast<int>(i);
		std::string what = std::string("column ") + c.name + " of the peer's answer";
		if (PQftype(res, col) != c.type)
			return what + " has type " + std::to_string(PQftype(res, col)) + ", not " + std::to_string(c.type);
		if (PQfformat(res, col) != (c.binary ? 1 : 0))
			return what + " is not in the format asked for";
		if (PQgetisnull(res, 0, col)) {
			if (c.nullable)
				continue;
			return what + " is NULL";
		}
		int len = PQgetlength(res, 0, col);
		if (len < 0 || len > c.max_length || (c.exact_length >= 0 && len != c.exact_length))
			return what + " has " + std::to_string(len) + " bytes";
	}
	return "";
}

} // namespace qmdb::pg
