// Standard base64 (RFC 4648 §4, with padding), as signed notes and
// checkpoints use it. Decoding is strict: wrong length, a character outside
// the alphabet, or non-canonical padding bits are errors, so one value has
// one text.
#pragma once

#include "bytes.h"

#include <optional>
#include <string>

namespace qmdb {

std::string base64_encode(ByteView data);
// nullopt for anything but the canonical encoding of some bytes.
std::optional<Bytes> base64_decode(const std::string &text);

} // namespace qmdb
