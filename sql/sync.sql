-- Sync control: validation errors are immediate and clear, and a job that
-- cannot reach its peer shows why in the views (never its password).
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], '\x00', 0, 10)$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 5, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 6, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), -1, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY[]::text[], sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY[NULL]::text[], sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 bogus=1'], sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5, '{"batch": 5}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5, '{"fetch_batch_size": 0}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5, '{"encoding": "fixed"}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5, '{"max_outstanding_requests": "many"}')$$);
SELECT size FROM qmdb.create_database('taken');
SELECT regress.err($$SELECT qmdb.sync_start('taken', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_finish('nope')$$);
SELECT regress.err($$SELECT qmdb.sync_update_target('nope', sha256(''), 0, 6)$$);

-- Without a format in the options, the peers' hello states it: with no peer
-- to answer, sync_start says so.
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1 connect_timeout=2'], sha256(''), 0, 5)$$);
-- A job whose only peer is unreachable: it keeps trying (backoff) and says why.
SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1 user=app password=secret connect_timeout=2'],
                       sha256('root'), 0, 5, '{"fetch_batch_size": 5, "encoding": "variable"}');
SELECT db, state, range_start, range_end, journal_size, percent FROM qmdb.sync_status;
SELECT name, role FROM qmdb.databases WHERE name = 's';
SELECT peer, conninfo FROM qmdb.sync_peers;
-- Until its sync completes, a database claims no root (the target is not
-- verified) and every read of it refuses.
SELECT root IS NULL AS no_root FROM qmdb.databases WHERE name = 's';
SELECT regress.err($$SELECT qmdb.root('s')$$);
SELECT regress.err($$SELECT * FROM qmdb.target('s')$$);
SELECT regress.err($$SELECT qmdb.get('s', '\x01')$$);
SELECT regress.err($$SELECT count(*) FROM qmdb.entries('s')$$);
SELECT regress.err($$SELECT * FROM qmdb.hello('s')$$);
SELECT regress.err($$SELECT qmdb.serve('s', qmdb.encode_request('boundary', 1, 0))$$);
SELECT regress.err($$SELECT count(*) FROM qmdb.operations('s')$$);
SELECT regress.err($$SELECT count(*) FROM qmdb.verify('s')$$);
SELECT regress.err($$SELECT * FROM qmdb.proof('s', 5, 0, 1)$$);
SELECT regress.err($$SELECT qmdb.prune('s', 0)$$);
-- Writing to a database being synced is refused.
SELECT regress.err($$SELECT qmdb.apply_batch('s', ARRAY['\x01']::bytea[], ARRAY['\x02']::bytea[])$$);
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5)$$);
-- Dropping it under its running worker is refused.
SELECT regress.err($$SELECT qmdb.drop_database('s')$$);
-- Targets only move forward.
SELECT regress.err($$SELECT qmdb.sync_update_target('s', sha256('r2'), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_update_target('s', sha256('r2'), 0, 4)$$);
SELECT qmdb.sync_update_target('s', sha256('r2'), 1, 9);
SELECT regress.err($$SELECT qmdb.sync_update_target('s', sha256('r3'), 0, 12)$$);
-- Once every operation is in and the state is being rebuilt, the target is fixed.
BEGIN;
UPDATE qmdb.sync_jobs SET phase = 'rebuilding state' WHERE db_id = qmdb.database_id('s');
SELECT regress.err($$SELECT qmdb.sync_update_target('s', sha256('r3'), 1, 12)$$);
ROLLBACK;
SELECT qmdb.sync_cancel('s');
SELECT qmdb.sync_wait('s', '10 seconds');
SELECT regress.err($$SELECT qmdb.sync_update_target('s', sha256('r4'), 2, 20)$$);
-- worker_pid (and eta) only for a live worker of this job: a recorded pid
-- of something else (after a restart, or from a restored dump) shows NULL.
BEGIN;
UPDATE qmdb.sync_jobs SET worker_pid = 1, ops_per_sec = 100 WHERE db_name = 's';
SELECT worker_pid, eta FROM qmdb.sync_status WHERE db = 's';
ROLLBACK;
-- A stopped job's peers are closed, not ready.
SELECT peer, state, in_flight FROM qmdb.sync_peers WHERE db = 's';
-- Every control function answers on a stopped job: an error that says what
-- can be done, or a notice of what it found; none does nothing silently.
SELECT regress.err($$SELECT qmdb.sync_pause('s')$$);
SELECT regress.err($$SELECT qmdb.sync_finish('s')$$);
SELECT qmdb.sync_cancel('s');
SELECT regress.err($$SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5)$$);
-- A cancelled (or failed) job is retried by sync_resume, from what it verified.
SELECT qmdb.sync_resume('s');
SELECT state FROM qmdb.sync_status WHERE db = 's';
SELECT qmdb.sync_resume('s');
SELECT qmdb.sync_pause('s');
SELECT qmdb.sync_pause('s');
-- A paused job cannot progress: sync_wait says so at once, even without a timeout.
SELECT qmdb.sync_wait('s');
SELECT qmdb.sync_cancel('s');
-- A complete job made a replica: pausing, resuming or cancelling it means nothing.
BEGIN;
UPDATE qmdb.sync_jobs SET state = 'complete' WHERE db_name = 's';
SELECT regress.err($$SELECT qmdb.sync_pause('s')$$);
SELECT regress.err($$SELECT qmdb.sync_resume('s')$$);
SELECT regress.err($$SELECT qmdb.sync_cancel('s')$$);
ROLLBACK;
SELECT qmdb.sync_cancel('s', drop_data => true);
SELECT count(*) AS jobs_left FROM qmdb.sync_status;
-- Dropping the database of a finished job forgets the job: the name can be
-- synced again.
SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256('root'), 0, 5, '{"encoding": "variable"}');
SELECT qmdb.sync_cancel('s');
SELECT qmdb.sync_wait('s', '10 seconds');
SELECT qmdb.drop_database('s');
SELECT count(*) AS jobs_left FROM qmdb.sync_status;
SELECT qmdb.sync_start('s', ARRAY['host=127.0.0.1 port=1'], sha256('root'), 0, 5, '{"encoding": "variable"}');
SELECT qmdb.sync_cancel('s', drop_data => true);
-- Stored connection strings are not readable except by the owner.
CREATE ROLE qmdb_watcher;
GRANT pg_monitor TO qmdb_watcher;
SET ROLE qmdb_watcher;
SELECT count(*) FROM qmdb.sync_status;
SELECT regress.err($$SELECT peers FROM qmdb.sync_jobs$$);
SELECT regress.err($$SELECT qmdb.sync_start('x', ARRAY['host=127.0.0.1'], sha256(''), 0, 5)$$);
RESET ROLE;
DROP ROLE qmdb_watcher;
-- A non-superuser allowed to start syncs must give peers a password.
CREATE ROLE qmdb_syncer;
GRANT EXECUTE ON FUNCTION qmdb.sync_start(text, text[], bytea, bigint, bigint, jsonb) TO qmdb_syncer;
SET ROLE qmdb_syncer;
SELECT regress.err($$SELECT qmdb.sync_start('x', ARRAY['host=127.0.0.1 user=app'], sha256(''), 0, 5)$$);
RESET ROLE;
REVOKE ALL ON FUNCTION qmdb.sync_start(text, text[], bytea, bigint, bigint, jsonb) FROM qmdb_syncer;
DROP ROLE qmdb_syncer;
-- Jobs have owners: only the role that started a sync, a member of that
-- role, or a superuser controls or waits on it.
CREATE ROLE qmdb_alice;
CREATE ROLE qmdb_bob;
CREATE ROLE qmdb_alice_team IN ROLE qmdb_alice;
GRANT EXECUTE ON FUNCTION qmdb.sync_start(text, text[], bytea, bigint, bigint, jsonb),
	qmdb.sync_update_target(text, bytea, bigint, bigint), qmdb.sync_finish(text), qmdb.sync_pause(text),
	qmdb.sync_resume(text), qmdb.sync_cancel(text, boolean), qmdb.sync_wait(text, interval),
	qmdb.fetch_target(text, text)
	TO qmdb_alice, qmdb_bob, qmdb_alice_team;
