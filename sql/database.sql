-- Writing authenticated databases through SQL reproduces the worked examples
-- of spec/qmdb-writer.md §9 byte for byte, in both encodings.
CREATE FUNCTION pg_temp.k(i int8) RETURNS bytea LANGUAGE sql AS $$ SELECT sha256(int8send(i)) $$;
CREATE FUNCTION pg_temp.v(i int8, s int8) RETURNS bytea LANGUAGE sql AS $$ SELECT sha256(int8send(i) || int8send(s + 1)) $$;

SELECT encode(root, 'hex') AS root, size, floor FROM qmdb.create_database('var9', 'variable', 32, 32);
SELECT encode(root, 'hex') AS root, size, floor FROM qmdb.create_database('fix9', 'fixed', 32, 32);

-- §9.1: one batch creating k1 and k0 (call order is irrelevant).
SELECT size, floor, encode(root, 'hex') = '6978611efa0d5a8f1414aecdddc02c511a26dea2cdb5d25d4151054cf04f5c0a' AS root_matches
  FROM qmdb.apply_batch('var9', ARRAY[pg_temp.k(1), pg_temp.k(0)], ARRAY[pg_temp.v(1, 1), pg_temp.v(0, 1)]);
SELECT size, floor, encode(root, 'hex') = '14575ce7f081d0ca85593be8daebc87a009e33e058c7cffbe12aa00677e6c7fb' AS root_matches
  FROM qmdb.apply_batch('fix9', ARRAY[pg_temp.k(1), pg_temp.k(0)], ARRAY[pg_temp.v(1, 1), pg_temp.v(0, 1)]);
SELECT loc, kind, key = pg_temp.k(0) AS is_k0, floor, encode(op, 'hex') AS op
  FROM qmdb.operations('var9') ORDER BY loc;
SELECT loc, kind, length(op) AS bytes, encode(op, 'hex') AS op FROM qmdb.operations('fix9') WHERE kind = 'commit';
-- The SQL decoder agrees with the journal's columns, in both encodings.
SELECT count(*) AS ops, bool_and((d.kind, d.key, d.value, d.floor, d.metadata)
       IS NOT DISTINCT FROM (o.kind, o.key, o.value, o.floor, o.metadata)) AS decoded_alike
  FROM qmdb.operations('var9') o, qmdb.decode_operation(o.op, 'variable', 32, 32) d;
SELECT count(*) AS ops, bool_and((d.kind, d.key, d.value, d.floor, d.metadata)
       IS NOT DISTINCT FROM (o.kind, o.key, o.value, o.floor, o.metadata)) AS decoded_alike
  FROM qmdb.operations('fix9') o, qmdb.decode_operation(o.op, 'fixed', 32, 32) d;

-- §9.2: the edge cases in sequence.
CREATE TABLE batches (n int, keys bytea[], vals bytea[], var_root text, fix_root text);
INSERT INTO batches VALUES
 (2, ARRAY[pg_temp.k(0)], ARRAY[pg_temp.v(0, 2)],
  '83ff7a30cdc0fea909d861782ca086d99f7b808aea22067ea674e490e963020d', '64ded7d11d8cc2bbcc0acacb3211bc2fbf7f780a131a3bb6b96e3a1e9b875698'),
 (3, ARRAY[pg_temp.k(1), pg_temp.k(99)], ARRAY[NULL, NULL]::bytea[],
  'e5b21ecde4910b100aceb1621c8817d226ef8adfb8bb289265a330d5af3f7fc9', 'ff26f362e96a33bdf02da07f6bdb68d7bec193c0932fe6ff618d8d3080eaec6e'),
 (4, ARRAY[]::bytea[], ARRAY[]::bytea[],
  'd5c1de05bce5e3844c66199d080ca3da2397e83fd4a1764f1fe13fb61bd8c312', 'ec4fd100c6c21fb1f4f04284109ae93a6a08c67ad9aeeee1faa449c4249dc5f4'),
 (5, ARRAY[pg_temp.k(0)], ARRAY[NULL]::bytea[],
  'a94afe158c390f4ce348733e7692ed0ea2b32304a032cf077bf98535e6c7c23b', '0f4dd6fdac2c40def42ca7d89a92182acf6d55d1c68d200497da6c2a8b066ba3'),
 (6, ARRAY[pg_temp.k(1), pg_temp.k(1)], ARRAY[pg_temp.v(1, 7), pg_temp.v(1, 8)],
  '23d8862badfe128712e6f975a9b09fa8159816a4ee7b3e1778607517d15c215a', 'b18f7513777ac99d22346d49fb962e5d46d1aa0476dca2a27f9895818f416e29');
