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

-- One encoded operation (of a journal row, or from a response) in SQL
-- terms. kind is 'update', 'delete' or 'commit'; NULL sizes mean variable.
CREATE FUNCTION qmdb.decode_operation(op bytea, encoding text DEFAULT 'variable',
	key_size integer DEFAULT NULL, value_size integer DEFAULT NULL,
	OUT kind text, OUT key bytea, OUT value bytea, OUT floor bigint, OUT metadata bytea)
	LANGUAGE c IMMUTABLE PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_decode_operation';

-- A journal row (operations laid end to end) as one row per operation,
-- numbered from the row's first location.
CREATE FUNCTION qmdb.split_operations(ops bytea, loc bigint, encoding text DEFAULT 'variable',
	key_size integer DEFAULT NULL, value_size integer DEFAULT NULL)
	RETURNS TABLE (loc bigint, op bytea)
	LANGUAGE c IMMUTABLE PARALLEL SAFE ROWS 32
	AS 'MODULE_PATHNAME', 'qmdb_split_operations';

---------------------------------------------------------------------------
-- Authenticated databases
---------------------------------------------------------------------------

-- The catalog: one row per database. size = leaves (operations), floor =
-- the inactivity floor of the last commit, root = the QMDB root at size.
CREATE TABLE qmdb.databases (
	id integer PRIMARY KEY,
	name text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 63),
	encoding text NOT NULL CHECK (encoding IN ('variable', 'fixed')),
	key_size integer CHECK (key_size BETWEEN 1 AND 1024),
	value_size integer CHECK (value_size BETWEEN 1 AND 1048576),
	size bigint NOT NULL,
	floor bigint NOT NULL,
	pruning_boundary bigint NOT NULL DEFAULT 0,
	active_keys bigint NOT NULL DEFAULT 0,
	root bytea NOT NULL CHECK (length(root) = 32),
	role text NOT NULL DEFAULT 'source' CHECK (role IN ('source', 'syncing', 'replica')),
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (encoding = 'variable' OR (key_size IS NOT NULL AND value_size IS NOT NULL)),
	-- A database being synced holds no commit yet; its numbers are set on completion.
	CHECK (role = 'syncing' OR (pruning_boundary <= floor AND floor < size))
);
CREATE SEQUENCE qmdb.databases_id_seq AS integer OWNED BY qmdb.databases.id;
ALTER TABLE qmdb.databases ALTER COLUMN id SET DEFAULT nextval('qmdb.databases_id_seq');

-- The journal: operations in their commonware encoding as stored (and
-- hashed into the MMR), laid end to end. A row holds the operations of
-- [loc, loc + n) within one window of 120 locations ([120k, 120k + 120)),
-- at most 8000 bytes of them unless one operation is larger, so location L
-- is in the last row starting in [L - L % 120, L]. Rows are written once
-- (a commit adds rows); pruning rewrites the row at the boundary.
-- qmdb.operations() and qmdb.split_operations() read it one row per
-- operation. Rows stay in their heap page (toast_tuple_target) and are
-- never compressed (hashes do not compress).
CREATE TABLE qmdb.journal (
	db_id integer NOT NULL,
	loc bigint NOT NULL,
	ops bytea NOT NULL,
	PRIMARY KEY (db_id, loc)
) WITH (toast_tuple_target = 8160);
ALTER TABLE qmdb.journal ALTER COLUMN ops SET STORAGE EXTERNAL;

-- MMR node digests, 32 consecutive positions per row: position p is at
-- byte 32 * (p % 32) of row p / 32. Appends rewrite only the last row.
CREATE TABLE qmdb.nodes (
	db_id integer NOT NULL,
	chunk bigint NOT NULL,
	digests bytea NOT NULL,
	PRIMARY KEY (db_id, chunk)
);

-- Digests kept after pruning: the peaks of the tree at the pruning boundary.
CREATE TABLE qmdb.pins (
	db_id integer NOT NULL,
	pos bigint NOT NULL,
	digest bytea NOT NULL CHECK (length(digest) = 32),
	PRIMARY KEY (db_id, pos)
);

