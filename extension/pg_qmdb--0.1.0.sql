-- pg_qmdb install script. Every object lives in schema qmdb and every name
-- is schema-qualified: the script does not depend on search_path.
\echo Use "CREATE EXTENSION pg_qmdb" to load this file. \quit

-- Owned by the extension; fails loudly if a schema of that name exists.
CREATE SCHEMA qmdb;
GRANT USAGE ON SCHEMA qmdb TO PUBLIC;

-- The extension's version, as compiled into the loaded library.
CREATE FUNCTION qmdb.version() RETURNS text
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_version';

-- Wire codecs (commonware Request / Target), for inspection and tests.
CREATE FUNCTION qmdb.encode_request(kind text, size bigint, start bigint, max_ops bigint DEFAULT NULL)
	RETURNS bytea
	LANGUAGE c IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_encode_request';

CREATE FUNCTION qmdb.decode_request(request bytea,
	OUT kind text, OUT size bigint, OUT start bigint, OUT max_ops bigint)
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_decode_request';

CREATE FUNCTION qmdb.encode_target(root bytea, range_start bigint, range_end bigint)
	RETURNS bytea
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_encode_target';

CREATE FUNCTION qmdb.decode_target(target bytea,
	OUT root bytea, OUT range_start bigint, OUT range_end bigint)
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_decode_target';
