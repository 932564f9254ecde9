#include "verify_ahead.h"

#include "../core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb::sync {

void
VerifyAhead::run(Job &job) const {
	try {
		Response response = decode_response(job.raw, job.max_ops, format_);
		job.raw = Bytes(); // the operations are copied out
		if (job.check) {
			try {
				check_range(response, *job.check);
			} catch (...) {
				job.check.reset(); // deliver() checks it again and reports what it finds
			}
		}
		job.response = std::move(response);
	} catch (...) {
		job.error = std::current_exception();
	}
}

} // namespace qmdb::sync