-- Live keys: each key's current value and the location of its Update.
-- One partition per database, qmdb.state_<id>, made with the database: a
-- synced state is loaded, then its index written in one pass from keys
-- sorted in memory (or built in one sort), before it is attached; and
-- dropping a database drops its partition. Each partition
-- has its own primary key (key) and fillfactor 80: only the key is indexed,
-- so moving a key (a new loc) is a HOT update. The parent has no index, so
-- pg_dump's partitions restore under the extension's parent as they are.
CREATE TABLE qmdb.state (
	db_id integer NOT NULL,
	key bytea NOT NULL,
	loc bigint NOT NULL,
	value bytea NOT NULL
) PARTITION BY LIST (db_id);

-- The activity bitmap (upstream's): bit loc is set iff loc holds some key's
-- current Update, or the last commit. 8192 locations per row, bit i of row
-- c is bit (i % 8) of byte i / 8 for location 8192 * c + i. The floor scan
-- reads it instead of an index on state.loc.
CREATE TABLE qmdb.bitmap (
	db_id integer NOT NULL,
	chunk bigint NOT NULL,
	bits bytea NOT NULL,
	PRIMARY KEY (db_id, chunk)
);

-- pg_dump keeps the rows of these tables (they are data, not extension objects).
SELECT pg_catalog.pg_extension_config_dump('qmdb.databases', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.databases_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.journal', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.nodes', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.pins', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.bitmap', '');

REVOKE ALL ON qmdb.databases, qmdb.journal, qmdb.nodes, qmdb.pins, qmdb.state, qmdb.bitmap FROM PUBLIC;
-- The catalog is harmless to read (names, sizes, roots).
GRANT SELECT ON qmdb.databases TO PUBLIC;

-- Functions below run as the extension owner (SECURITY DEFINER, pinned
-- search_path) and are reached only through EXECUTE grants.

CREATE FUNCTION qmdb.create_database(name text, encoding text DEFAULT 'variable',
	key_size integer DEFAULT NULL, value_size integer DEFAULT NULL)
	RETURNS TABLE (root bytea, size bigint, floor bigint)
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_create_database';

CREATE FUNCTION qmdb.drop_database(name text) RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_drop_database';

CREATE FUNCTION qmdb.write(db text, key bytea, value bytea) RETURNS void
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_write';

CREATE FUNCTION qmdb.commit(db text, metadata bytea DEFAULT NULL)
	RETURNS TABLE (root bytea, size bigint, floor bigint)
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_commit';

CREATE FUNCTION qmdb.apply_batch(db text, keys bytea[], vals bytea[], metadata bytea DEFAULT NULL)
	RETURNS TABLE (root bytea, size bigint, floor bigint)
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_apply_batch';

CREATE FUNCTION qmdb.prune(db text, loc bigint) RETURNS bigint
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_prune';

-- Reading.

-- The id of database `db`, or an undefined_object error naming it.
CREATE FUNCTION qmdb.database_id(db text) RETURNS integer
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_id integer;
BEGIN
	SELECT d.id INTO v_id FROM qmdb.databases d WHERE d.name = db;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'database "%" does not exist', db USING ERRCODE = 'undefined_object';
	END IF;
	RETURN v_id;
END $$;

CREATE FUNCTION qmdb.get(db text, key bytea) RETURNS bytea
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_id integer := qmdb.database_id(db);
	v_value bytea;
BEGIN
	IF key IS NULL THEN
		RAISE EXCEPTION 'key must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT s.value INTO v_value FROM qmdb.state s WHERE s.db_id = v_id AND s.key = get.key;
	RETURN v_value;
END $$;

CREATE FUNCTION qmdb.entries(db text) RETURNS TABLE (key bytea, value bytea, loc bigint)
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_id integer := qmdb.database_id(db);
BEGIN
	RETURN QUERY SELECT s.key, s.value, s.loc FROM qmdb.state s WHERE s.db_id = v_id ORDER BY s.key;
END $$;

CREATE FUNCTION qmdb.root(db text) RETURNS bytea
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT d.root FROM qmdb.databases d WHERE d.id = qmdb.database_id(db) $$;

-- The canonical sync target: [floor, size).
CREATE FUNCTION qmdb.target(db text, OUT root bytea, OUT range_start bigint, OUT range_end bigint)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT d.root, d.floor, d.size FROM qmdb.databases d WHERE d.id = qmdb.database_id(db) $$;

CREATE FUNCTION qmdb.operations(db text, from_loc bigint DEFAULT 0, to_loc bigint DEFAULT NULL)
	RETURNS TABLE (loc bigint, kind text, key bytea, value bytea, floor bigint, metadata bytea, op bytea)
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_operations';

CREATE FUNCTION qmdb.verify(db text)
	RETURNS TABLE (check_name text, ok boolean, detail text)
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_verify';

-- Proofs for applications that check ranges themselves.
CREATE FUNCTION qmdb.proof(db text, size bigint, start bigint, max_ops bigint,
	OUT proof bytea, OUT operations bytea[])
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_proof';

CREATE FUNCTION qmdb.verify_proof(root bytea, proof bytea, start bigint, operations bytea[])
	RETURNS boolean
	LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'qmdb_verify_proof';

-- Serving peers.

CREATE FUNCTION qmdb.hello(db text,
	OUT protocol_version integer, OUT extension_version text, OUT hasher text, OUT family text,
	OUT encoding text, OUT key_size integer, OUT value_size integer, OUT max_key_len integer,
	OUT max_value_len integer, OUT max_ops bigint, OUT max_response_bytes bigint,
	OUT size bigint, OUT floor bigint, OUT pruning_boundary bigint, OUT root bytea)
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_hello';

CREATE FUNCTION qmdb.serve(db text, request bytea) RETURNS bytea
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_serve';

-- Check a peer's response the way the sync engine does.
CREATE FUNCTION qmdb.verify_response(db text, root bytea, request bytea, response bytea) RETURNS boolean
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_verify_response';

-- Nothing that writes, reads state or serves is executable by PUBLIC;
-- grant EXECUTE to the roles that should (docs/security.md).
REVOKE ALL ON FUNCTION qmdb.create_database(text, text, integer, integer), qmdb.drop_database(text),
	qmdb.write(text, bytea, bytea), qmdb.commit(text, bytea), qmdb.apply_batch(text, bytea[], bytea[], bytea),
	qmdb.prune(text, bigint), qmdb.get(text, bytea), qmdb.entries(text), qmdb.root(text), qmdb.target(text),
	qmdb.operations(text, bigint, bigint), qmdb.verify(text), qmdb.proof(text, bigint, bigint, bigint),
	qmdb.hello(text), qmdb.serve(text, bytea)
	FROM PUBLIC;

---------------------------------------------------------------------------
-- State sync from peers
---------------------------------------------------------------------------

-- One row per sync job; the database it fills has role 'syncing' until the
-- job completes. Everything the worker needs to resume lives here.
CREATE TABLE qmdb.sync_jobs (
	db_id integer PRIMARY KEY,
	db_name text NOT NULL UNIQUE,
	peers text[] NOT NULL,                  -- connection strings: never shown (column grants)
	root bytea NOT NULL CHECK (length(root) = 32),
	range_start bigint NOT NULL,
	range_end bigint NOT NULL,
	options jsonb NOT NULL DEFAULT '{}',
	state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'paused', 'complete', 'failed', 'cancelled')),
	phase text NOT NULL DEFAULT 'starting',
	finish_requested boolean NOT NULL DEFAULT false,
	journal_start bigint NOT NULL,
	journal_size bigint NOT NULL,
	pins bytea,                             -- the verified pins of range_start, once known
	outstanding integer NOT NULL DEFAULT 0,
	responses_accepted bigint NOT NULL DEFAULT 0,
	responses_rejected bigint NOT NULL DEFAULT 0,
	target_updates bigint NOT NULL DEFAULT 0,
	bytes_received bigint NOT NULL DEFAULT 0,
	ops_per_sec double precision,
	targets_reached bigint NOT NULL DEFAULT 0,
	last_error text,
	last_error_at timestamptz,
	worker_pid integer,
	created_by name NOT NULL DEFAULT current_user,
	started_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),   -- the worker's last turn
	progress_at timestamptz NOT NULL DEFAULT now(),  -- the journal last grew (or a target was reached)
	completed_at timestamptz,
	CHECK (range_start < range_end)
);

