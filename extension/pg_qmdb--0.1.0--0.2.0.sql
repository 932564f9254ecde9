-- pg_qmdb 0.1.0 -> 0.2.0: peers are hostile, roles gain nothing through a
-- sync (docs/security.md). CREATE EXTENSION runs 0.1.0's script, then this.
\echo Use "ALTER EXTENSION pg_qmdb UPDATE TO '0.2.0'" to load this file. \quit

-- A database being synced claims no root: nothing of it is verified until
-- its sync completes. Reads of it refuse (object_not_in_prerequisite_state).
ALTER TABLE qmdb.databases ALTER COLUMN root DROP NOT NULL;
UPDATE qmdb.databases SET root = NULL WHERE role = 'syncing';
ALTER TABLE qmdb.databases ADD CONSTRAINT databases_root_verified CHECK (root IS NOT NULL OR role = 'syncing');

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

-- Operations from the oldest one kept (the pruning boundary) by default, so
-- a pruned database or a replica that starts above 0 reads without an error.
CREATE OR REPLACE FUNCTION qmdb.operations(db text, from_loc bigint DEFAULT NULL, to_loc bigint DEFAULT NULL)
	RETURNS TABLE (loc bigint, kind text, key bytea, value bytea, floor bigint, metadata bytea, op bytea)
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_operations';

-- Where a job runs: this cluster (its system identifier) and this database
-- (its oid). A job restored from a dump elsewhere is not at home: nothing
-- starts it until qmdb.sync_resume, which makes it at home here. Hashed:
-- the views call it for any role, and need not show the identifier.
CREATE FUNCTION qmdb.sync_home() RETURNS text
	LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS $$ SELECT pg_catalog.md5(s.system_identifier::text || '/' || d.oid::text)
	      FROM pg_catalog.pg_control_system() s, pg_catalog.pg_database d
	      WHERE d.datname = pg_catalog.current_database() $$;
ALTER TABLE qmdb.sync_jobs ADD COLUMN home text;
UPDATE qmdb.sync_jobs SET home = qmdb.sync_home();
ALTER TABLE qmdb.sync_jobs ALTER COLUMN home SET DEFAULT qmdb.sync_home(), ALTER COLUMN home SET NOT NULL;

