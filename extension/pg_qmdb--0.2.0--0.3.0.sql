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
-- Signed checkpoints a follower adopts (option trust): the newest adopted
-- note, the newest whose target was reached and checked, and why the newest
-- seen was not adopted. Per peer: the size of its newest good checkpoint,
-- and how many it served that were ignored.
ALTER TABLE qmdb.sync_jobs ADD COLUMN checkpoint_note text, ADD COLUMN checkpoint_verified_note text,
	ADD COLUMN checkpoint_size bigint, ADD COLUMN checkpoint_signers integer, ADD COLUMN checkpoint_at timestamptz,
	ADD COLUMN checkpoint_ignored text;
ALTER TABLE qmdb.sync_peer_stats ADD COLUMN checkpoint_size bigint,
	ADD COLUMN checkpoint_rejects bigint NOT NULL DEFAULT 0;
-- Evidence: two checkpoints trusted keys signed that cannot both be true.
CREATE TABLE qmdb.checkpoint_conflicts (
	id bigserial PRIMARY KEY,
	db_name text NOT NULL,
	first_note text NOT NULL,
	second_note text NOT NULL,
	detail text NOT NULL,
	seen_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('qmdb.checkpoint_conflicts', '');
SELECT pg_catalog.pg_extension_config_dump('qmdb.checkpoint_conflicts_id_seq', '');
REVOKE ALL ON qmdb.checkpoint_conflicts FROM PUBLIC;
GRANT SELECT ON qmdb.checkpoint_conflicts TO pg_monitor;
COMMENT ON TABLE qmdb.checkpoint_conflicts IS 'Evidence: pairs of signed checkpoints that cannot both be true (a split view), kept by the follower that caught them';

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
            ELSE interval '0' END AS lag,
       j.checkpoint_size, j.checkpoint_signers, j.checkpoint_at, j.checkpoint_ignored,
       j.options->'trust' AS trust
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
       p.last_error, p.last_error_at, p.errors, p.notices, p.checkpoint_size, p.checkpoint_rejects
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

-- Signed checkpoints (docs/operations.md#signed-checkpoints). Private keys
-- are readable by no role: no grant on the table, and not a configuration
-- table, so pg_dump leaves them out; only the functions below use them.
CREATE TABLE qmdb.signing_keys (
	db_id integer NOT NULL,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 256 AND name ~ '^[!-*,-~]+$'),
	private_key bytea NOT NULL CHECK (length(private_key) = 32),
	public_key bytea NOT NULL CHECK (length(public_key) = 32),
	owner name NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (db_id, name)
);
REVOKE ALL ON qmdb.signing_keys FROM PUBLIC;
-- The newest checkpoint signed for each database: public, and dumped.
CREATE TABLE qmdb.checkpoints (
	db_id integer PRIMARY KEY,
	origin text NOT NULL,
	size bigint NOT NULL,
	note text NOT NULL,
	signed_at timestamptz NOT NULL DEFAULT now()
);
SELECT pg_catalog.pg_extension_config_dump('qmdb.checkpoints', '');
REVOKE ALL ON qmdb.checkpoints FROM PUBLIC;
GRANT SELECT ON qmdb.checkpoints TO PUBLIC;
COMMENT ON TABLE qmdb.signing_keys IS 'Ed25519 signing keys of source databases; readable by no role, not dumped';
COMMENT ON TABLE qmdb.checkpoints IS 'The newest signed checkpoint (C2SP signed note) of each database';

CREATE FUNCTION qmdb.create_signing_key(db text, name text) RETURNS text
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_create_signing_key';
CREATE FUNCTION qmdb.import_signing_key(db text, name text, private_key bytea) RETURNS text
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_import_signing_key';
CREATE FUNCTION qmdb.verifier_key(db text, name text) RETURNS text
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_verifier_key';
CREATE FUNCTION qmdb.drop_signing_key(db text, name text) RETURNS void
	LANGUAGE c VOLATILE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_drop_signing_key';
CREATE FUNCTION qmdb.sign_checkpoint(db text, origin text DEFAULT NULL, keys text[] DEFAULT NULL) RETURNS text
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_sign_checkpoint';
CREATE FUNCTION qmdb.cosign_checkpoint(db text, note text, keys text[] DEFAULT NULL) RETURNS text
	LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_cosign_checkpoint';
CREATE FUNCTION qmdb.checkpoint(db text) RETURNS text
	LANGUAGE c STABLE STRICT SECURITY DEFINER SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_checkpoint';
CREATE FUNCTION qmdb.verify_checkpoint(note text, keys text[], threshold integer DEFAULT 1,
	OUT origin text, OUT root bytea, OUT range_start bigint, OUT range_end bigint, OUT signers integer)
	LANGUAGE c IMMUTABLE SET search_path = pg_catalog, pg_temp
	AS 'MODULE_PATHNAME', 'qmdb_verify_checkpoint';
-- Keys are for the roles granted them; serving the newest checkpoint is for
-- the roles that serve (like qmdb.serve); checking one is harmless.
REVOKE ALL ON FUNCTION qmdb.create_signing_key(text, text), qmdb.import_signing_key(text, text, bytea),
	qmdb.drop_signing_key(text, text), qmdb.sign_checkpoint(text, text, text[]),
	qmdb.cosign_checkpoint(text, text, text[]), qmdb.checkpoint(text), qmdb.verifier_key(text, text) FROM PUBLIC;
COMMENT ON FUNCTION qmdb.create_signing_key(text, text) IS 'Make an Ed25519 signing key for a database; returns its verifier key';
COMMENT ON FUNCTION qmdb.import_signing_key(text, text, bytea) IS 'Store an existing Ed25519 key (32-byte seed) for a database; returns its verifier key';
COMMENT ON FUNCTION qmdb.verifier_key(text, text) IS 'The verifier key (name+id+key) of a signing key';
COMMENT ON FUNCTION qmdb.drop_signing_key(text, text) IS 'Drop a signing key (its owner, a member, or a superuser)';
COMMENT ON FUNCTION qmdb.sign_checkpoint(text, text, text[]) IS 'Sign the database''s target as a C2SP checkpoint with your keys; kept as its newest checkpoint';
COMMENT ON FUNCTION qmdb.cosign_checkpoint(text, text, text[]) IS 'Add your signatures to a checkpoint this database holds with the same root';
COMMENT ON FUNCTION qmdb.checkpoint(text) IS 'The newest checkpoint signed for a database (for peers)';
COMMENT ON FUNCTION qmdb.verify_checkpoint(text, text[], integer) IS 'A checkpoint''s target, if at least threshold of the verifier keys signed it';
