-- The model blob is validated on load: a damaged blob is an ERROR with
-- SQLSTATE XX001 naming what is wrong, never a crash.
CREATE TABLE blobs AS SELECT blob FROM cs_models WHERE name = 'credit_risk' AND version = 1;
SELECT substr(blob, 1, 4) AS magic, get_byte(blob, 4) AS format_version FROM blobs;

-- truncated at every length from 0 to the whole blob minus one
SELECT count(*) AS truncations,
       count(*) FILTER (WHERE sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)',
                                                   substr(b.blob, 1, n))) LIKE 'XX001:%') AS rejected
  FROM blobs b, generate_series(0, octet_length(b.blob) - 1) n;

-- one bit flipped, at every 7th byte
SELECT count(*) AS flips,
       count(*) FILTER (WHERE sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)',
                                set_bit(b.blob, n * 8 + n % 8, 1 - get_bit(b.blob, n * 8 + n % 8))))
                        LIKE 'XX001:%') AS rejected
  FROM blobs b, generate_series(0, octet_length(b.blob) - 1, 7) n;

-- the messages name the problem
SELECT sqlstate_of($$SELECT cs_predict('\x00'::bytea, '{}'::jsonb)$$);
SELECT sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)', overlay(blob placing 'XXXX' from 1))) FROM blobs;
SELECT sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)', set_byte(blob, 4, 9))) FROM blobs;
SELECT sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)', blob || '\x00'::bytea)) FROM blobs;
SELECT sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)',
                   set_byte(blob, 40, get_byte(blob, 40) # 1))) FROM blobs;

-- a registry row edited by hand: the error names the model and hints the fix
UPDATE cs_models SET blob = substr(blob, 1, 100) WHERE name = 'again';
SELECT cs_predict('again', c.*) FROM credit c LIMIT 1;
DELETE FROM cs_models WHERE name = 'again';
