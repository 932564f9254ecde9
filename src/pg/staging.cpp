#include "staging.h"

#include "pg_headers.h"

extern "C" {
#include "access/xact.h"
}

#include <algorithm>
#include <map>
#include <vector>

namespace qmdb::pg {

namespace {

struct Staged {
	SubTransactionId subid;
	Bytes key;
	std::optional<Bytes> value;
};

// Allocated once per backend; never destroyed (no global destructors).
std::map<std::string, std::vector<Staged>> &
staged() {
	static auto *writes = new std::map<std::string, std::vector<Staged>>();
	return *writes;
}

void
on_xact(XactEvent event, void *) {
	auto &writes = staged();
	if (writes.empty())
		return;
	if (event == XACT_EVENT_PRE_PREPARE) {
		// Staged writes live in this backend, not in the transaction: a
		// prepared transaction would leave them behind for this session's
		// next qmdb.commit, whatever became of it (as PostgreSQL refuses to
		// PREPARE with temporary objects).
		for (const auto &w : writes)
			if (!w.second.empty())
				ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				                errmsg("cannot PREPARE a transaction that has staged writes to database \"%s\"",
				                       w.first.c_str()),
				                errhint("Call qmdb.commit('%s') before PREPARE TRANSACTION.", w.first.c_str())));
		writes.clear();
	} else if (event == XACT_EVENT_PREPARE) {
		writes.clear();
	} else if (event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT) {
		for (const auto &w : writes)
			if (!w.second.empty())
				ereport(WARNING,
				        (errmsg("discarding %zu staged writes to database \"%s\"", w.second.size(), w.first.c_str()),
				         errhint("Call qmdb.commit('%s') before committing the transaction.", w.first.c_str())));
		writes.clear();
	} else if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_COMMIT) {
		writes.clear();
	}
}

void
on_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId, void *) {
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	// Writes of the aborted subtransaction and of its children go.
	for (auto &w : staged()) {
		auto &v = w.second;
		v.erase(std::remove_if(v.begin(), v.end(), [&](const Staged &s) { return s.subid >= mySubid; }), v.end());
	}
}

} // namespace

void
stage_write(const std::string &db, Bytes key, std::optional<Bytes> value) {
	staged()[db].push_back({GetCurrentSubTransactionId(), std::move(key), std::move(value)});
}

Mutations
take_staged(const std::string &db) {
	Mutations m;
	auto it = staged().find(db);
	if (it == staged().end())
		return m;
	for (Staged &s : it->second)
		m[s.key] = std::move(s.value);
	staged().erase(it);
	return m;
}

void
register_staging_callbacks() {
	RegisterXactCallback(on_xact, nullptr);
	RegisterSubXactCallback(on_subxact, nullptr);
}

} // namespace qmdb::pg
