-- The QMDB family (family spec): ordered, immutable and keyless databases
-- written through SQL reproduce the spec's derived vectors (§5) byte for
-- byte, in both encodings; calls that do not fit a kind are refused.
CREATE FUNCTION pg_temp.k(i int8) RETURNS bytea LANGUAGE sql AS $$ SELECT sha256(int8send(i)) $$;
CREATE FUNCTION pg_temp.v(i int8, s int8) RETURNS bytea LANGUAGE sql AS $$ SELECT sha256(int8send(i) || int8send(s + 1)) $$;

-- §5: the initial roots.
SELECT kind, encoding, encode(c.root, 'hex') AS root
  FROM (VALUES ('keyless', 'fixed', NULL, 8), ('keyless', 'variable', NULL, NULL),
               ('immutable', 'fixed', 32, 32), ('immutable', 'variable', 32, 32),
               ('ordered', 'fixed', 32, 32), ('ordered', 'variable', 32, 32)) f(kind, encoding, ks, vs),
       qmdb.create_database(kind || '_' || encoding, encoding, ks, vs, kind) c;
SELECT name, kind, encoding, key_size, value_size, size, floor FROM qmdb.databases WHERE kind <> 'any' ORDER BY name;

-- §5.1 keyless: two appends; then one with metadata and floor 4.
SELECT size, floor, encode(root, 'hex') AS root FROM qmdb.append_batch('keyless_fixed', ARRAY[int8send(5), int8send(6)]);
SELECT size, floor, encode(root, 'hex') AS root FROM qmdb.append_batch('keyless_variable', ARRAY[int8send(5), int8send(6)]);
SELECT size, floor, encode(root, 'hex') AS root
  FROM qmdb.append_batch('keyless_fixed', ARRAY[int8send(7)], int8send(42), 4);
SELECT size, floor, encode(root, 'hex') AS root
  FROM qmdb.append_batch('keyless_variable', ARRAY[int8send(7)], int8send(42), 4);
SELECT loc, kind, key, encode(value, 'hex') AS value, floor, encode(metadata, 'hex') AS metadata, encode(op, 'hex') AS op
  FROM qmdb.operations('keyless_variable') ORDER BY loc;
SELECT loc, kind, encode(op, 'hex') AS op FROM qmdb.operations('keyless_fixed') ORDER BY loc;

-- §5.2 immutable: sets in key order; then metadata and floor 4.
SELECT size, floor, encode(root, 'hex') AS root
  FROM qmdb.set_batch('immutable_fixed', ARRAY[pg_temp.k(1), pg_temp.k(0)], ARRAY[pg_temp.v(1, 1), pg_temp.v(0, 1)]);
SELECT size, floor, encode(root, 'hex') AS root
  FROM qmdb.set_batch('immutable_variable', ARRAY[pg_temp.k(1), pg_temp.k(0)], ARRAY[pg_temp.v(1, 1), pg_temp.v(0, 1)]);
SELECT size, floor, encode(root, 'hex') AS root
  FROM qmdb.set_batch('immutable_fixed', ARRAY[pg_temp.k(2)], ARRAY[pg_temp.v(2, 2)], pg_temp.v(9, 9), 4);
SELECT size, floor, encode(root, 'hex') AS root
  FROM qmdb.set_batch('immutable_variable', ARRAY[pg_temp.k(2)], ARRAY[pg_temp.v(2, 2)], pg_temp.v(9, 9), 4);
