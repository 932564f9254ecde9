#include "serve.h"

#include "error.h"
#include "mmr.h"

#include <string>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

Response
serve_request(Hasher &hasher, ServeSource &db, const Request &req) {
	if (req.size > db.size())
		throw Error(ErrorCode::OutOfRange, "requested size " + std::to_string(req.size) +
		                                       " is beyond the database size " + std::to_string(db.size()));
	if (req.start >= req.size)
		throw Error(ErrorCode::InvalidArgument, "request start must be below its size");
	if (req.start < db.pruning_boundary() || req.size - 1 < db.pruning_boundary())
		throw Error(ErrorCode::Pruned, "location " + std::to_string(req.start) + " is below the pruning boundary " +
		                                   std::to_string(db.pruning_boundary()));
	uint64_t k = inactive_peaks(req.size, db.floor_at(req.size));
	uint64_t end = req.start + std::min(req.max_ops, req.size - req.start);
	Response resp;
	resp.kind = req.kind;
	resp.proof = build_proof(hasher, db.nodes(), req.size, k, req.start, end);
	resp.operations = db.read_ops(req.start, end);
	if (req.kind == RequestKind::Boundary) {
		for (uint64_t pos : nodes_to_pin(req.start)) {
			auto d = db.nodes().get(pos);
			if (!d)
				throw Error(ErrorCode::Pruned, "pinned node " + std::to_string(pos) + " is pruned");
			resp.pinned_nodes.push_back(*d);
		}
	}
	return resp;
}

} // namespace qmdb
