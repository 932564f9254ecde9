// A temporary file of operations (each with its location), written once
// and then read back in the order written: the state rebuild's ranges of
// keys when they do not fit memory together (state_table.cpp). PostgreSQL's
// BufFile underneath, so the files go to temp_tablespaces, count against
// temp_file_limit, and vanish with the transaction if it fails. Records
// pass through a buffer of our own, so PostgreSQL is called once per
// BUFFER bytes, not once per operation.
#pragma once

#include "../guard.h"

#include "core/bytes.h"
#include "core/error.h"

extern "C" {
#include "storage/buffile.h"
}

#include <cstdint>

namespace qmdb::pg {

class SpillFile {
public:
	SpillFile();
	~SpillFile(); // closes the file, unless an exception is leaving (the abort does)
	SpillFile(const SpillFile &) = delete;
	SpillFile &operator=(const SpillFile &) = delete;

	// One operation and its key's length (for memory_for's bound).
	void write(uint64_t loc, ByteView op, size_t key_size);
	// Back to the first operation; writing is over.
	void rewind();
	// The next operation, or false at the end. `op` stays valid until the
	// next call.
	bool read(uint64_t &loc, ByteView &op);

	uint64_t count() const { return count_; }
	uint64_t key_bytes() const { return key_bytes_; }
	size_t longest_key() const { return longest_; }

private:
	static constexpr size_t BUFFER = size_t(64) << 10;
	static constexpr size_t HEAD = 12; // location, then the operation's length
	void flush();
	// At least `n` bytes from buffer_[at_] on (false: the file ended first).
	bool fill(size_t n);

	BufFile *file_ = nullptr;
	uint64_t count_ = 0, key_bytes_ = 0;
	size_t longest_ = 0;
	Bytes buffer_;  // writing: records not yet written; reading: bytes read, from at_ on unread
	size_t at_ = 0; // reading: the next record in buffer_
	bool writing_ = true;
};

} // namespace qmdb::pg