SELECT loc, kind, substr(encode(key, 'hex'), 1, 4) AS key, length(op) AS bytes FROM qmdb.operations('immutable_fixed') ORDER BY loc;
-- A key set again gets another Set; reads see the newest. The keys whose
-- Set lies below the floor (4) have left the state, as a replay from the
-- floor (upstream's restart and sync) would not see them: k(1) is gone.
SELECT size FROM qmdb.set_batch('immutable_variable', ARRAY[pg_temp.k(0)], ARRAY[pg_temp.v(0, 7)]);
SELECT qmdb.get('immutable_variable', pg_temp.k(0)) = pg_temp.v(0, 7) AS newest,
       qmdb.get('immutable_variable', pg_temp.k(1)) IS NULL AS below_floor_gone,
       (SELECT count(*) FROM qmdb.entries('immutable_variable')) AS keys,
       (SELECT active_keys FROM qmdb.databases WHERE name = 'immutable_variable') AS active_keys;

-- §5.3 ordered: creates, a predecessor rewrite, a cyclic rewrite, moves.
CREATE TABLE ordered_batches (n int, keys bytea[], vals bytea[]);
INSERT INTO ordered_batches VALUES
 (1, ARRAY[pg_temp.k(1), pg_temp.k(0)], ARRAY[pg_temp.v(1, 1), pg_temp.v(0, 1)]),
 (2, ARRAY[pg_temp.k(2)], ARRAY[pg_temp.v(2, 1)]),
 (3, ARRAY[pg_temp.k(0)], ARRAY[NULL]::bytea[]),
 (4, ARRAY[pg_temp.k(1)], ARRAY[pg_temp.v(1, 2)]);
CREATE FUNCTION pg_temp.run_ordered(db text) RETURNS TABLE (n int, size bigint, floor bigint, root text)
LANGUAGE plpgsql AS $$
DECLARE b record;
BEGIN
	FOR b IN SELECT * FROM ordered_batches ORDER BY 1 LOOP
		RETURN QUERY SELECT b.n, c.size, c.floor, encode(c.root, 'hex') FROM qmdb.apply_batch(db, b.keys, b.vals) c;
	END LOOP;
END $$;
SELECT * FROM pg_temp.run_ordered('ordered_fixed');
SELECT * FROM pg_temp.run_ordered('ordered_variable');
-- Each live key's Update names the next live key, cyclically.
SELECT loc, kind, substr(encode(key, 'hex'), 1, 4) AS key, substr(encode(substr(op, 66, 32), 'hex'), 1, 4) AS next_key
  FROM qmdb.operations('ordered_fixed') WHERE loc >= 10 ORDER BY loc;
SELECT substr(encode(key, 'hex'), 1, 4) AS key, loc FROM qmdb.entries('ordered_variable');
-- Reads in key order: a range scan, and spans. af55 was deleted: the span
-- holding it is cd26's, which wraps around to cd04; cd04 is live; cd10
-- falls in cd04's span. A proof of the span's operation checks against the
-- root, so a client learns what the log says of the key.
SELECT substr(encode(key, 'hex'), 1, 4) AS key, loc FROM qmdb.scan('ordered_variable', '\xcd', '\xcd20');
SELECT substr(encode(key, 'hex'), 1, 4) AS key FROM qmdb.scan('ordered_variable', '\xcd10');
SELECT k, substr(encode(s.span_key, 'hex'), 1, 4) AS span_key, substr(encode(s.next_key, 'hex'), 1, 4) AS next_key, s.loc,
       s.value = qmdb.get('ordered_variable', s.span_key) AS value_is_live,
       qmdb.verify_proof(d.root, (qmdb.proof('ordered_variable', d.size, s.loc, 1)).proof, s.loc,
                         (qmdb.proof('ordered_variable', d.size, s.loc, 1)).operations) AS proven
  FROM (VALUES ('af55', pg_temp.k(0)), ('cd04', pg_temp.k(2)), ('cd10', '\xcd10'::bytea)) q(k, key),
       qmdb.span('ordered_variable', q.key) s, qmdb.databases d WHERE d.name = 'ordered_variable';

-- Random batches over a crowded key space (deletes of live and absent keys,
-- re-creates, a delete of everything): after each, every live key's
-- Update names the next live key, cyclically, and its value is the key's.
SELECT size FROM qmdb.create_database('ordered_random', 'variable', 1, NULL, 'ordered');
CREATE FUNCTION pg_temp.next_key_faults(db text) RETURNS bigint LANGUAGE sql AS $$
	WITH e AS (SELECT key, value, loc, lead(key) OVER (ORDER BY key) AS nxt, first_value(key) OVER (ORDER BY key) AS first
	             FROM qmdb.entries(db))
	SELECT count(*) FILTER (WHERE o.next_key IS DISTINCT FROM coalesce(e.nxt, e.first) OR o.value <> e.value OR o.key <> e.key)
	  FROM e JOIN qmdb.operations(db) o ON o.loc = e.loc $$;
-- A delete of an absent key and a create sharing one live predecessor:
-- the predecessor's next key is the created key, never the absent one.
SELECT size FROM qmdb.apply_batch('ordered_random', ARRAY['\x10', '\x50']::bytea[], ARRAY['\x01', '\x05']::bytea[]);
SELECT size FROM qmdb.apply_batch('ordered_random', ARRAY['\x20', '\x30']::bytea[], ARRAY[NULL, '\x03']::bytea[]);
SELECT encode(key, 'hex') AS key, encode(next_key, 'hex') AS next_key FROM qmdb.operations('ordered_random')
 WHERE kind = 'update' ORDER BY loc DESC LIMIT 3;
SELECT pg_temp.next_key_faults('ordered_random') AS faults;
DO $$
DECLARE faults bigint := 0; b int;
BEGIN
	FOR b IN 1..40 LOOP
		IF b = 30 THEN
			PERFORM qmdb.apply_batch('ordered_random', ARRAY(SELECT key FROM qmdb.entries('ordered_random')),
			                         ARRAY(SELECT NULL::bytea FROM qmdb.entries('ordered_random')));
		ELSE
			PERFORM qmdb.apply_batch('ordered_random',
				ARRAY(SELECT substr(sha256(int8send(b * 100 + i)), 1, 1) FROM generate_series(1, 12) i),
				ARRAY(SELECT CASE WHEN get_byte(sha256(int8send(b * 100 + i)), 3) % 3 = 0 THEN NULL
				                  ELSE int8send(b * 100 + i) END FROM generate_series(1, 12) i));
		END IF;
		faults := faults + pg_temp.next_key_faults('ordered_random');
	END LOOP;
	RAISE NOTICE 'next-key faults over 40 batches: %', faults;
END $$;
SELECT bool_and(ok) AS verified FROM qmdb.verify('ordered_random');

-- The staged writes of qmdb.write and qmdb.commit take the same path.
SELECT size FROM qmdb.create_database('ordered_staged', 'variable', 32, 32, 'ordered');
SELECT qmdb.span('ordered_staged', '\x00') IS NULL AS no_key_no_span;
BEGIN;
SELECT qmdb.write('ordered_staged', pg_temp.k(1), pg_temp.v(1, 1)), qmdb.write('ordered_staged', pg_temp.k(0), pg_temp.v(0, 1));
SELECT size, encode(root, 'hex') AS root FROM qmdb.commit('ordered_staged');
COMMIT;

-- Calls that do not fit a kind (SQLSTATE 42809), and floors out of bounds.
SELECT regress.err($$SELECT qmdb.apply_batch('keyless_fixed', ARRAY['\x01']::bytea[], ARRAY['\x01']::bytea[])$$);
SELECT regress.err($$SELECT qmdb.apply_batch('immutable_fixed', ARRAY[pg_temp.k(1)], ARRAY[pg_temp.v(1, 1)])$$);
SELECT regress.err($$SELECT qmdb.write('keyless_variable', '\x01', '\x01')$$);
SELECT regress.err($$SELECT qmdb.set_batch('ordered_fixed', ARRAY[pg_temp.k(1)], ARRAY[pg_temp.v(1, 1)])$$);
SELECT regress.err($$SELECT qmdb.append_batch('immutable_fixed', ARRAY[int8send(1)])$$);
SELECT regress.err($$SELECT qmdb.get('keyless_fixed', '\x01')$$);
SELECT regress.err($$SELECT * FROM qmdb.entries('keyless_fixed')$$);
SELECT regress.err($$SELECT * FROM qmdb.scan('keyless_fixed')$$);
SELECT regress.err($$SELECT * FROM qmdb.span('immutable_fixed', '\x01')$$);
SELECT regress.err($$SELECT qmdb.set_batch('immutable_fixed', ARRAY[pg_temp.k(5)], ARRAY[NULL]::bytea[])$$);
SELECT regress.err($$SELECT qmdb.append_batch('keyless_fixed', ARRAY[int8send(1)], NULL, 3)$$);
SELECT regress.err($$SELECT qmdb.append_batch('keyless_fixed', ARRAY[int8send(1)], NULL, 8)$$);
SELECT regress.err($$SELECT qmdb.append_batch('keyless_fixed', ARRAY['\x01']::bytea[])$$);
SELECT regress.err($$SELECT qmdb.append_batch('keyless_fixed', ARRAY[NULL]::bytea[])$$);
SELECT regress.err($$SELECT qmdb.create_database('x', 'fixed', 8, 8, 'keyless')$$);
SELECT regress.err($$SELECT qmdb.create_database('x', 'fixed', NULL, NULL, 'keyless')$$);
SELECT regress.err($$SELECT qmdb.create_database('x', 'variable', NULL, NULL, 'current')$$);
-- Nothing above wrote anything.
SELECT name, size, floor FROM qmdb.databases WHERE kind <> 'any' ORDER BY name;
-- A keyless batch's floor may be as high as its own commit (one append at
-- 6, the commit at 7) and lets pruning go that far.
SELECT size, floor FROM qmdb.append_batch('keyless_fixed', ARRAY[int8send(8)], NULL, 5);
SELECT qmdb.prune('keyless_fixed', 5);
SELECT loc, kind FROM qmdb.operations('keyless_fixed') ORDER BY loc;
-- Every check of qmdb.verify holds for every kind.
SELECT name, bool_and(ok) AS verified, count(*) AS checks FROM qmdb.databases, qmdb.verify(name)
 WHERE kind <> 'any' GROUP BY name ORDER BY name;
