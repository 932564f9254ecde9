// The state rebuild's search for each key's last write, on a helper
// thread: the journal is read newest first and every Update or Delete's
// key goes into a KeySet in that order, so a key's first sighting is its
// last write. The caller reads the journal and writes the rows of the
// updates found while the helper looks up the next operations (the set is
// far bigger than the caches: each lookup is a wait on memory).
//
// The set is the helper's alone until the caller has taken back every
// chunk it submitted; the caller may write into the payloads handed back
// meanwhile (the helper never touches a key's payload after adding it).
#pragma once

#include "bytes.h"
#include "helper_queue.h"
#include "key_set.h"
#include "operation.h"

#include <exception>
#include <vector>

namespace qmdb {

class FirstSightings {
public:
	struct Chunk {
		Bytes bytes;                // operations laid end to end, in the order to look them up
		std::vector<uint64_t> locs; // each one's location
		std::vector<uint32_t> ends; // each one's end in `bytes`
		// Results, one per operation: the payload of a key first sighted
		// at an Update (the caller fills it), else null; and the operation
		// read, its key and value pointing into `bytes`.
		std::vector<uint8_t *> first;
		std::vector<OpView> views;
		bool full = false;        // the set ran out of budget: results from that operation on are missing
		std::exception_ptr error; // an operation did not decode (results missing)

		void add(uint64_t loc, ByteView op) {
			bytes.insert(bytes.end(), op.data, op.data + op.size);
			locs.push_back(loc);
			ends.push_back(static_cast<uint32_t>(bytes.size()));
		}
		size_t size() const { return locs.size(); }
		ByteView op(size_t i) const {
			size_t begin = i ? ends[i - 1] : 0;
			return ByteView(bytes.data() + begin, ends[i] - begin);
		}
	};

	FirstSightings(KeySet &set, const OpFormat &format)
	    : set_(set), format_(format), queue_([this](Chunk &c) { run(c); }, false) {}

	// Chunks are looked up in the order submitted, one after another.
	void submit(Chunk chunk) { queue_.submit(std::move(chunk)); }
	// The oldest chunk submitted, looked up. Precondition: pending() > 0.
	Chunk next() { return queue_.next(); }
	size_t pending() const { return queue_.pending(); }

	// The key and value of an operation (fixed sizes: at fixed offsets).
	static OpView read(const OpFormat &format, ByteView op);

private:
	void run(Chunk &chunk);
	void look_up(Chunk &chunk);

	KeySet &set_;
	OpFormat format_;
	bool full_ = false; // the helper's: once full, every later chunk is too
	HelperQueue<Chunk> queue_;
};

} // namespace qmdb
