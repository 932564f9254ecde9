// Text a peer sent (an error message, a notice, a handshake field) made
// safe to store, log and dump: whatever bytes arrive, the result is valid
// UTF-8 (or plain ASCII), has no control characters, and is at most a
// given number of bytes. Invalid bytes and control characters are shown
// as \xNN, so nothing the peer sent is lost from view below the cap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace qmdb {

// The cap on peer text kept anywhere (a job's last_error, a peer's
// ban_reason): well below NOTIFY's 8000-byte payload limit.
constexpr size_t PEER_TEXT_MAX = 1000;

// `ascii_only` escapes every byte above 0x7f too, for a database whose
// encoding is not UTF-8. A line break becomes a space; trailing spaces go.
// A result cut at `max_bytes` ends with "...", on a character boundary.
std::string printable_peer_text(std::string_view text, size_t max_bytes = PEER_TEXT_MAX, bool ascii_only = false);

// The length of the valid UTF-8 character at the start of `s` (1 to 4),
// or 0 if it does not start with one (overlong forms and surrogates are
// invalid, as in PostgreSQL).
size_t utf8_char_length(std::string_view s);

} // namespace qmdb
