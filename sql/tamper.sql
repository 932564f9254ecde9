-- qmdb.verify recomputes everything from the journal and reports what a
-- superuser's direct edit of the tables broke.
SELECT size FROM qmdb.create_database('tam', 'fixed', 32, 32);
SELECT count(*) FROM (
  SELECT qmdb.apply_batch('tam', ARRAY[sha256(int8send(b))], ARRAY[sha256(int8send(b + 1000))])
    FROM generate_series(1, 20) b) t;
SELECT check_name, ok FROM qmdb.verify('tam');
SELECT id AS tam FROM qmdb.databases WHERE name = 'tam' \gset
-- The settings verify uses (no hash join, no JIT) stay inside it: the
-- caller's transaction keeps its own.
BEGIN;
SET LOCAL jit = on;
SELECT count(*) FROM qmdb.verify('tam');
SELECT current_setting('enable_hashjoin') AS enable_hashjoin, current_setting('jit') AS jit;
COMMIT;

-- The journal's layout: 61 operations of 65 bytes, a row per commit (the
-- initial commit, then 20 batches of 3), and split_operations gives back
-- exactly what qmdb.operations serves.
SELECT count(*) AS rows, min(loc), max(loc), sum(octet_length(ops)) / 65 AS ops FROM qmdb.journal WHERE db_id = :tam;
SELECT count(*) AS same_ops FROM qmdb.journal j,
  qmdb.split_operations(j.ops, j.loc, 'fixed', 32, 32) o JOIN qmdb.operations('tam', 0, NULL) p USING (loc)
 WHERE j.db_id = :tam AND o.op = p.op;
SELECT regress.err($$SELECT * FROM qmdb.split_operations('\xd3', 0, 'fixed', 32, 32)$$);
SELECT regress.err($$SELECT * FROM qmdb.split_operations('\xd300', 0)$$);
SELECT regress.err($$SELECT * FROM qmdb.split_operations(NULL, 0)$$);
SELECT regress.err($$SELECT * FROM qmdb.split_operations('\x', -1)$$);

-- Flip one byte of one operation (a stored value) in the row holding it.
UPDATE qmdb.journal SET ops = set_byte(ops, (30 - loc)::int4 * 65 + 40, get_byte(ops, (30 - loc)::int4 * 65 + 40) # 1)
 WHERE db_id = :tam AND loc = (SELECT max(loc) FROM qmdb.journal WHERE db_id = :tam AND loc <= 30);
SELECT check_name, ok, detail ~ 'differs' AS says_differs FROM qmdb.verify('tam');

-- Put it back; then break the state table instead.
UPDATE qmdb.journal SET ops = set_byte(ops, (30 - loc)::int4 * 65 + 40, get_byte(ops, (30 - loc)::int4 * 65 + 40) # 1)
 WHERE db_id = :tam AND loc = (SELECT max(loc) FROM qmdb.journal WHERE db_id = :tam AND loc <= 30);
-- The activity bitmap: an active operation's bit cleared, then an
-- inactive one's set; each detail names the bit.
SELECT loc AS live9 FROM qmdb.state WHERE db_id = :tam AND key = sha256(int8send(9)) \gset
SELECT min(l) AS dead FROM qmdb.databases d, generate_series(d.floor, d.size - 2) l
 WHERE d.name = 'tam' AND l NOT IN (SELECT loc FROM qmdb.state WHERE db_id = :tam) \gset
SELECT :live9 AS live9, :dead AS dead;
UPDATE qmdb.bitmap SET bits = set_bit(bits, (:live9 % 8192)::int4, 0) WHERE db_id = :tam AND chunk = :live9 / 8192;
SELECT ok, detail FROM qmdb.verify('tam') WHERE check_name IN ('state', 'bitmap');
UPDATE qmdb.bitmap SET bits = set_bit(bits, (:live9 % 8192)::int4, 1) WHERE db_id = :tam AND chunk = :live9 / 8192;
UPDATE qmdb.bitmap SET bits = set_bit(bits, (:dead % 8192)::int4, 1) WHERE db_id = :tam AND chunk = :dead / 8192;
SELECT ok, detail FROM qmdb.verify('tam') WHERE check_name = 'bitmap';
UPDATE qmdb.bitmap SET bits = set_bit(bits, (:dead % 8192)::int4, 0) WHERE db_id = :tam AND chunk = :dead / 8192;
SELECT bool_and(ok) AS restored FROM qmdb.verify('tam');

UPDATE qmdb.state SET value = sha256('forged')
 WHERE db_id = (SELECT id FROM qmdb.databases WHERE name = 'tam') AND key = sha256(int8send(3));
SELECT check_name, ok FROM qmdb.verify('tam');
-- Its detail names the least differing key by bytes, here of two; a live
-- key gone from the state shows in the counts.
UPDATE qmdb.state SET value = sha256('forged too') WHERE db_id = :tam AND key = sha256(int8send(5));
SELECT detail = 'key ' || encode(least(sha256(int8send(3)), sha256(int8send(5))), 'hex') || ' differs from the replay'
       AS least_key_named
  FROM qmdb.verify('tam') WHERE check_name = 'state';
BEGIN;
DELETE FROM qmdb.state WHERE db_id = :tam AND key = sha256(int8send(7));
SELECT detail FROM qmdb.verify('tam') WHERE check_name = 'state';
ROLLBACK;
-- The bitmap is checked against the replay, not the state: a state row
-- moved to an inactive operation fails the state check, and the bitmap,
-- still right, passes.
BEGIN;
UPDATE qmdb.state SET loc = :dead WHERE db_id = :tam AND key = sha256(int8send(9));
SELECT check_name, ok FROM qmdb.verify('tam') WHERE check_name IN ('state', 'bitmap');
ROLLBACK;

-- A stored node digest changed (position 70, in the row of positions
-- 64..95), then a row of nodes gone: the first position that differs.
UPDATE qmdb.nodes SET digests = set_byte(digests, 6 * 32 + 5, get_byte(digests, 6 * 32 + 5) # 1)
 WHERE db_id = :tam AND chunk = 2;
SELECT ok, detail FROM qmdb.verify('tam') WHERE check_name = 'nodes';
DELETE FROM qmdb.nodes WHERE db_id = :tam AND chunk = 1;
SELECT ok, detail FROM qmdb.verify('tam') WHERE check_name IN ('root', 'nodes');

-- An operation that no longer decodes (an unknown tag).
UPDATE qmdb.journal SET ops = set_byte(ops, (10 - loc)::int4 * 65, 255)
 WHERE db_id = :tam AND loc = (SELECT max(loc) FROM qmdb.journal WHERE db_id = :tam AND loc <= 10);
SELECT check_name, ok, detail FROM qmdb.verify('tam');

-- A row cut short: its bytes are no longer whole operations.
UPDATE qmdb.journal SET ops = substr(ops, 1, 65 + 1)
 WHERE db_id = :tam AND loc = (SELECT max(loc) FROM qmdb.journal WHERE db_id = :tam AND loc <= 10);
SELECT check_name, ok, detail FROM qmdb.verify('tam');

-- A row missing altogether: serving and reading say which operation.
DELETE FROM qmdb.journal
 WHERE db_id = :tam AND loc = (SELECT max(loc) FROM qmdb.journal WHERE db_id = :tam AND loc <= 10);
SELECT check_name, ok, detail FROM qmdb.verify('tam');
SELECT regress.err($$SELECT count(*) FROM qmdb.operations('tam', 5, 40)$$);