SELECT b.n, v.size, v.floor, encode(v.root, 'hex') = b.var_root AS var_matches,
       encode(f.root, 'hex') = b.fix_root AS fix_matches
  FROM batches b,
       LATERAL qmdb.apply_batch('var9', b.keys, b.vals) v,
       LATERAL qmdb.apply_batch('fix9', b.keys, b.vals) f
 ORDER BY b.n;
SELECT loc, kind, floor FROM qmdb.operations('var9', 14) ORDER BY loc;

-- Reads.
SELECT qmdb.get('var9', pg_temp.k(1)) = pg_temp.v(1, 8) AS k1_is_latest, qmdb.get('var9', pg_temp.k(0)) IS NULL AS k0_deleted;
SELECT key = pg_temp.k(1) AS is_k1, value = pg_temp.v(1, 8) AS value_ok, loc FROM qmdb.entries('var9');
SELECT encode(root, 'hex') = '23d8862badfe128712e6f975a9b09fa8159816a4ee7b3e1778607517d15c215a' AS root_ok, range_start, range_end
  FROM qmdb.target('var9');
SELECT qmdb.root('fix9') = decode('b18f7513777ac99d22346d49fb962e5d46d1aa0476dca2a27f9895818f416e29', 'hex') AS fixed_root_ok;
SELECT name, encoding, key_size, value_size, size, floor, pruning_boundary, active_keys, role
  FROM qmdb.databases ORDER BY name;

-- Metadata lands in the commit and only changes the commit bytes.
SELECT size, floor FROM qmdb.apply_batch('var9', ARRAY[pg_temp.k(5)], ARRAY[pg_temp.v(5, 0)], pg_temp.v(9, 9));
SELECT kind, metadata = pg_temp.v(9, 9) AS metadata_ok FROM qmdb.operations('var9') WHERE kind = 'commit' ORDER BY loc DESC LIMIT 1;

-- Variable-length keys and values.
SELECT size FROM qmdb.create_database('vv');
SELECT size, floor FROM qmdb.apply_batch('vv', ARRAY['\x6b6579', '\x7a']::bytea[], ARRAY['\x76', '\x']::bytea[]);
SELECT loc, kind, key, value, encode(op, 'hex') AS op FROM qmdb.operations('vv') WHERE kind = 'update' ORDER BY loc;
SELECT qmdb.get('vv', '\x7a') AS empty_value, qmdb.get('vv', '\x00') AS absent;

-- Pruning: never beyond the floor; the root does not change.
SELECT floor AS vv_floor, encode(root, 'hex') AS vv_root FROM qmdb.databases WHERE name = 'var9' \gset
SELECT qmdb.prune('var9', :vv_floor) = :vv_floor AS boundary_is_floor;
SELECT pruning_boundary = :vv_floor AS pruned, encode(root, 'hex') = :'vv_root' AS root_unchanged
  FROM qmdb.databases WHERE name = 'var9';
SELECT min(loc) = :vv_floor AS first_loc_is_boundary FROM qmdb.operations('var9', :vv_floor);
-- By default, operations start at the boundary; asking below it is an error.
SELECT min(loc) = :vv_floor AS default_starts_at_boundary FROM qmdb.operations('var9');
SELECT regress.err($$SELECT count(*) FROM qmdb.operations('var9', 0)$$) ~ '^QM002' AS below_is_pruned;
-- The journal row holding the boundary was cut to start there.
SELECT min(loc) = :vv_floor AS first_row_at_boundary, :vv_floor % 32 <> 0 AS boundary_inside_a_row
  FROM qmdb.journal WHERE db_id = (SELECT id FROM qmdb.databases WHERE name = 'var9');
SELECT check_name, ok FROM qmdb.verify('var9');
SELECT size, floor FROM qmdb.apply_batch('var9', ARRAY[pg_temp.k(6)], ARRAY[pg_temp.v(6, 0)]);
SELECT check_name, ok FROM qmdb.verify('var9');

