-- qmdb.verify recomputes everything from the journal and reports what a
-- superuser's direct edit of the tables broke.
SELECT size FROM qmdb.create_database('tam', 'fixed', 32, 32);
SELECT count(*) FROM (
  SELECT qmdb.apply_batch('tam', ARRAY[sha256(int8send(b))], ARRAY[sha256(int8send(b + 1000))])
    FROM generate_series(1, 20) b) t;
SELECT check_name, ok FROM qmdb.verify('tam');

-- Flip one byte of one journal row (a stored value).
UPDATE qmdb.journal SET op = set_byte(op, 40, get_byte(op, 40) # 1)
 WHERE db_id = (SELECT id FROM qmdb.databases WHERE name = 'tam') AND loc = 30;
SELECT check_name, ok, detail ~ 'differs' AS says_differs FROM qmdb.verify('tam');

-- Put it back; then break the state table instead.
UPDATE qmdb.journal SET op = set_byte(op, 40, get_byte(op, 40) # 1)
 WHERE db_id = (SELECT id FROM qmdb.databases WHERE name = 'tam') AND loc = 30;
UPDATE qmdb.state SET value = sha256('forged')
 WHERE db_id = (SELECT id FROM qmdb.databases WHERE name = 'tam') AND key = sha256(int8send(3));
SELECT check_name, ok FROM qmdb.verify('tam');

-- A journal row that no longer decodes.
UPDATE qmdb.journal SET op = '\xff'
 WHERE db_id = (SELECT id FROM qmdb.databases WHERE name = 'tam') AND loc = 10;
SELECT check_name, ok, detail FROM qmdb.verify('tam');
