#!/usr/bin/env python3
"""A hostile peer: a small server that speaks PostgreSQL's wire protocol
(version 3) and answers pg_qmdb's queries (qmdb.hello, qmdb.serve) the way
a scenario says, to test that nothing a peer sends can crash, wedge or
fool a syncing server.

The scenario is the database name a client connects to, so one server on
one port plays every scenario. Each query it receives is logged, one line
"<scenario> <hello|serve|other>", to the log file given.

    hostile_peer.py PORT LOGFILE

Scenarios (dbname):
  honest_hello      a well-formed handshake for a fixed 32/32 database; every
                    qmdb.serve then fails with an error (a peer that pruned)
  serve_error       the same (name used by the tests)
  serve_garbage     qmdb.serve answers bytes that decode to nothing
  serve_two_cols    qmdb.serve answers a row of two columns
  serve_copy        qmdb.serve answers with a COPY OUT response
  serve_huge        qmdb.serve answers a 200 MB value
  serve_silent      qmdb.serve gets no answer, ever
  hello_one_column  qmdb.hello answers one column (fetch_target's old crash)
  (fetch_target's and sync_start's hello: root, floor, size and the format,
  fixed 32/32, in binary; a worker's: the handshake in text)
  hello_short_root  qmdb.hello answers a 3-byte root
  hello_two_results qmdb.hello answers two result sets
  hello_copy        qmdb.hello answers with a COPY OUT response
  hello_huge        qmdb.hello answers a 200 MB row
  hello_long_error  qmdb.hello fails with a 9000-byte error of invalid UTF-8
  hello_noise       before a good answer: 20000 notices, 20000 notifications
                    and a ParameterStatus setting client_encoding to SQL_ASCII
  hello_extra_ready a ReadyForQuery before the answer
  hello_negative    a good-looking answer whose range is [-5, 10)
  hello_bad_kind    a good-looking answer naming an unknown database kind
  silent            accepts the connection and never answers
  drip              answers the startup one byte every half second
  disconnect        closes the connection in the middle of a message
  pw_*              as the rest of the name, after asking for a password
                    (cleartext) and accepting any
  scram_slow        asks for SCRAM-SHA-256 with 2^31 - 1 PBKDF2 rounds (minutes
                    of the client's CPU), then waits
Anything else: like honest_hello.
"""
import socket
import struct
import sys
import threading
import time

HUGE = 200 * 1024 * 1024
LOG_LOCK = threading.Lock()


def msg(kind, body=b""):
    return kind + struct.pack("!i", len(body) + 4) + body


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def error(message, severity="ERROR", code="XX000", kind=b"E"):
    m = message.encode() if isinstance(message, str) else message
    return msg(kind, b"S" + cstr(severity) + b"V" + cstr(severity) + b"C" + cstr(code) + b"M" + m + b"\0" + b"\0")


def row_description(cols):
    body = struct.pack("!h", len(cols))
    for name, oid, fmt in cols:
        body += cstr(name) + struct.pack("!ihihih", 0, 0, oid, -1, -1, fmt)
    return msg(b"T", body)


def data_row(values):
    body = struct.pack("!h", len(values))
    for v in values:
        body += struct.pack("!i", -1) if v is None else struct.pack("!i", len(v)) + v
    return msg(b"D", body)


def copy_out():
    return msg(b"H", struct.pack("!bh", 0, 1) + struct.pack("!h", 0))


def ready():
    return msg(b"Z", b"I")


class Conn:
    def __init__(self, sock, log):
        self.sock = sock
        self.log = log
        self.buf = b""

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, data):
        self.sock.sendall(data)

    def note(self, scenario, what):
        with LOG_LOCK, open(self.log, "a") as f:
            f.write(f"{scenario} {what}\n")


