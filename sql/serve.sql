-- Serving peers: hello, then commonware Requests answered with Responses that
-- verify against the root of the requested (historical) size.
SELECT size FROM qmdb.create_database('srv', 'fixed', 32, 32);
-- 10k+ operations: 500 batches of 10 writes over 300 keys.
SELECT count(*) AS batches FROM (
  SELECT qmdb.apply_batch('srv',
           ARRAY(SELECT sha256(int8send((b * 7 + i) % 300)) FROM generate_series(1, 10) i),
           ARRAY(SELECT sha256(int8send(b * 100 + i)) FROM generate_series(1, 10) i))
    FROM generate_series(1, 500) b) t;
SELECT size >= 10000 AS big_enough, floor > 0 AS floor_raised FROM qmdb.databases WHERE name = 'srv';
SELECT protocol_version, hasher, family, encoding, key_size, value_size, max_ops,
       size = (SELECT size FROM qmdb.databases WHERE name = 'srv') AS size_ok
  FROM qmdb.hello('srv');

-- Remember the root and size of every commit (each a servable historical size).
CREATE TABLE commits AS
  SELECT loc + 1 AS size FROM qmdb.operations('srv') WHERE kind = 'commit';
SELECT size AS cur_size, encode(root, 'hex') AS cur_root FROM qmdb.databases WHERE name = 'srv' \gset

-- Random ranges at the current size: every response verifies, through the
-- core verifier, against the current root.
SELECT setseed(0.42);
SELECT count(*) AS ranges, bool_and(ok) AS all_verify FROM (
  SELECT qmdb.verify_response('srv', decode(:'cur_root', 'hex'), req,
                              qmdb.serve('srv', req)) AS ok
    FROM (SELECT qmdb.encode_request('operations', :cur_size, (random() * (:cur_size - 1))::int8,
                                     1 + (random() * 300)::int8) AS req
            FROM generate_series(1, 200)) r) t;
-- Boundary requests carry pins that verify too.
SELECT count(*) AS boundaries, bool_and(ok) AS all_verify FROM (
  SELECT qmdb.verify_response('srv', decode(:'cur_root', 'hex'), req, qmdb.serve('srv', req)) AS ok
    FROM (SELECT qmdb.encode_request('boundary', :cur_size, (random() * (:cur_size - 1))::int8) AS req
            FROM generate_series(1, 50)) r) t;
-- A response does not verify against another root, nor for another request.
SELECT qmdb.verify_response('srv', sha256('x'), qmdb.encode_request('operations', :cur_size, 5, 10),
                            qmdb.serve('srv', qmdb.encode_request('operations', :cur_size, 5, 10))) AS wrong_root;
SELECT qmdb.verify_response('srv', decode(:'cur_root', 'hex'), qmdb.encode_request('operations', :cur_size, 6, 10),
                            qmdb.serve('srv', qmdb.encode_request('operations', :cur_size, 5, 10))) AS wrong_start;

-- Historical sizes: proofs against the tree as it was at an earlier commit.
-- The root of size n is recomputed from a proof of the op at n-1 ... and
-- checked with qmdb.proof + qmdb.verify_proof against a root taken then.
SELECT qmdb.create_database('hist', 'variable') IS NOT NULL AS created;
CREATE TABLE hist_roots (size int8, root bytea);
INSERT INTO hist_roots SELECT size, root FROM qmdb.apply_batch('hist', ARRAY['\x01']::bytea[], ARRAY['\x0a']::bytea[]);
INSERT INTO hist_roots SELECT size, root FROM qmdb.apply_batch('hist', ARRAY['\x02', '\x03']::bytea[], ARRAY['\x0b', '\x0c']::bytea[]);
INSERT INTO hist_roots SELECT size, root FROM qmdb.apply_batch('hist', ARRAY['\x01']::bytea[], ARRAY[NULL]::bytea[]);
INSERT INTO hist_roots SELECT size, root FROM qmdb.apply_batch('hist', ARRAY[]::bytea[], ARRAY[]::bytea[]);
SELECT h.size, s AS start,
       qmdb.verify_proof(h.root, (qmdb.proof('hist', h.size, s, 3)).proof, s, (qmdb.proof('hist', h.size, s, 3)).operations) AS verifies,
       qmdb.verify_proof(h.root, (qmdb.proof('hist', h.size, s, 3)).proof, s, (qmdb.proof('hist', h.size, s, 2)).operations) AS proof_of_3_with_2_ops
  FROM hist_roots h, generate_series(0, 2) s ORDER BY h.size, s;

-- Errors: distinct, clear, and checked before any work.
SELECT regress.err(format($$SELECT qmdb.serve('srv', qmdb.encode_request('operations', %s, 0, 10))$$, :cur_size + 1)) AS beyond_size;
SELECT regress.err($$SELECT qmdb.serve('srv', qmdb.encode_request('operations', 3, 0, 1))$$) AS not_a_commit;
SELECT regress.err(format($$SELECT qmdb.serve('srv', qmdb.encode_request('operations', %s, 0, 10001))$$, :cur_size)) AS over_max_ops;
SELECT regress.err($$SELECT qmdb.serve('srv', '\x05')$$) AS malformed;
SELECT regress.err($$SELECT qmdb.serve('srv', '\x01ac0205ff')$$) AS trailing;
SELECT regress.err($$SELECT qmdb.serve('nope', qmdb.encode_request('boundary', 2, 1))$$) AS unknown_db;
SET qmdb.max_response_bytes = 8192;
SELECT regress.err(format($$SELECT qmdb.serve('srv', qmdb.encode_request('operations', %s, 0, 1000))$$, :cur_size)) AS over_bytes;
RESET qmdb.max_response_bytes;
SELECT regress.err($$SELECT qmdb.verify_proof('\x00', '\x00', 0, ARRAY[]::bytea[])$$) AS short_root;
SELECT regress.err($$SELECT qmdb.verify_proof(sha256(''), '\x0000', 0, ARRAY['\x01']::bytea[])$$) AS truncated_proof;

-- After pruning, ranges below the boundary are refused; above it they verify.
SELECT floor AS srv_floor FROM qmdb.databases WHERE name = 'srv' \gset
SELECT qmdb.prune('srv', :srv_floor) = :srv_floor AS pruned;
SELECT regress.err(format($$SELECT qmdb.serve('srv', qmdb.encode_request('operations', %s, %s, 5))$$, :cur_size, :srv_floor - 1)) AS below_boundary;
SELECT qmdb.verify_response('srv', decode(:'cur_root', 'hex'), req, qmdb.serve('srv', req)) AS at_boundary_verifies
  FROM (SELECT qmdb.encode_request('boundary', :cur_size, :srv_floor) AS req) r;
SELECT check_name, ok FROM qmdb.verify('srv');