-- Target updates not yet taken by the worker, in order.
CREATE TABLE qmdb.sync_updates (
	seq bigserial PRIMARY KEY,
	db_id integer NOT NULL,
	root bytea NOT NULL CHECK (length(root) = 32),
	range_start bigint NOT NULL,
	range_end bigint NOT NULL
);

-- Per peer of a job: what the worker last saw.
CREATE TABLE qmdb.sync_peer_stats (
	db_id integer NOT NULL,
	peer integer NOT NULL,                  -- index into sync_jobs.peers (1-based)
	conninfo_masked text NOT NULL,
	state text NOT NULL,
	in_flight integer NOT NULL DEFAULT 0,
	ops bigint NOT NULL DEFAULT 0,
	bytes bigint NOT NULL DEFAULT 0,
	latency_ms double precision,
	rejects bigint NOT NULL DEFAULT 0,
	banned_at timestamptz,
	ban_reason text,
	last_error text,
	last_error_at timestamptz,
	PRIMARY KEY (db_id, peer)
);

SELECT pg_catalog.pg_extension_config_dump('qmdb.sync_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.sync_updates', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.sync_updates_seq_seq', '');
REVOKE ALL ON qmdb.sync_jobs, qmdb.sync_updates, qmdb.sync_peer_stats FROM PUBLIC;

CREATE VIEW qmdb.sync_status AS
SELECT j.db_name AS db, j.state, j.phase, j.root AS target_root, j.range_start, j.range_end,
       j.journal_size,
       round(100.0 * (j.journal_size - j.range_start) / greatest(j.range_end - j.range_start, 1), 1) AS percent,
       round(j.ops_per_sec::numeric, 0) AS ops_per_sec,
       CASE WHEN j.ops_per_sec > 0 AND j.state = 'running'
            THEN make_interval(secs => (j.range_end - j.journal_size) / j.ops_per_sec) END AS eta,
       j.outstanding, j.bytes_received, j.responses_accepted, j.responses_rejected, j.target_updates,
       j.targets_reached, j.finish_requested,
       -- No worker turn, or no progress, for a minute while there is work to do.
       -- The state rebuild is one long statement: stalled only if its worker is gone.
       (j.state = 'running' AND CASE WHEN j.phase = 'rebuilding state'
            THEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = j.worker_pid)
            ELSE j.phase NOT LIKE 'at target%' AND least(j.updated_at, j.progress_at) < now() - interval '60 seconds'
        END) AS stalled,
       j.last_error, j.last_error_at, j.worker_pid, j.started_at, j.updated_at, j.completed_at
  FROM qmdb.sync_jobs j;

