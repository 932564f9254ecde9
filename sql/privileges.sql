-- Nothing that writes or serves is executable by PUBLIC; reading is
-- grantable; SECURITY DEFINER functions pin search_path.
CREATE ROLE qmdb_app LOGIN;
CREATE ROLE qmdb_peer LOGIN;
SELECT size FROM qmdb.create_database('priv', 'variable');
SET ROLE qmdb_app;
SELECT regress.err($$SELECT qmdb.create_database('mine')$$);
SELECT regress.err($$SELECT qmdb.apply_batch('priv', ARRAY['\x01']::bytea[], ARRAY['\x02']::bytea[])$$);
SELECT regress.err($$SELECT qmdb.write('priv', '\x01', '\x02')$$);
SELECT regress.err($$SELECT qmdb.get('priv', '\x01')$$);
SELECT regress.err($$SELECT qmdb.serve('priv', qmdb.encode_request('boundary', 1, 0))$$);
SELECT regress.err($$SELECT * FROM qmdb.hello('priv')$$);
SELECT regress.err($$SELECT qmdb.drop_database('priv')$$);
SELECT regress.err($$SELECT count(*) FROM qmdb.journal$$);
SELECT regress.err($$DELETE FROM qmdb.databases$$);
-- Harmless things are open: the catalog, the codecs, proof checking.
SELECT name, size FROM qmdb.databases ORDER BY name;
SELECT qmdb.version() IS NOT NULL AS version_ok;
SELECT qmdb.verify_proof(sha256(''), '\x000000', 0, ARRAY['\x01']::bytea[]) AS verify_proof_runs;
RESET ROLE;

-- Grant writing to the application and serving to the peer role.
GRANT EXECUTE ON FUNCTION qmdb.apply_batch(text, bytea[], bytea[], bytea), qmdb.get(text, bytea) TO qmdb_app;
GRANT EXECUTE ON FUNCTION qmdb.hello(text), qmdb.serve(text, bytea) TO qmdb_peer;
SET ROLE qmdb_app;
SELECT size, floor FROM qmdb.apply_batch('priv', ARRAY['\x01']::bytea[], ARRAY['\x02']::bytea[]);
SELECT qmdb.get('priv', '\x01');
SELECT regress.err($$SELECT qmdb.serve('priv', qmdb.encode_request('boundary', 4, 2))$$);
RESET ROLE;
SET ROLE qmdb_peer;
SELECT length(qmdb.serve('priv', qmdb.encode_request('boundary', 4, 2))) > 0 AS served;
RESET ROLE;

-- A hostile search_path cannot capture the extension's internals.
CREATE SCHEMA evil;
CREATE FUNCTION evil.sha256(bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT '\x00'::bytea $$;
CREATE TABLE evil.databases (name text);
SET search_path = evil, public;
SELECT size FROM qmdb.apply_batch('priv', ARRAY['\x03']::bytea[], ARRAY['\x04']::bytea[]);
RESET search_path;
SELECT check_name, ok FROM qmdb.verify('priv');
SELECT p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p WHERE p.pronamespace = 'qmdb'::regnamespace AND p.prosecdef ORDER BY p.proname;
-- Every SECURITY DEFINER function pins search_path.
SELECT count(*) AS definer_without_search_path FROM pg_proc p
 WHERE p.pronamespace = 'qmdb'::regnamespace AND p.prosecdef
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false);
-- The privilege matrix: which functions and relations a role that holds
-- no grant (PUBLIC) may use, and what pg_monitor adds. Superusers may use
-- everything; anything not open here needs a GRANT. Sync jobs are further
-- limited to their owner (sql/sync.sql).
CREATE ROLE qmdb_nobody;
CREATE ROLE qmdb_monitor IN ROLE pg_monitor;
SELECT p.oid::regprocedure AS function, has_function_privilege('qmdb_nobody', p.oid, 'EXECUTE') AS public,
       p.prosecdef AS definer
  FROM pg_proc p WHERE p.pronamespace = 'qmdb'::regnamespace ORDER BY p.oid::regprocedure::text;
SELECT c.relname, c.relkind, has_table_privilege('qmdb_nobody', c.oid, 'SELECT') AS public_select,
       has_table_privilege('qmdb_monitor', c.oid, 'SELECT') AS monitor_select,
       has_table_privilege('qmdb_nobody', c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE') AS public_write
  FROM pg_class c WHERE c.relnamespace = 'qmdb'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S')
   AND c.relname !~ '^state_[0-9]+$' ORDER BY 1;
-- Stored connection strings (sync_jobs.peers) are readable by nobody but superusers.
SELECT has_column_privilege('qmdb_monitor', 'qmdb.sync_jobs', 'peers', 'SELECT') AS monitor_reads_peers;
DROP ROLE qmdb_nobody;
DROP ROLE qmdb_monitor;
SELECT qmdb.drop_database('priv');
DROP SCHEMA evil CASCADE;
DROP OWNED BY qmdb_app, qmdb_peer;
DROP ROLE qmdb_app;
DROP ROLE qmdb_peer;
-- Every table, view and function of the extension has a comment (\d+, \df+).
SELECT count(*) AS without_comment FROM pg_class c
 WHERE c.relnamespace = 'qmdb'::regnamespace AND c.relkind IN ('r', 'p', 'v') AND c.relname !~ '^state_[0-9]+$'
   AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT p.oid::regprocedure AS without_comment FROM pg_proc p
 WHERE p.pronamespace = 'qmdb'::regnamespace AND obj_description(p.oid, 'pg_proc') IS NULL;