def hello_answer(scenario, binary):
    """The rows of qmdb.hello for the worker's (text) or fetch_target's (binary) query."""
    if scenario == "hello_one_column":
        return row_description([("x", 25, 0)]) + data_row([b"1"])
    if binary:  # set_config, root, floor, size
        root = b"\x11" * (3 if scenario == "hello_short_root" else 32)
        floor, size = (-5, 10) if scenario == "hello_negative" else (0, 10)
        kind = b"current\xff" if scenario == "hello_bad_kind" else b"any"
        cols = [("set_config", 25, 1), ("root", 17, 1), ("floor", 20, 1), ("size", 20, 1), ("encoding", 25, 1),
                ("key_size", 23, 1), ("value_size", 23, 1), ("coalesce", 25, 1)]
        fmt = [b"fixed", struct.pack("!i", 32), struct.pack("!i", 32), kind]
        first = b"x" * HUGE if scenario == "hello_huge" else b""
        return row_description(cols) + data_row([first, root, struct.pack("!q", floor), struct.pack("!q", size)] + fmt)
    cols = [("set_config", 25, 0), ("protocol_version", 23, 0), ("hasher", 25, 0), ("family", 25, 0),
            ("encoding", 25, 0), ("key_size", 23, 0), ("value_size", 23, 0), ("max_ops", 20, 0), ("coalesce", 25, 0)]
    values = [b"", b"1", b"sha256", b"mmr", b"fixed", b"32", b"32", b"10000",
              b"current\xff" if scenario == "hello_bad_kind" else b"any"]
    if scenario == "hello_huge":
        values[2] = b"x" * HUGE
    return row_description(cols) + data_row(values)


def answer(c, scenario, sql, binary):
    """Everything sent back for one query, up to (not including) ReadyForQuery."""
    if "qmdb.hello" in sql:
        c.note(scenario, "hello")
        head = msg(b"1") + msg(b"2")
        if scenario == "hello_long_error":
            return head + error(b"\xff\xfe" + b"\xc3(" * 4499)
        if scenario == "hello_copy":
            return head + copy_out()
        if scenario == "hello_noise":
            noise = error("a notice", "NOTICE", "00000", b"N") * 20000
            noise += msg(b"A", struct.pack("!i", 1) + cstr("qmdb_sync") + cstr("x" * 100)) * 20000
            noise += msg(b"S", cstr("client_encoding") + cstr("SQL_ASCII"))
            return noise + head + hello_answer(scenario, binary) + msg(b"C", cstr("SELECT 1"))
        out = head + hello_answer(scenario, binary) + msg(b"C", cstr("SELECT 1"))
        if scenario == "hello_extra_ready":
            out = ready() + out
        if scenario == "hello_two_results":
            out += hello_answer(scenario, binary) + msg(b"C", cstr("SELECT 1"))
        return out
    if "qmdb.serve" in sql:
        c.note(scenario, "serve")
        head = msg(b"1") + msg(b"2")
        if scenario == "serve_garbage":
            return head + row_description([("serve", 17, 1)]) + data_row([b"\x07garbage"]) + msg(b"C", cstr("SELECT 1"))
        if scenario == "serve_two_cols":
            return (head + row_description([("serve", 17, 1), ("x", 17, 1)]) + data_row([b"\x00", b"\x00"]) +
                    msg(b"C", cstr("SELECT 1")))
        if scenario == "serve_copy":
            return head + copy_out()
        if scenario == "serve_huge":
            return head + row_description([("serve", 17, 1)]) + data_row([b"\x00" * HUGE]) + msg(b"C", cstr("SELECT 1"))
        if scenario == "serve_silent":
            return None
        return head + error("requested range is below this peer's pruning boundary", code="QM002")
    c.note(scenario, "other")
    return msg(b"1") + msg(b"2") + msg(b"n") + msg(b"C", cstr("SET"))