CREATE VIEW qmdb.sync_peers AS
SELECT j.db_name AS db, p.peer, p.conninfo_masked AS conninfo, p.state, p.in_flight, p.ops, p.bytes,
       round(p.latency_ms::numeric, 1) AS latency_ms, p.rejects, p.banned_at, p.ban_reason,
       p.last_error, p.last_error_at
  FROM qmdb.sync_peer_stats p JOIN qmdb.sync_jobs j USING (db_id);

REVOKE ALL ON qmdb.sync_status, qmdb.sync_peers FROM PUBLIC;
GRANT SELECT ON qmdb.sync_status, qmdb.sync_peers TO pg_monitor;

CREATE FUNCTION qmdb.sync_start(db text, peers text[], root bytea, range_start bigint, range_end bigint,
	options jsonb DEFAULT '{}')
	RETURNS void
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sync_start';

CREATE FUNCTION qmdb.sync_update_target(db text, root bytea, range_start bigint, range_end bigint)
	RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sync_update_target';

CREATE FUNCTION qmdb.sync_finish(db text) RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sync_finish';

CREATE FUNCTION qmdb.sync_pause(db text) RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sync_pause';

CREATE FUNCTION qmdb.sync_resume(db text) RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sync_resume';

CREATE FUNCTION qmdb.sync_cancel(db text, drop_data boolean DEFAULT false) RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sync_cancel';

-- Wait until the job is complete, failed or cancelled (or at its target and
-- waiting for sync_finish); returns its state. NULL timeout waits forever.
CREATE FUNCTION qmdb.sync_wait(db text, timeout interval DEFAULT NULL) RETURNS text
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sync_wait';

-- Ask one peer for its current target. Untrusted: for the operator to look
-- at, never adopted automatically.
CREATE FUNCTION qmdb.fetch_target(conninfo text, db text,
	OUT root bytea, OUT range_start bigint, OUT range_end bigint)
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_fetch_target';

REVOKE ALL ON FUNCTION qmdb.sync_start(text, text[], bytea, bigint, bigint, jsonb),
	qmdb.sync_update_target(text, bytea, bigint, bigint), qmdb.sync_finish(text), qmdb.sync_pause(text),
	qmdb.sync_resume(text), qmdb.sync_cancel(text, boolean), qmdb.sync_wait(text, interval),
	qmdb.fetch_target(text, text)
	FROM PUBLIC;
