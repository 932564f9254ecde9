-- Installing the extension creates schema qmdb and reports its version.
CREATE EXTENSION pg_qmdb;
SELECT nspname FROM pg_namespace WHERE nspname = 'qmdb';
SELECT qmdb.version() = extversion AS version_matches FROM pg_extension WHERE extname = 'pg_qmdb';
SELECT e.extrelocatable, n.nspname AS schema_owned_by_extension
  FROM pg_extension e
  JOIN pg_depend d ON d.refobjid = e.oid AND d.classid = 'pg_namespace'::regclass
  JOIN pg_namespace n ON n.oid = d.objid
 WHERE e.extname = 'pg_qmdb';
-- A second install fails loudly instead of adopting an existing schema.
DROP EXTENSION pg_qmdb;
CREATE SCHEMA qmdb;
CREATE EXTENSION pg_qmdb;
DROP SCHEMA qmdb;
CREATE EXTENSION pg_qmdb;
SELECT count(*) AS functions FROM pg_proc WHERE pronamespace = 'qmdb'::regnamespace;

-- A helper for the tests that follow: run a statement and show its SQLSTATE
-- and message instead of failing.
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
CREATE FUNCTION regress.err(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE query;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
