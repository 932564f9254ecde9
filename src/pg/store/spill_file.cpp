#include "spill_file.h"

#include <algorithm>
#include <cstring>
#include <exception>

namespace qmdb::pg {

SpillFile::SpillFile() {
	file_ = pg_call([] { return BufFileCreateTemp(false); });
	buffer_.reserve(BUFFER);
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
SpillFile::flush() {
	if (buffer_.empty())
		return;
	pg_call([&] { BufFileWrite(file_, buffer_.data(), buffer_.size()); });
	buffer_.clear();
}

void
SpillFile::write(uint64_t loc, ByteView op, size_t key_size) {
	if (!writing_)
		throw Error(ErrorCode::Internal, "a temporary file of the state rebuild written after its rewind");
	if (buffer_.size() + HEAD + op.size > BUFFER)
		flush();
	uint32_t size = static_cast<uint32_t>(op.size);
	size_t at = buffer_.size();
	buffer_.resize(at + HEAD + op.size);
	std::memcpy(buffer_.data() + at, &loc, 8);
	std::memcpy(buffer_.data() + at + 8, &size, 4);
	if (op.size)
		std::memcpy(buffer_.data() + at + HEAD, op.data, op.size);
	count_++;
	key_bytes_ += key_size;
	longest_ = std::max(longest_, key_size);
}

void
SpillFile::rewind() {
	if (writing_)
		flush();
	writing_ = false;
	int r = pg_call([&] { return BufFileSeek(file_, 0, 0, SEEK_SET); });
	if (r != 0)
		throw Error(ErrorCode::Internal, "could not rewind a temporary file of the state rebuild");
	buffer_.clear();
	at_ = 0;
}

bool
SpillFile::fill(size_t n) {
	if (buffer_.size() - at_ >= n)
		return true;
	// Keep the unread tail, then read at least up to n more (a record may
	// be longer than the buffer: an operation is up to a few MB).
	buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(at_));
	at_ = 0;
	size_t have = buffer_.size();
	size_t want = std::max(n, BUFFER);
	buffer_.resize(want);
	size_t got = pg_call([&] { return BufFileRead(file_, buffer_.data() + have, want - have); });
	buffer_.resize(have + got);
	return buffer_.size() >= n;
}

bool
SpillFile::read(uint64_t &loc, ByteView &op) {
	if (writing_)
		throw Error(ErrorCode::Internal, "a temporary file of the state rebuild read before its rewind");
	if (!fill(HEAD)) {
		if (buffer_.size() != at_)
			throw Error(ErrorCode::Internal, "a temporary file of the state rebuild ended inside a record");
		return false;
	}
	uint32_t size;
	std::memcpy(&loc, buffer_.data() + at_, 8);
	std::memcpy(&size, buffer_.data() + at_ + 8, 4);
	if (!fill(HEAD + size))
		throw Error(ErrorCode::Internal, "a temporary file of the state rebuild ended inside a record");
	op = ByteView(buffer_.data() + at_ + HEAD, size);
	at_ += HEAD + size;
	return true;
}

} // namespace qmdb::pg
