-- Signed checkpoints: keys, signing, cosigning, serving, and checking
-- under a k-of-n trust policy.
SELECT count(*) FROM qmdb.create_database('cp', 'fixed', 32, 32);
SELECT count(*) FROM qmdb.apply_batch('cp', ARRAY[sha256('a'), sha256('b')], ARRAY[sha256('1'), sha256('2')]);
-- Go's sumdb/note example key, imported: the same verifier key as Go's.
SELECT qmdb.import_signing_key('cp', 'PeterNeumann',
	substr(decode('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64'), 2)) AS peter;
SELECT qmdb.verifier_key('cp', 'PeterNeumann') AS peter;
SELECT qmdb.create_signing_key('cp', 'example.org/qmdb/second') ~ '^example\.org/qmdb/second\+[0-9a-f]{8}\+A[Q-Za-f]' AS second;
SELECT regress.err($$SELECT qmdb.create_signing_key('cp', 'example.org/qmdb/second')$$);
SELECT regress.err($$SELECT qmdb.create_signing_key('cp', 'has space')$$);
SELECT regress.err($$SELECT qmdb.import_signing_key('cp', 'short', '\x0102')$$);
-- The first checkpoint names its origin; later ones keep it.
SELECT regress.err($$SELECT qmdb.sign_checkpoint('cp')$$);
SELECT qmdb.sign_checkpoint('cp', 'example.org/qmdb/cp', ARRAY['PeterNeumann']) AS note \gset
SELECT split_part(:'note', E'\n', 1) AS origin, split_part(:'note', E'\n', 2) AS size,
       decode(split_part(:'note', E'\n', 3), 'base64') = qmdb.root('cp') AS root_matches,
       split_part(:'note', E'\n', 4) AS range_start, split_part(:'note', E'\n', 6) ~ '^— PeterNeumann x08g' AS signed;
SELECT qmdb.checkpoint('cp') = :'note' AS served;
-- Checked under a policy: the target, and how many trusted keys signed.
SELECT origin, root = qmdb.root('cp') AS root, range_start, range_end, signers
  FROM qmdb.verify_checkpoint(:'note', ARRAY[qmdb.verifier_key('cp', 'PeterNeumann')], 1);
SELECT regress.err(format($$SELECT * FROM qmdb.verify_checkpoint(%L, ARRAY[%L, %L], 2)$$, :'note',
	qmdb.verifier_key('cp', 'PeterNeumann'), qmdb.verifier_key('cp', 'example.org/qmdb/second')));
-- A second signer cosigns: now 2 of 2.
SELECT qmdb.cosign_checkpoint('cp', :'note', ARRAY['example.org/qmdb/second']) AS both \gset
SELECT signers FROM qmdb.verify_checkpoint(:'both', ARRAY[qmdb.verifier_key('cp', 'PeterNeumann'),
	qmdb.verifier_key('cp', 'example.org/qmdb/second')], 2);
-- A tampered note, a malformed one, a bad verifier key, a bad threshold.
SELECT regress.err(format($$SELECT * FROM qmdb.verify_checkpoint(%L, ARRAY[%L], 1)$$,
	replace(:'both', 'example.org/qmdb/cp', 'example.org/qmdb/xx'), qmdb.verifier_key('cp', 'PeterNeumann')));
SELECT regress.err($$SELECT * FROM qmdb.verify_checkpoint('not a note', ARRAY['PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'], 1)$$);
SELECT regress.err($$SELECT * FROM qmdb.verify_checkpoint('x', ARRAY['PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'], 1)$$);
SELECT regress.err($$SELECT * FROM qmdb.verify_checkpoint('x', ARRAY['PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'], 2)$$);
-- Cosigning vouches for this database's own history only.
SELECT count(*) FROM qmdb.create_database('other', 'fixed', 32, 32);
SELECT count(*) FROM qmdb.apply_batch('other', ARRAY[sha256('z'), sha256('y')], ARRAY[sha256('9'), sha256('8')]);
SELECT qmdb.create_signing_key('other', 'example.org/witness') IS NOT NULL AS witness;
SELECT regress.err(format($$SELECT qmdb.cosign_checkpoint('other', %L)$$, :'note'));
-- Keys are their owner's: another role can neither read nor use them.
CREATE ROLE qmdb_signer;
GRANT EXECUTE ON FUNCTION qmdb.sign_checkpoint(text, text, text[]), qmdb.create_signing_key(text, text),
	qmdb.drop_signing_key(text, text) TO qmdb_signer;
SET ROLE qmdb_signer;
SELECT regress.err($$SELECT count(*) FROM qmdb.signing_keys$$);
SELECT regress.err($$SELECT qmdb.sign_checkpoint('cp', NULL, ARRAY['PeterNeumann'])$$);
SELECT regress.err($$SELECT qmdb.sign_checkpoint('cp')$$);
SELECT regress.err($$SELECT qmdb.drop_signing_key('cp', 'PeterNeumann')$$);
SELECT qmdb.create_signing_key('cp', 'example.org/qmdb/signer') IS NOT NULL AS own_key;
SELECT split_part(qmdb.sign_checkpoint('cp'), E'\n', 6) ~ '^— example\.org/qmdb/signer ' AS signed_with_own_key;
RESET ROLE;
SELECT regress.err($$SELECT qmdb.checkpoint('cp')$$) ~ '^ok|^—' AS superuser_reads_checkpoint;
SELECT has_function_privilege('public', 'qmdb.verify_checkpoint(text, text[], integer)', 'EXECUTE') AS verify_public,
       has_function_privilege('public', 'qmdb.checkpoint(text)', 'EXECUTE') AS serve_public;
-- Dropping a database drops its keys and checkpoint.
SELECT qmdb.drop_database('cp');
SELECT qmdb.drop_database('other');
SELECT count(*) AS keys_left FROM qmdb.signing_keys;
SELECT count(*) AS checkpoints_left FROM qmdb.checkpoints;
DROP OWNED BY qmdb_signer;
DROP ROLE qmdb_signer;
