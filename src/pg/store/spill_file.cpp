#include "spill_file.h"

#include <algorithm>
#include <cstring>
#include <exception>

namespace qmdb::pg {

SpillFile::SpillFile() {
	file_ = pg_call([] { return BufFileCreateTemp(false); });
}

SpillFile::~SpillFile() {
	if (!file_ || std::uncaught_exceptions() > 0)
		return;
	try {
		pg_call([&] { BufFileClose(file_); });
	} catch (const PgError &) {
		// Closing a temporary file does not fail in practice; the
		// transaction's end removes it regardless.
	}
}

void
SpillFile::write(uint64_t loc, ByteView op, size_t key_size) {
	// Each record: the location, the operation's length, its bytes.
	uint8_t head[12];
	uint32_t size = static_cast<uint32_t>(op.size);
	std::memcpy(head, &loc, 8);
	std::memcpy(head + 8, &size, 4);
	pg_call([&] {
		BufFileWrite(file_, head, sizeof head);
		BufFileWrite(file_, const_cast<uint8_t *>(op.data), op.size);
	});
	count_++;
	key_bytes_ += key_size;
	longest_ = std::max(longest_, key_size);
}

void
SpillFile::rewind() {
	int r = pg_call([&] { return BufFileSeek(file_, 0, 0, SEEK_SET); });
	if (r != 0)
		throw Error(ErrorCode::Internal, "could not rewind a temporary file of the state rebuild");
}

bool
SpillFile::read(uint64_t &loc, ByteView &op) {
	uint8_t head[12];
	size_t got = pg_call([&] { return BufFileRead(file_, head, sizeof head); });
	if (got == 0)
		return false;
	uint32_t size;
	std::memcpy(&loc, head, 8);
	std::memcpy(&size, head + 8, 4);
	buffer_.resize(size);
	size_t body = size ? pg_call([&] { return BufFileRead(file_, buffer_.data(), size); }) : 0;
	if (got != sizeof head || body != size)
		throw Error(ErrorCode::Internal, "a temporary file of the state rebuild ended early");
	op = ByteView(buffer_.data(), size);
	return true;
}

} // namespace qmdb::pg
