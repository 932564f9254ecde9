-- pg_qmdb 0.2.0 -> 0.3.0: live replicas. sync_start on a replica catches it
-- up; option follow keeps a job following its source (state 'following');
-- readers always see the newest verified commit; qmdb.promote makes a
-- replica a source; sync_status shows the lag.
\echo Use "ALTER EXTENSION pg_qmdb UPDATE TO '0.3.0'" to load this file. \quit

ALTER TABLE qmdb.sync_jobs DROP CONSTRAINT sync_jobs_state_check;
ALTER TABLE qmdb.sync_jobs ADD CONSTRAINT sync_jobs_state_check
	CHECK (state IN ('running', 'following', 'paused', 'complete', 'failed', 'cancelled'));
-- The newest target's end given (sync_start or sync_update_target; NULL:
-- range_end), and when: the
-- worker may hold it back (deferred) or not have taken it yet. And when the
-- replica's published root last advanced.
ALTER TABLE qmdb.sync_jobs ADD COLUMN newest_end bigint, ADD COLUMN target_at timestamptz,
	ADD COLUMN published_at timestamptz;
UPDATE qmdb.sync_jobs SET newest_end = range_end, target_at = started_at;
ALTER TABLE qmdb.sync_jobs ALTER COLUMN target_at SET NOT NULL, ALTER COLUMN target_at SET DEFAULT now();

-- A replica changes only through sync; promote makes it a writable source,
-- ending any job that follows it.
CREATE FUNCTION qmdb.promote(db text) RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_promote';
REVOKE ALL ON FUNCTION qmdb.promote(text) FROM PUBLIC;
COMMENT ON FUNCTION qmdb.promote(text) IS 'Make a replica a writable source (ends a job that follows it)';

-- Lag: what the replica publishes (its verified size and root, readable by
-- get, entries, operations, root, target, serve and hello) against the
-- newest target given.
CREATE OR REPLACE VIEW qmdb.sync_status WITH (security_barrier) AS
SELECT j.db_name AS db, j.state,
       CASE WHEN j.state IN ('running', 'following', 'paused') AND j.home <> qmdb.sync_home()
            THEN 'restored: waiting for qmdb.sync_resume' ELSE j.phase END AS phase, j.root AS target_root, j.range_start, j.range_end,
       j.journal_size,
       round(100.0 * (j.journal_size - j.range_start) / greatest(j.range_end - j.range_start, 1), 1) AS percent,
       round(j.ops_per_sec::numeric, 0) AS ops_per_sec,
       CASE WHEN j.ops_per_sec > 0 AND j.state IN ('running', 'following') AND w.pid IS NOT NULL
            THEN make_interval(secs => round((j.range_end - j.journal_size) / j.ops_per_sec)) END AS eta,
       j.outstanding, j.bytes_received, j.responses_accepted, j.responses_rejected, j.target_updates,
       j.targets_reached, j.finish_requested,
       -- No worker turn, or no progress, for a minute while there is work to do.
       -- The state rebuild is one long statement: stalled only if its worker is gone.
       (j.state IN ('running', 'following') AND CASE WHEN j.phase = 'rebuilding state'
            THEN w.pid IS NULL
            ELSE j.phase NOT LIKE 'at target%' AND j.phase <> 'caught up'
                 AND least(j.updated_at, j.progress_at) < now() - interval '60 seconds'
        END) AS stalled,
       j.last_error, j.last_error_at, w.pid AS worker_pid, j.started_at, j.updated_at, j.completed_at,
       CASE WHEN d.role = 'replica' THEN d.size END AS published_size,
       CASE WHEN d.role = 'replica' THEN d.root END AS published_root,
       j.published_at,
       greatest(coalesce(j.newest_end, j.range_end) - CASE WHEN d.role = 'syncing' THEN j.range_start ELSE d.size END,
                0) AS ops_behind,
       CASE WHEN d.role = 'syncing' OR d.size < coalesce(j.newest_end, j.range_end) THEN now() - j.target_at
            ELSE interval '0' END AS lag
  FROM qmdb.sync_jobs j
  LEFT JOIN qmdb.databases d ON d.name = j.db_name -- the replica readers see (a resync builds another)
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
       CASE WHEN j.state IN ('running', 'following', 'paused') THEN p.in_flight ELSE 0 END AS in_flight, p.ops, p.bytes,
       round(p.latency_ms::numeric, 1) AS latency_ms, p.rejects, p.banned_at, p.ban_reason,
       p.last_error, p.last_error_at, p.errors, p.notices
  FROM qmdb.sync_peer_stats p JOIN qmdb.sync_jobs j USING (db_id)
 WHERE pg_catalog.pg_has_role('pg_monitor', 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                WHERE r.rolname = j.created_by AND pg_catalog.pg_has_role(r.oid, 'USAGE'));

COMMENT ON VIEW qmdb.sync_status IS 'One row per sync job the caller owns (or every job, for pg_monitor): state, phase, progress, eta, stalled, last error, published size and root, ops behind, lag';
COMMENT ON FUNCTION qmdb.sync_start(text, text[], bytea, bigint, bigint, jsonb) IS 'Start syncing a new qmdb database, or catch up a replica, from peers, verified against a trusted target';
COMMENT ON FUNCTION qmdb.sync_finish(text) IS 'Let an explicit_finish sync complete at its current target, or end following';
COMMENT ON FUNCTION qmdb.sync_wait(text, interval) IS 'Wait until a sync completes, fails, stops, pauses, reaches its target or catches up; returns its state';

-- \dx names the schema the extension lives in: qmdb, where a fresh install
-- of 0.3.0 puts it (the control file's schema), not the schema 0.1.0 was
-- created in. And the schema stops being a member of the extension, as in
-- a fresh install, so pg_dump writes CREATE SCHEMA before CREATE EXTENSION
-- ... WITH SCHEMA qmdb (which needs the schema to exist). Both steps are
-- no-ops in a fresh install, whose script includes this one.
DO $$
DECLARE
	ext oid := (SELECT e.oid FROM pg_catalog.pg_extension e WHERE e.extname = 'pg_qmdb');
	nsp oid := (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = 'qmdb');
BEGIN
	IF (SELECT e.extnamespace FROM pg_catalog.pg_extension e WHERE e.oid = ext) <> nsp THEN
		UPDATE pg_catalog.pg_depend SET refobjid = nsp
		 WHERE classid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND objid = ext
		   AND refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass;
		UPDATE pg_catalog.pg_extension SET extnamespace = nsp WHERE oid = ext;
	END IF;
	IF EXISTS (SELECT 1 FROM pg_catalog.pg_depend
	            WHERE classid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND objid = nsp
	              AND refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND refobjid = ext AND deptype = 'e') THEN
		ALTER EXTENSION pg_qmdb DROP SCHEMA qmdb;
	END IF;
END $$;
