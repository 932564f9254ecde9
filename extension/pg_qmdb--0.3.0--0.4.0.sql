-- pg_qmdb 0.3.0 -> 0.4.0: the QMDB family. A database is one of commonware's
-- kinds: any (any::unordered, every database so far), ordered
-- (any::ordered), immutable or keyless. create_database takes the kind;
-- qmdb.hello states it; set_batch and append_batch write the immutable and
-- keyless kinds.
\echo Use "ALTER EXTENSION pg_qmdb UPDATE TO '0.4.0'" to load this file. \quit

ALTER TABLE qmdb.databases ADD COLUMN kind text NOT NULL DEFAULT 'any'
	CONSTRAINT databases_kind_check CHECK (kind IN ('any', 'ordered', 'immutable', 'keyless'));
-- A keyless database has no keys, so its fixed encoding needs a value size only.
DO $$
DECLARE
	c name := (SELECT conname FROM pg_catalog.pg_constraint
	            WHERE conrelid = 'qmdb.databases'::pg_catalog.regclass AND contype = 'c'
	              AND pg_catalog.pg_get_constraintdef(oid) LIKE '%key_size IS NOT NULL%');
BEGIN
	IF c IS NULL THEN
		RAISE EXCEPTION 'pg_qmdb upgrade: the format check of qmdb.databases is missing';
	END IF;
	EXECUTE pg_catalog.format('ALTER TABLE qmdb.databases DROP CONSTRAINT %I', c);
END $$;
ALTER TABLE qmdb.databases ADD CONSTRAINT databases_format_check CHECK (CASE WHEN kind = 'keyless'
	THEN key_size IS NULL AND (encoding = 'variable' OR value_size IS NOT NULL)
	ELSE encoding = 'variable' OR (key_size IS NOT NULL AND value_size IS NOT NULL) END);

DROP FUNCTION qmdb.create_database(text, text, integer, integer);
CREATE FUNCTION qmdb.create_database(name text, encoding text DEFAULT 'variable',
	key_size integer DEFAULT NULL, value_size integer DEFAULT NULL, kind text DEFAULT 'any')
	RETURNS TABLE (root bytea, size bigint, floor bigint)
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_create_database';

-- Immutable: keys set in key order, committed at the caller's floor
-- (NULL: the database's floor).
CREATE FUNCTION qmdb.set_batch(db text, keys bytea[], vals bytea[], metadata bytea DEFAULT NULL,
	floor bigint DEFAULT NULL)
	RETURNS TABLE (root bytea, size bigint, floor bigint)
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_set_batch';

-- Keyless: values appended in the order given, committed at the caller's floor.
CREATE FUNCTION qmdb.append_batch(db text, vals bytea[], metadata bytea DEFAULT NULL, floor bigint DEFAULT NULL)
	RETURNS TABLE (root bytea, size bigint, floor bigint)
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_append_batch';

-- The handshake states the kind (a peer that does not is an `any` one).
DROP FUNCTION qmdb.hello(text);
CREATE FUNCTION qmdb.hello(db text,
	OUT protocol_version integer, OUT extension_version text, OUT hasher text, OUT family text,
	OUT encoding text, OUT key_size integer, OUT value_size integer, OUT max_key_len integer,
	OUT max_value_len integer, OUT max_ops bigint, OUT max_response_bytes bigint,
	OUT size bigint, OUT floor bigint, OUT pruning_boundary bigint, OUT root bytea, OUT kind text)
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_hello';

REVOKE ALL ON FUNCTION qmdb.create_database(text, text, integer, integer, text),
	qmdb.set_batch(text, bytea[], bytea[], bytea, bigint), qmdb.append_batch(text, bytea[], bytea, bigint),
	qmdb.hello(text) FROM PUBLIC;

COMMENT ON TABLE qmdb.databases IS 'One row per qmdb database: kind, format, size, floor, pruning boundary, root (NULL while a first sync runs) and role (source, syncing, replica)';
COMMENT ON FUNCTION qmdb.create_database(text, text, integer, integer, text) IS 'Create a qmdb database of a kind (any, ordered, immutable, keyless) and encoding; returns its first root';
COMMENT ON FUNCTION qmdb.set_batch(text, bytea[], bytea[], bytea, bigint) IS 'Set keys of an immutable database and commit at a floor; returns the new root, size and floor';
COMMENT ON FUNCTION qmdb.append_batch(text, bytea[], bytea, bigint) IS 'Append values to a keyless database and commit at a floor; returns the new root, size and floor';
COMMENT ON FUNCTION qmdb.hello(text) IS 'The handshake a syncing peer reads: protocol, hasher, family, kind, format, limits, size, floor, root';

-- The codecs and readers that name operations take the kind too, and show
-- an ordered Update's next key.
DROP FUNCTION qmdb.decode_operation(bytea, text, integer, integer);
CREATE FUNCTION qmdb.decode_operation(op bytea, encoding text DEFAULT 'variable',
	key_size integer DEFAULT NULL, value_size integer DEFAULT NULL, db_kind text DEFAULT 'any',
	OUT kind text, OUT key bytea, OUT value bytea, OUT floor bigint, OUT metadata bytea, OUT next_key bytea)
	LANGUAGE c IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_decode_operation';
DROP FUNCTION qmdb.split_operations(bytea, bigint, text, integer, integer);
CREATE FUNCTION qmdb.split_operations(ops bytea, loc bigint, encoding text DEFAULT 'variable',
	key_size integer DEFAULT NULL, value_size integer DEFAULT NULL, db_kind text DEFAULT 'any')
	RETURNS TABLE (loc bigint, op bytea)
	LANGUAGE c IMMUTABLE PARALLEL SAFE ROWS 32
	AS 'MODULE_PATHNAME', 'qmdb_split_operations';
DROP FUNCTION qmdb.operations(text, bigint, bigint);
CREATE FUNCTION qmdb.operations(db text, from_loc bigint DEFAULT NULL, to_loc bigint DEFAULT NULL)
	RETURNS TABLE (loc bigint, kind text, key bytea, value bytea, floor bigint, metadata bytea, op bytea,
		next_key bytea)
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_operations';
REVOKE ALL ON FUNCTION qmdb.operations(text, bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION qmdb.decode_operation(bytea, text, integer, integer, text) IS 'One encoded operation of a database kind: kind, key, value, floor, metadata, next key';
COMMENT ON FUNCTION qmdb.split_operations(bytea, bigint, text, integer, integer, text) IS 'A journal row as one row per operation';
COMMENT ON FUNCTION qmdb.operations(text, bigint, bigint) IS 'Operations in [from_loc, to_loc), decoded (from the pruning boundary by default)';

-- Reads in key order: a range of live keys (every keyed kind), and an
-- ordered database's span of a key (its own Update, or the predecessor's
-- whose span shows it absent).
CREATE FUNCTION qmdb.scan(db text, from_key bytea DEFAULT NULL, to_key bytea DEFAULT NULL)
	RETURNS TABLE (key bytea, value bytea, loc bigint)
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_scan';
CREATE FUNCTION qmdb.span(db text, key bytea,
	OUT span_key bytea, OUT value bytea, OUT next_key bytea, OUT loc bigint)
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_span';
REVOKE ALL ON FUNCTION qmdb.scan(text, bytea, bytea), qmdb.span(text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION qmdb.scan(text, bytea, bytea) IS 'Live keys in [from_key, to_key) with their values and locations, in key order';
COMMENT ON FUNCTION qmdb.span(text, bytea) IS 'In an ordered database: the live Update whose span [key, next_key) holds a key (its own when live)';
