#include "checkpoint.h"

#include "base64.h"
#include "error.h"
#include "mmr.h"

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

static const char RANGE_START[] = "range_start ";

bool
valid_origin(const std::string &origin) {
	if (origin.empty() || origin.size() > 256 || origin.front() == ' ' || origin.back() == ' ')
		return false;
	for (char c : origin)
		if (c < ' ' || c > '~')
			return false;
	return true;
}

std::string
checkpoint_text(const Checkpoint &c) {
	if (!valid_origin(c.origin))
		throw Error(ErrorCode::InvalidArgument, "invalid checkpoint origin (1 to 256 printable ASCII characters)");
	return c.origin + "\n" + std::to_string(c.target.end) + "\n" + base64_encode(c.target.root) + "\n" + RANGE_START +
	       std::to_string(c.target.start) + "\n";
}

// A decimal without sign or leading zeros, at most MAX_LEAVES.
static bool
parse_location(const std::string &s, uint64_t &out) {
	if (s.empty() || s.size() > 19 || (s.size() > 1 && s[0] == '0'))
		return false;
	uint64_t v = 0;
	for (char c : s) {
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + uint64_t(c - '0');
	}
	if (!location_is_valid(v))
		return false;
	out = v;
	return true;
}

Checkpoint
parse_checkpoint_text(const std::string &text) {
	auto bad = [](const std::string &why) { return DecodeError(DecodeErrorKind::Invalid, "checkpoint: " + why); };
	std::vector<std::string> lines;
	size_t at = 0;
	while (at < text.size()) {
		size_t end = text.find('\n', at);
		if (end == std::string::npos)
			throw bad("no final newline");
		lines.push_back(text.substr(at, end - at));
		at = end + 1;
	}
	if (lines.size() != 4)
		throw bad("expected origin, size, root and range_start lines");
	Checkpoint c;
	c.origin = lines[0];
	if (!valid_origin(c.origin))
		throw bad("invalid origin");
	if (!parse_location(lines[1], c.target.end))
		throw bad("invalid size");
	auto root = base64_decode(lines[2]);
	if (!root || root->size() != 32)
		throw bad("the root must be base64 of 32 bytes");
	std::copy(root->begin(), root->end(), c.target.root.begin());
	if (lines[3].compare(0, sizeof(RANGE_START) - 1, RANGE_START) != 0 ||
	    !parse_location(lines[3].substr(sizeof(RANGE_START) - 1), c.target.start))
		throw bad("expected \"range_start <decimal>\"");
	if (c.target.start >= c.target.end)
		throw bad("range_start must be below the size");
	return c;
}

CheckpointOrder
order_checkpoints(const Checkpoint &from, const Checkpoint &next) {
	if (next.target.end == from.target.end)
		return next.target.root == from.target.root ? CheckpointOrder::Same : CheckpointOrder::SplitView;
	return next.target.end > from.target.end ? CheckpointOrder::Newer : CheckpointOrder::Older;
}

} // namespace qmdb