SET ROLE qmdb_alice;
SELECT qmdb.sync_start('owned', ARRAY['host=127.0.0.1 port=1 user=app password=secret'], sha256('root'), 0, 5,
                       '{"encoding": "variable"}');
RESET ROLE;
-- Each owner sees its own jobs in the views (pg_monitor sees them all).
SET ROLE qmdb_alice_team;
SELECT db, state FROM qmdb.sync_status;
SELECT db, peer, conninfo FROM qmdb.sync_peers;
RESET ROLE;
SET ROLE qmdb_bob;
SELECT count(*) AS bob_sees FROM qmdb.sync_status;
SELECT count(*) AS bob_sees FROM qmdb.sync_peers;
SELECT regress.err($$SELECT qmdb.sync_update_target('owned', sha256('mine'), 0, 9)$$);
SELECT regress.err($$SELECT qmdb.sync_pause('owned')$$);
SELECT regress.err($$SELECT qmdb.sync_resume('owned')$$);
SELECT regress.err($$SELECT qmdb.sync_finish('owned')$$);
SELECT regress.err($$SELECT qmdb.sync_cancel('owned', true)$$);
SELECT regress.err($$SELECT qmdb.sync_wait('owned', '0')$$);
RESET ROLE;
SET ROLE qmdb_alice_team;
SELECT qmdb.sync_pause('owned');
SELECT qmdb.sync_wait('owned', '0');
RESET ROLE;
SELECT qmdb.sync_cancel('owned', true);
-- Limits on what a role with sync rights may ask of peers: at most 32
-- peers, each connection string at most 4096 bytes, and none of this
-- server's credential files or services.
SET ROLE qmdb_alice;
SELECT regress.err($$SELECT qmdb.sync_start('x', array_fill('host=127.0.0.1 password=x'::text, ARRAY[33]), sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('x', ARRAY['host=127.0.0.1 password=x application_name=' || repeat('a', 4100)], sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('x', ARRAY['host=127.0.0.1 password=x passfile=/var/lib/postgresql/.pgpass'], sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT qmdb.sync_start('x', ARRAY['host=127.0.0.1 password=x sslkey=/etc/ssl/private/server.key'], sha256(''), 0, 5)$$);
SELECT regress.err($$SELECT * FROM qmdb.fetch_target('host=127.0.0.1 password=x service=prod', 'd')$$);
RESET ROLE;
SELECT count(*) AS jobs_left FROM qmdb.sync_status;
DROP OWNED BY qmdb_alice, qmdb_bob, qmdb_alice_team; -- their grants
DROP ROLE qmdb_alice_team;
DROP ROLE qmdb_alice;
DROP ROLE qmdb_bob;
SELECT qmdb.drop_database('taken');
-- A replica changes only through sync: writes are refused (as on a hot
-- standby, 25006) until qmdb.promote makes it a source. (A catalog edit
-- stands in for a completed sync here; the integration tests sync.)
SELECT root AS r0 FROM qmdb.create_database('rep', 'fixed', 32, 32) \gset
UPDATE qmdb.databases SET role = 'replica' WHERE name = 'rep';
SELECT regress.err($$SELECT qmdb.write('rep', sha256('k'), sha256('v'))$$);
SELECT regress.err($$SELECT qmdb.apply_batch('rep', ARRAY[sha256('k')], ARRAY[sha256('v')])$$);
SELECT regress.err($$SELECT qmdb.commit('rep')$$);
SELECT qmdb.root('rep') = :'r0'::bytea AS readable;
SELECT regress.err($$SELECT qmdb.sync_start('rep', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 1, '{"encoding": "fixed", "key_size": 32, "value_size": 32}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('rep', ARRAY['host=127.0.0.1 port=1'], sha256(''), 0, 5, '{"encoding": "variable"}')$$);
SELECT qmdb.promote('rep');
SELECT qmdb.promote('rep');
SELECT size FROM qmdb.apply_batch('rep', ARRAY[sha256('k')], ARRAY[sha256('v')]);
SELECT regress.err($$SELECT qmdb.promote('nope')$$);
SELECT qmdb.drop_database('rep');
-- A trust policy (signed checkpoints) is checked before anything is made.
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"follow": true}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"trust": {"keys": [], "origin": "o"}}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"follow": true, "trust": "k"}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"follow": true, "trust": {"keys": ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"]}}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"follow": true, "trust": {"keys": ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"], "origin": "o", "threshold": 2}}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"follow": true, "trust": {"keys": ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TX"], "origin": "o"}}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"follow": true, "trust": {"keys": ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"], "origin": "o", "color": 1}}')$$);
SELECT regress.err($$SELECT qmdb.sync_start('t', ARRAY['host=127.0.0.1 port=1'], NULL, NULL, NULL, '{"follow": true, "encoding": "variable", "trust": {"keys": ["PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"], "origin": "o"}}')$$) ~ '^08001: no peer served a checkpoint' AS no_peer;
SELECT count(*) AS jobs_made FROM qmdb.sync_jobs WHERE db_name = 't';
