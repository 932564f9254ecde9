// Connecting to a peer on a thread of its own. libpq makes the connection
// and authenticates inside PQconnectPoll, and a peer that asks for SCRAM
// chooses how many PBKDF2 rounds that computes: libpq 15 accepts any number,
// and 2^31 rounds take minutes, on the calling thread, where no interrupt
// is taken. So the connect runs on a quiet thread (every signal blocked,
// libpq calls only, no PostgreSQL call) while the caller keeps waiting on
// its latch and may give up at any time: sync_cancel, a query cancel and a
// fast shutdown stay prompt whatever the peer asks for.
//
// A thread inside such a computation cannot be stopped. One that is given
// up finishes by itself and frees its connection; a process that exits
// meanwhile must not run its atexit handlers under it (they tear down
// OpenSSL): see connectors_finished().
//
// The thread makes libpq calls only; nothing here raises a PostgreSQL error.
#pragma once

#include <memory>

struct pg_conn;

namespace qmdb::pg {

class Connector {
public:
	enum class Result { Running, Connected, Failed };

	// Takes `conn`, started by PQconnectStart* in non-blocking mode.
	explicit Connector(pg_conn *conn);
	// Gives up if still running (the thread frees the connection when done).
	~Connector();
	Connector(const Connector &) = delete;
	Connector &operator=(const Connector &) = delete;

	// Where it stands; never blocks.
	Result result();
	// Once Connected or Failed: the connection, now the caller's (for its
	// error message too).
	pg_conn *take();
	// Readable once the result is in: for the caller's wait (a socket event).
	int wake_fd() const;

	struct Shared;

private:
	std::shared_ptr<Shared> shared_;
	bool inline_ = false; // no thread could be started: connect on the caller's thread
	pg_conn *inline_conn_ = nullptr;
};

// At a process exit: true once no connector thread is running, waiting at
// most `wait_ms` for them. False means one is still computing: the caller
// should end the process with _exit().
bool connectors_finished(int wait_ms);

// Once per process that connects to peers (called on its own thread): an
// exit callback that waits a moment for connector threads and, if one is
// still computing, ends the process with _exit, so that no atexit handler
// tears down OpenSSL or the heap under it. on_proc_exit callbacks run after
// shared memory is released, so _exit there loses nothing PostgreSQL needs.
void guard_connectors_at_exit();

} // namespace qmdb::pg
