-- Installing the extension creates schema qmdb (the control file's schema,
-- which \dx names) and reports its version.
CREATE EXTENSION pg_qmdb;
SELECT nspname FROM pg_namespace WHERE nspname = 'qmdb';
SELECT qmdb.version() = extversion AS version_matches FROM pg_extension WHERE extname = 'pg_qmdb';
SELECT e.extrelocatable, e.extnamespace::regnamespace AS schema FROM pg_extension e WHERE e.extname = 'pg_qmdb';
-- The schema is not a member of the extension (pg_dump writes it before
-- CREATE EXTENSION ... WITH SCHEMA qmdb), but DROP EXTENSION drops it too
-- once it is empty.
DROP EXTENSION pg_qmdb;
SELECT count(*) AS qmdb_schemas FROM pg_namespace WHERE nspname = 'qmdb';
-- An install takes an empty schema qmdb a superuser made (as pg_restore
-- does), and refuses one that holds anything, or that a role other than a
-- superuser owns (it could replace what the script creates).
CREATE SCHEMA qmdb;
CREATE TABLE qmdb.planted (x int);
CREATE EXTENSION pg_qmdb;
DROP TABLE qmdb.planted;
CREATE ROLE qmdb_planter;
ALTER SCHEMA qmdb OWNER TO qmdb_planter;
CREATE EXTENSION pg_qmdb;
DROP SCHEMA qmdb;
DROP ROLE qmdb_planter;
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
