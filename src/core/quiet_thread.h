// A std::thread that starts with every signal blocked. Our helper threads
// run inside PostgreSQL processes, whose signal handlers (SIGTERM, latch
// wake-ups) must run on the process's own thread: a thread made this way
// is never picked to take a process-directed signal.
#pragma once

#include <functional>
#include <thread>

namespace qmdb {

std::thread start_quiet_thread(std::function<void()> body);

} // namespace qmdb
