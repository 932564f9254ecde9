-- qmdb.write stages in the transaction; qmdb.commit applies. A batch is
-- atomic with its transaction, and savepoints behave as PostgreSQL users expect.
CREATE FUNCTION pg_temp.k(i int8) RETURNS bytea LANGUAGE sql AS $$ SELECT sha256(int8send(i)) $$;
CREATE FUNCTION pg_temp.v(i int8, s int8) RETURNS bytea LANGUAGE sql AS $$ SELECT sha256(int8send(i) || int8send(s + 1)) $$;
SELECT size FROM qmdb.create_database('st', 'variable', 32, 32);

-- write + commit gives the §9.1 root, like apply_batch.
BEGIN;
SELECT qmdb.write('st', pg_temp.k(1), pg_temp.v(1, 1));
SELECT qmdb.write('st', pg_temp.k(0), pg_temp.v(0, 0)); -- overwritten below: last write wins
SELECT qmdb.write('st', pg_temp.k(0), pg_temp.v(0, 1));
SELECT size, floor, encode(root, 'hex') = '6978611efa0d5a8f1414aecdddc02c511a26dea2cdb5d25d4151054cf04f5c0a' AS root_matches
  FROM qmdb.commit('st');
COMMIT;

-- A rolled-back batch leaves no trace.
BEGIN;
SELECT size FROM qmdb.apply_batch('st', ARRAY[pg_temp.k(7)], ARRAY[pg_temp.v(7, 7)]);
ROLLBACK;
SELECT size, qmdb.get('st', pg_temp.k(7)) IS NULL AS absent FROM qmdb.databases WHERE name = 'st';
SELECT count(*) AS journal_rows FROM qmdb.operations('st');

-- Writes rolled back to a savepoint are not committed.
BEGIN;
SELECT qmdb.write('st', pg_temp.k(2), pg_temp.v(2, 2));
SAVEPOINT s1;
SELECT qmdb.write('st', pg_temp.k(3), pg_temp.v(3, 3));
ROLLBACK TO SAVEPOINT s1;
SELECT size FROM qmdb.commit('st');
COMMIT;
SELECT qmdb.get('st', pg_temp.k(2)) IS NOT NULL AS k2_written, qmdb.get('st', pg_temp.k(3)) IS NULL AS k3_discarded;

-- A commit with nothing staged is an empty batch, which still commits.
SELECT size, floor FROM qmdb.commit('st');

-- Writes never committed with qmdb.commit are dropped with a warning.
BEGIN;
SELECT qmdb.write('st', pg_temp.k(4), pg_temp.v(4, 4));
COMMIT;
SELECT qmdb.get('st', pg_temp.k(4)) IS NULL AS k4_dropped;
-- ... and silently on rollback.
BEGIN;
SELECT qmdb.write('st', pg_temp.k(4), pg_temp.v(4, 4));
ROLLBACK;
SELECT size FROM qmdb.commit('st');
SELECT check_name, ok FROM qmdb.verify('st');

-- A transaction with staged writes cannot be prepared: they live in this
-- session, not in the transaction, and would outlive ROLLBACK PREPARED.
BEGIN;
SELECT qmdb.write('st', pg_temp.k(5), pg_temp.v(5, 5));
\set VERBOSITY terse
PREPARE TRANSACTION 'staged';
\set VERBOSITY default
SELECT count(*) AS prepared FROM pg_prepared_xacts;
-- Nothing of it is left for this session's next commit.
SELECT size FROM qmdb.commit('st');
SELECT qmdb.get('st', pg_temp.k(5)) IS NULL AS k5_never_written;
-- Committed with qmdb.commit first, the transaction prepares; rolled back
-- prepared, its batch is gone with it.
BEGIN;
SELECT qmdb.write('st', pg_temp.k(5), pg_temp.v(5, 5));
SELECT size FROM qmdb.commit('st');
PREPARE TRANSACTION 'committed_batch';
ROLLBACK PREPARED 'committed_batch';
SELECT qmdb.get('st', pg_temp.k(5)) IS NULL AS k5_rolled_back;
SELECT check_name, ok FROM qmdb.verify('st');