-- The views tell the truth, and each job's owner sees its own rows:
-- worker_pid only while that worker lives (in this database), eta only
-- then, and in whole seconds; a stopped job's peers are 'closed', not
-- 'ready'. Rows are those of jobs whose owner the caller is a member of, or
-- every job for pg_monitor (and superusers).
CREATE OR REPLACE VIEW qmdb.sync_status WITH (security_barrier) AS
SELECT j.db_name AS db, j.state,
       CASE WHEN j.state IN ('running', 'paused') AND j.home <> qmdb.sync_home()
            THEN 'restored: waiting for qmdb.sync_resume' ELSE j.phase END AS phase, j.root AS target_root, j.range_start, j.range_end,
       j.journal_size,
       round(100.0 * (j.journal_size - j.range_start) / greatest(j.range_end - j.range_start, 1), 1) AS percent,
       round(j.ops_per_sec::numeric, 0) AS ops_per_sec,
       CASE WHEN j.ops_per_sec > 0 AND j.state = 'running' AND w.pid IS NOT NULL
            THEN make_interval(secs => round((j.range_end - j.journal_size) / j.ops_per_sec)) END AS eta,
       j.outstanding, j.bytes_received, j.responses_accepted, j.responses_rejected, j.target_updates,
       j.targets_reached, j.finish_requested,
       -- No worker turn, or no progress, for a minute while there is work to do.
       -- The state rebuild is one long statement: stalled only if its worker is gone.
       (j.state = 'running' AND CASE WHEN j.phase = 'rebuilding state'
            THEN w.pid IS NULL
            ELSE j.phase NOT LIKE 'at target%' AND least(j.updated_at, j.progress_at) < now() - interval '60 seconds'
        END) AS stalled,
       j.last_error, j.last_error_at, w.pid AS worker_pid, j.started_at, j.updated_at, j.completed_at
  FROM qmdb.sync_jobs j
  LEFT JOIN LATERAL (SELECT a.pid FROM pg_catalog.pg_stat_activity a
                      WHERE a.pid = j.worker_pid AND a.backend_type = 'qmdb sync worker'
                        AND a.datname = pg_catalog.current_database()) w ON true
 WHERE pg_catalog.pg_has_role('pg_monitor', 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname = j.created_by AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

CREATE OR REPLACE VIEW qmdb.sync_peers WITH (security_barrier) AS
SELECT j.db_name AS db, p.peer, p.conninfo_masked AS conninfo,
       CASE WHEN j.state IN ('complete', 'failed', 'cancelled') AND p.state NOT IN ('banned', 'refused')
            THEN 'closed' ELSE p.state END AS state,
       CASE WHEN j.state IN ('running', 'paused') THEN p.in_flight ELSE 0 END AS in_flight, p.ops, p.bytes,
       round(p.latency_ms::numeric, 1) AS latency_ms, p.rejects, p.banned_at, p.ban_reason,
       p.last_error, p.last_error_at, p.errors, p.notices
  FROM qmdb.sync_peer_stats p JOIN qmdb.sync_jobs j USING (db_id)
 WHERE pg_catalog.pg_has_role('pg_monitor', 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname = j.created_by AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

GRANT SELECT ON qmdb.sync_status, qmdb.sync_peers TO PUBLIC;

-- Errors name our objects in our terms.
CREATE OR REPLACE FUNCTION qmdb.database_id(db text) RETURNS integer
	LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	v_id integer;
BEGIN
	SELECT d.id INTO v_id FROM qmdb.databases d WHERE d.name = db;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'qmdb database "%" does not exist', db USING ERRCODE = 'undefined_object';
	END IF;
	RETURN v_id;
END $$;

-- \d+ and \df+ explain every object.
COMMENT ON SCHEMA qmdb IS 'pg_qmdb: authenticated key-value databases (commonware QMDB) and verified state sync';
COMMENT ON TABLE qmdb.databases IS 'One row per qmdb database: format, size, floor, pruning boundary, root (NULL while a first sync runs) and role (source, syncing, replica)';
COMMENT ON TABLE qmdb.journal IS 'Operations in their commonware encoding, laid end to end: a row holds [loc, loc + n) within one 120-location window';
COMMENT ON TABLE qmdb.nodes IS 'MMR node digests, 32 positions per row';
COMMENT ON TABLE qmdb.pins IS 'The digests kept at the pruning boundary (its peaks)';
COMMENT ON TABLE qmdb.state IS 'Live keys: each key''s value and the location of its Update; one partition per database';
COMMENT ON TABLE qmdb.bitmap IS 'The activity bitmap: bit loc set iff loc holds a key''s current Update or the last commit; 8192 locations per row';
COMMENT ON TABLE qmdb.sync_jobs IS 'One row per sync job: target, options, progress, owner (created_by) and home; peers readable by superusers only';
COMMENT ON TABLE qmdb.sync_updates IS 'Target updates queued for a sync worker, in order';
COMMENT ON TABLE qmdb.sync_peer_stats IS 'Per job and peer: what its worker last saw (see qmdb.sync_peers)';
COMMENT ON VIEW qmdb.sync_status IS 'One row per sync job the caller owns (or every job, for pg_monitor): state, phase, progress, eta, stalled, last error';
COMMENT ON VIEW qmdb.sync_peers IS 'One row per peer of each sync job the caller owns (or every job, for pg_monitor): state, traffic, latency, bans, errors';
COMMENT ON FUNCTION qmdb.version() IS 'The version of the loaded pg_qmdb library';
COMMENT ON FUNCTION qmdb.encode_request(text, bigint, bigint, bigint) IS 'A commonware sync Request (boundary or operations), encoded';
COMMENT ON FUNCTION qmdb.decode_request(bytea) IS 'An encoded commonware sync Request, decoded';
COMMENT ON FUNCTION qmdb.encode_target(bytea, bigint, bigint) IS 'A commonware sync Target (root, range), encoded';
COMMENT ON FUNCTION qmdb.decode_target(bytea) IS 'An encoded commonware sync Target, decoded';
COMMENT ON FUNCTION qmdb.decode_operation(bytea, text, integer, integer) IS 'One encoded operation: kind, key, value, floor, metadata';
COMMENT ON FUNCTION qmdb.split_operations(bytea, bigint, text, integer, integer) IS 'A journal row as one row per operation';
COMMENT ON FUNCTION qmdb.create_database(text, text, integer, integer) IS 'Create a qmdb database (variable or fixed encoding); returns its first root';
COMMENT ON FUNCTION qmdb.drop_database(text) IS 'Drop a qmdb database and everything it holds';
COMMENT ON FUNCTION qmdb.write(text, bytea, bytea) IS 'Stage a write (NULL value: delete) for this transaction''s next qmdb.commit';
COMMENT ON FUNCTION qmdb.commit(text, bytea) IS 'Commit the staged writes as one batch; returns the new root, size and floor';
COMMENT ON FUNCTION qmdb.apply_batch(text, bytea[], bytea[], bytea) IS 'Write and commit one batch in one call; returns the new root, size and floor';
COMMENT ON FUNCTION qmdb.prune(text, bigint) IS 'Delete operations below loc (never past the floor); returns the new pruning boundary';
COMMENT ON FUNCTION qmdb.database_id(text) IS 'The id of a qmdb database, or an error naming it';
COMMENT ON FUNCTION qmdb.get(text, bytea) IS 'The current value of a key (NULL if not live)';
COMMENT ON FUNCTION qmdb.entries(text) IS 'Every live key with its value and location, in key order';
COMMENT ON FUNCTION qmdb.root(text) IS 'The root of a qmdb database';
COMMENT ON FUNCTION qmdb.target(text) IS 'The sync target of a qmdb database: root and [floor, size)';
COMMENT ON FUNCTION qmdb.operations(text, bigint, bigint) IS 'Operations in [from_loc, to_loc), decoded (from the pruning boundary by default)';
COMMENT ON FUNCTION qmdb.verify(text) IS 'Recompute the root, nodes, state and bitmap from the journal and compare (bounded memory)';
COMMENT ON FUNCTION qmdb.proof(text, bigint, bigint, bigint) IS 'A range proof of up to max_ops operations from start, against the root at size';
COMMENT ON FUNCTION qmdb.verify_proof(bytea, bytea, bigint, bytea[]) IS 'Check a range proof against a root, client-side';
COMMENT ON FUNCTION qmdb.hello(text) IS 'The handshake a syncing peer reads: protocol, hasher, family, format, limits, size, floor, root';
COMMENT ON FUNCTION qmdb.serve(text, bytea) IS 'Answer one encoded commonware sync Request with an encoded Response';
COMMENT ON FUNCTION qmdb.verify_response(text, bytea, bytea, bytea) IS 'Check a Response to a Request against a root, as the sync engine does';
COMMENT ON FUNCTION qmdb.sync_start(text, text[], bytea, bigint, bigint, jsonb) IS 'Start syncing a new qmdb database from peers, verified against a trusted target';
COMMENT ON FUNCTION qmdb.sync_update_target(text, bytea, bigint, bigint) IS 'Move a sync''s target forward';
COMMENT ON FUNCTION qmdb.sync_finish(text) IS 'Let an explicit_finish sync complete at its current target';
COMMENT ON FUNCTION qmdb.sync_pause(text) IS 'Pause a sync (no new requests)';
COMMENT ON FUNCTION qmdb.sync_resume(text) IS 'Resume a paused sync, retry a failed or cancelled one, or take over one restored from a dump';
COMMENT ON FUNCTION qmdb.sync_cancel(text, boolean) IS 'Stop a sync; with drop_data, forget it and what it fetched';
COMMENT ON FUNCTION qmdb.sync_wait(text, interval) IS 'Wait until a sync completes, fails, stops, pauses or reaches its target; returns its state';
COMMENT ON FUNCTION qmdb.fetch_target(text, text) IS 'Ask one peer for its current target (untrusted: for the operator to look at)';
COMMENT ON FUNCTION qmdb.sync_home() IS 'A hash naming this cluster and database: where a sync job runs';

-- The reads of state in C: they refuse a database still being synced, and
-- their errors read as ours, with no PL/pgSQL context line.
CREATE OR REPLACE FUNCTION qmdb.get(db text, key bytea) RETURNS bytea
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_get';
CREATE OR REPLACE FUNCTION qmdb.entries(db text) RETURNS TABLE (key bytea, value bytea, loc bigint)
	LANGUAGE c STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_entries';
CREATE OR REPLACE FUNCTION qmdb.root(db text) RETURNS bytea
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_root';
CREATE OR REPLACE FUNCTION qmdb.target(db text, OUT root bytea, OUT range_start bigint, OUT range_end bigint)
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_target';
