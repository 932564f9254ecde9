// A sync target as a C2SP tlog-checkpoint note body (c2sp.org/tlog-checkpoint):
// the origin (names the database), the size (range_end) in decimal, the root
// in base64, and an extension line "range_start <decimal>". Signed as a
// note (note.h), it is a target nobody has to type: a follower that trusts
// the keys adopts it from any peer.
#pragma once

#include "note.h"
#include "wire.h"

#include <string>

namespace qmdb {

struct Checkpoint {
	std::string origin;
	Target target;
};

// An origin: non-empty, at most 256 bytes, printable ASCII (spaces allowed
// inside, not at either end).
bool valid_origin(const std::string &origin);
std::string checkpoint_text(const Checkpoint &c);
// Throws Error(Decode) unless `text` is a checkpoint body of ours: the three
// lines, then exactly our extension line, a valid range.
Checkpoint parse_checkpoint_text(const std::string &text);

// Whether `next` may follow `from` under one origin: it must not shrink,
// and at one size the root must be the same (else the signers showed two
// histories: a split view).
enum class CheckpointOrder { Older, Same, Newer, SplitView };
CheckpointOrder order_checkpoints(const Checkpoint &from, const Checkpoint &next);

} // namespace qmdb