SELECT name, check_name, detail FROM qmdb.databases, qmdb.verify(name) WHERE kind <> 'any' AND NOT ok;
-- The codecs read each kind, with an ordered Update's next key.
SELECT o.loc, d.kind, substr(encode(d.key, 'hex'), 1, 4) AS key, substr(encode(d.next_key, 'hex'), 1, 4) AS next_key,
       substr(encode(o.next_key, 'hex'), 1, 4) AS listed
  FROM qmdb.operations('ordered_variable', 15) o, qmdb.decode_operation(o.op, 'variable', 32, 32, 'ordered') d;
SELECT count(*) AS ops FROM qmdb.journal j, qmdb.databases d,
       qmdb.split_operations(j.ops, j.loc, d.encoding, d.key_size, d.value_size, d.kind) s
 WHERE d.id = j.db_id AND d.name = 'immutable_fixed';
SELECT regress.err($$SELECT qmdb.decode_operation('\x0201', 'variable', NULL, NULL, 'keyless')$$);
SELECT regress.err($$SELECT qmdb.decode_operation('\xd2', 'variable', NULL, NULL, 'immutable')$$);
-- The handshake states each kind.
SELECT name, (qmdb.hello(name)).kind FROM qmdb.databases WHERE name IN ('var9', 'keyless_fixed', 'immutable_fixed', 'ordered_fixed') ORDER BY name;

SELECT count(*) FROM (SELECT qmdb.drop_database(name) FROM qmdb.databases WHERE kind <> 'any') d;
DROP TABLE ordered_batches;

