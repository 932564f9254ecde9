-- pg_qmdb 0.1.0 -> 0.2.0: peers are hostile, roles gain nothing through a
-- sync (docs/security.md). CREATE EXTENSION runs 0.1.0's script, then this.
\echo Use "ALTER EXTENSION pg_qmdb UPDATE TO '0.2.0'" to load this file. \quit

-- A database being synced claims no root: nothing of it is verified until
-- its sync completes. Reads of it refuse (object_not_in_prerequisite_state).
ALTER TABLE qmdb.databases ALTER COLUMN root DROP NOT NULL;
UPDATE qmdb.databases SET root = NULL WHERE role = 'syncing';
ALTER TABLE qmdb.databases ADD CONSTRAINT databases_root_verified CHECK (root IS NOT NULL OR role = 'syncing');

-- The id of database `db` if it has verified state to read, or an error
-- naming why not.
CREATE FUNCTION qmdb.readable_database_id(db text) RETURNS integer
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_id integer;
	v_role text;
BEGIN
	SELECT d.id, d.role INTO v_id, v_role FROM qmdb.databases d WHERE d.name = db;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'database "%" does not exist', db USING ERRCODE = 'undefined_object';
	END IF;
	IF v_role = 'syncing' THEN
		RAISE EXCEPTION 'database "%" is being synced and has no verified state yet (see qmdb.sync_status)', db
			USING ERRCODE = 'object_not_in_prerequisite_state';
	END IF;
	RETURN v_id;
END $$;

CREATE OR REPLACE FUNCTION qmdb.get(db text, key bytea) RETURNS bytea
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_id integer := qmdb.readable_database_id(db);
	v_value bytea;
BEGIN
	IF key IS NULL THEN
		RAISE EXCEPTION 'key must not be NULL' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT s.value INTO v_value FROM qmdb.state s WHERE s.db_id = v_id AND s.key = get.key;
	RETURN v_value;
END $$;

CREATE OR REPLACE FUNCTION qmdb.entries(db text) RETURNS TABLE (key bytea, value bytea, loc bigint)
	LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_id integer := qmdb.readable_database_id(db);
BEGIN
	RETURN QUERY SELECT s.key, s.value, s.loc FROM qmdb.state s WHERE s.db_id = v_id ORDER BY s.key;
END $$;

CREATE OR REPLACE FUNCTION qmdb.root(db text) RETURNS bytea
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT d.root FROM qmdb.databases d WHERE d.id = qmdb.readable_database_id(db) $$;

CREATE OR REPLACE FUNCTION qmdb.target(db text, OUT root bytea, OUT range_start bigint, OUT range_end bigint)
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT d.root, d.floor, d.size FROM qmdb.databases d WHERE d.id = qmdb.readable_database_id(db) $$;

-- Checking a response is for the roles granted it, like serving.
REVOKE ALL ON FUNCTION qmdb.verify_response(text, bytea, bytea, bytea) FROM PUBLIC;

-- Per peer: failed connections and requests, and notices it sent (dropped).
ALTER TABLE qmdb.sync_peer_stats ADD COLUMN errors bigint NOT NULL DEFAULT 0,
	ADD COLUMN notices bigint NOT NULL DEFAULT 0;

CREATE OR REPLACE VIEW qmdb.sync_peers AS
SELECT j.db_name AS db, p.peer, p.conninfo_masked AS conninfo, p.state, p.in_flight, p.ops, p.bytes,
       round(p.latency_ms::numeric, 1) AS latency_ms, p.rejects, p.banned_at, p.ban_reason,
       p.last_error, p.last_error_at, p.errors, p.notices
  FROM qmdb.sync_peer_stats p JOIN qmdb.sync_jobs j USING (db_id);