-- Errors name our objects, with no PL/pgSQL context line.
SELECT qmdb.get('nope', '\x01');
SELECT qmdb.root('nope');
-- Bad input: each gets a clear error with a SQLSTATE.
SELECT regress.err($$SELECT qmdb.apply_batch('nope', ARRAY['\x01']::bytea[], ARRAY['\x01']::bytea[])$$);
SELECT regress.err($$SELECT qmdb.get('nope', '\x01')$$);
SELECT regress.err($$SELECT qmdb.root('nope')$$);
SELECT regress.err($$SELECT qmdb.create_database('var9')$$);
SELECT regress.err($$SELECT qmdb.create_database('x', 'fixed')$$);
SELECT regress.err($$SELECT qmdb.create_database('x', 'fixed', 32, NULL)$$);
SELECT regress.err($$SELECT qmdb.create_database('x', 'packed')$$);
SELECT regress.err($$SELECT qmdb.create_database('x', 'variable', 0)$$);
SELECT regress.err($$SELECT qmdb.create_database(NULL)$$);
SELECT regress.err($$SELECT qmdb.create_database('')$$);
SELECT regress.err($$SELECT qmdb.apply_batch('fix9', ARRAY['\x01']::bytea[], ARRAY[pg_temp.v(1, 1)])$$);
SELECT regress.err($$SELECT qmdb.apply_batch('fix9', ARRAY[pg_temp.k(1)], ARRAY['\x01']::bytea[])$$);
SELECT regress.err($$SELECT qmdb.apply_batch('fix9', ARRAY[pg_temp.k(1)], ARRAY[pg_temp.v(1, 1)], '\x01')$$);
SELECT regress.err($$SELECT qmdb.apply_batch('fix9', ARRAY[NULL]::bytea[], ARRAY[pg_temp.v(1, 1)])$$);
SELECT regress.err($$SELECT qmdb.apply_batch('fix9', ARRAY[pg_temp.k(1)], ARRAY[]::bytea[])$$);
SELECT regress.err($$SELECT qmdb.apply_batch('fix9', NULL, ARRAY[]::bytea[])$$);
SELECT regress.err($$SELECT qmdb.apply_batch('fix9', ARRAY[ARRAY[pg_temp.k(1)]], ARRAY[ARRAY[pg_temp.k(1)]])$$);
SELECT regress.err($$SELECT qmdb.apply_batch('vv', ARRAY[decode(repeat('00', 1025), 'hex')], ARRAY['\x01']::bytea[])$$);
SELECT regress.err($$SELECT qmdb.write('fix9', NULL, '\x01')$$);
SELECT regress.err($$SELECT qmdb.write('fix9', '\x01', NULL)$$);
SELECT regress.err($$SELECT qmdb.prune('fix9', 10000)$$);
SELECT regress.err($$SELECT qmdb.prune('fix9', -1)$$);
SELECT regress.err($$SELECT * FROM qmdb.operations('var9', 0)$$);
-- Nothing above wrote anything.
SELECT name, size FROM qmdb.databases ORDER BY name;

-- Batches in one REPEATABLE READ transaction: each later batch finds the
-- keys the earlier ones wrote (the state probe sees this transaction's
-- writes), so the roots equal those of the same batches one by one.
SELECT size FROM qmdb.create_database('rr1', 'fixed', 32, 32);
SELECT size FROM qmdb.create_database('rr2', 'fixed', 32, 32);
SELECT count(*) FROM qmdb.apply_batch('rr1', ARRAY[pg_temp.k(1), pg_temp.k(2)], ARRAY[pg_temp.v(1, 1), pg_temp.v(2, 1)]);
SELECT count(*) FROM qmdb.apply_batch('rr1', ARRAY[pg_temp.k(1), pg_temp.k(2)], ARRAY[pg_temp.v(1, 2), NULL]);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM qmdb.apply_batch('rr2', ARRAY[pg_temp.k(1), pg_temp.k(2)], ARRAY[pg_temp.v(1, 1), pg_temp.v(2, 1)]);
SELECT count(*) FROM qmdb.apply_batch('rr2', ARRAY[pg_temp.k(1), pg_temp.k(2)], ARRAY[pg_temp.v(1, 2), NULL]);
COMMIT;
SELECT a.size = b.size AS same_size, a.root = b.root AS same_root, a.active_keys, b.active_keys
  FROM qmdb.databases a, qmdb.databases b WHERE a.name = 'rr1' AND b.name = 'rr2';
SELECT qmdb.drop_database('rr1'), qmdb.drop_database('rr2');

-- Dropping removes every row.
SELECT qmdb.drop_database('vv');
SELECT regress.err($$SELECT qmdb.drop_database('vv')$$);
SELECT (SELECT count(*) FROM qmdb.journal j WHERE NOT EXISTS (SELECT 1 FROM qmdb.databases d WHERE d.id = j.db_id)) AS orphan_journal,
       (SELECT count(*) FROM qmdb.nodes n WHERE NOT EXISTS (SELECT 1 FROM qmdb.databases d WHERE d.id = n.db_id)) AS orphan_nodes;