def bind_wants_binary(body):
    """Whether a Bind message asks for binary results (libpq sends one code)."""
    i = body.index(b"\0") + 1          # portal
    i = body.index(b"\0", i) + 1       # statement
    nfmt = struct.unpack("!h", body[i:i + 2])[0]
    i += 2 + 2 * nfmt
    nparams = struct.unpack("!h", body[i:i + 2])[0]
    i += 2
    for _ in range(nparams):
        n = struct.unpack("!i", body[i:i + 4])[0]
        i += 4 + max(n, 0)
    nres = struct.unpack("!h", body[i:i + 2])[0]
    return nres >= 1 and struct.unpack("!h", body[i + 2:i + 4])[0] == 1


def serve(sock, log):
    c = Conn(sock, log)
    # Startup: SSL and GSS requests are refused, then the startup message.
    while True:
        n = struct.unpack("!i", c.read(4))[0]
        body = c.read(n - 4)
        code = struct.unpack("!i", body[:4])[0]
        if code in (80877103, 80877104):
            c.send(b"N")
            continue
        break
    parts = body[4:].split(b"\0")
    params = dict(zip(parts[0::2], parts[1::2]))
    scenario = params.get(b"database", b"").decode(errors="replace")
    if scenario == "silent":
        while c.sock.recv(65536):
            pass
        return
    if scenario == "scram_slow":
        c.send(msg(b"R", struct.pack("!i", 10) + cstr("SCRAM-SHA-256") + b"\0"))
        c.read(1)
        n = struct.unpack("!i", c.read(4))[0]
        first = c.read(n - 4)
        client_nonce = first.split(b"r=")[-1]
        c.send(msg(b"R", struct.pack("!i", 11) + b"r=" + client_nonce + b"hostile,s=c2FsdHNhbHRzYWx0c2FsdA==,i=2147483647"))
        while c.sock.recv(65536):
            pass
        return
    if scenario.startswith("pw_"):
        c.send(msg(b"R", struct.pack("!i", 3)))
        kind = c.read(1)
        n = struct.unpack("!i", c.read(4))[0]
        c.read(n - 4)
        scenario = scenario[3:]
    welcome = (msg(b"R", struct.pack("!i", 0)) + msg(b"S", cstr("server_version") + cstr("15.0")) +
               msg(b"S", cstr("server_encoding") + cstr("UTF8")) + msg(b"S", cstr("client_encoding") + cstr("UTF8")) +
               msg(b"S", cstr("integer_datetimes") + cstr("on")) +
               msg(b"S", cstr("standard_conforming_strings") + cstr("on")) + msg(b"K", struct.pack("!ii", 4242, 1)) +
               ready())
    if scenario == "drip":
        for b in welcome:
            c.send(bytes([b]))
            time.sleep(0.5)
        return
    if scenario == "disconnect":
        c.send(welcome[:7])
        return
    c.send(welcome)
    sql, binary, pending, silent = "", False, b"", False
    while True:
        kind = c.read(1)
        n = struct.unpack("!i", c.read(4))[0]
        body = c.read(n - 4)
        if kind == b"X":
            return
        if kind == b"P":
            sql = body.split(b"\0")[1].decode(errors="replace")
        elif kind == b"B":
            binary = bind_wants_binary(body)
        elif kind == b"E":
            out = answer(c, scenario, sql, binary)
            if out is None:
                silent = True
            else:
                pending += out
        elif kind == b"S":
            if silent:
                continue  # never answered
            c.send(pending + ready())
            pending = b""
        elif kind == b"Q":
            c.send(msg(b"I") + ready())


def main():
    port, log = int(sys.argv[1]), sys.argv[2]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(64)
    open(log, "a").close()
    while True:
        sock, _ = srv.accept()

        def run(s=sock):
            try:
                serve(s, log)
            except (EOFError, OSError):
                pass
            finally:
                try:
                    s.close()
                except OSError:
                    pass

        threading.Thread(target=run, daemon=True).start()


if __name__ == "__main__":
    main()
