-- The commonware Request and Target codecs through SQL, and the C++ error
-- boundary: decoder failures arrive as ERRORs with a SQLSTATE, and the
-- session stays usable afterwards.

-- Operations{size 300, start 5, max_ops 1000}: varint size and start, be8 max_ops.
SELECT encode(qmdb.encode_request('operations', 300, 5, 1000), 'hex');
SELECT * FROM qmdb.decode_request('\x00ac020500000000000003e8');
SELECT encode(qmdb.encode_request('boundary', 300, 5), 'hex');
SELECT * FROM qmdb.decode_request(qmdb.encode_request('boundary', 300, 5));

-- Malformed requests: each names what is wrong.
SELECT regress.err($$SELECT qmdb.decode_request('\x02ac0205')$$);
SELECT regress.err($$SELECT qmdb.decode_request('\x010505')$$);
SELECT regress.err($$SELECT qmdb.decode_request('\x000a000000000000000000')$$);
SELECT regress.err($$SELECT qmdb.decode_request('\x000a0000000000000001')$$);
SELECT regress.err($$SELECT qmdb.decode_request('\x01ac020500')$$);
SELECT regress.err($$SELECT qmdb.decode_request('\x0180000a')$$);
SELECT regress.err($$SELECT qmdb.decode_request('\x')$$);
SELECT regress.err($$SELECT qmdb.encode_request('fetch', 10, 1, 1)$$);
SELECT regress.err($$SELECT qmdb.encode_request('operations', 10, 10, 1)$$);
SELECT regress.err($$SELECT qmdb.encode_request('operations', 10, 1, 0)$$);
SELECT regress.err($$SELECT qmdb.encode_request('operations', 10, -1, 1)$$);
SELECT regress.err($$SELECT qmdb.encode_request('operations', NULL, 1, 1)$$);

-- Targets: root || varint(start) || varint(end).
SELECT encode(qmdb.encode_target(sha256('\x0000000000000000'), 5, 300), 'hex');
SELECT range_start, range_end, root = sha256('\x0000000000000000') AS root_ok
  FROM qmdb.decode_target(qmdb.encode_target(sha256('\x0000000000000000'), 5, 300));
SELECT regress.err($$SELECT qmdb.encode_target('\x00', 1, 2)$$);
SELECT regress.err($$SELECT qmdb.encode_target(sha256(''), 2, 2)$$);
SELECT regress.err($$SELECT qmdb.decode_target(sha256('') || '\x0707'::bytea)$$);
SELECT regress.err($$SELECT qmdb.decode_target(sha256('') || '\x070800'::bytea)$$);
SELECT regress.err($$SELECT qmdb.decode_target('\x00')$$);

-- Operations: the variable encoding (tag, varint-prefixed items, varint floor)
-- and the fixed one (raw fields, be8 floor, zero padding to one size).
SELECT * FROM qmdb.decode_operation('\xd202616201 63'::bytea);
SELECT * FROM qmdb.decode_operation('\xd1026162');
SELECT * FROM qmdb.decode_operation('\xd30005');
SELECT * FROM qmdb.decode_operation('\xd3010178 05');
SELECT * FROM qmdb.decode_operation('\xd2616263 00000000000000', 'fixed', 2, 1);
SELECT * FROM qmdb.decode_operation('\xd16162 0000000000000000', 'fixed', 2, 1);
SELECT * FROM qmdb.decode_operation('\xd30000 0000000000000005', 'fixed', 2, 1);
SELECT regress.err($$SELECT qmdb.decode_operation('\xd4026162')$$);
SELECT regress.err($$SELECT qmdb.decode_operation('\xd2026162')$$);
SELECT regress.err($$SELECT qmdb.decode_operation('\xd1026162ff')$$);
SELECT regress.err($$SELECT qmdb.decode_operation('\xd2616263 00000000000001', 'fixed', 2, 1)$$);
SELECT regress.err($$SELECT qmdb.decode_operation('\xd1026162', 'fixed')$$);
SELECT regress.err($$SELECT qmdb.decode_operation('\xd1026162', 'compact')$$);
SELECT regress.err($$SELECT qmdb.decode_operation(NULL)$$);
-- The error left nothing behind: the session still works.
SELECT 1 AS still_alive;
