-- The model blob is validated on load: a damaged blob is an ERROR with
-- SQLSTATE XX001 naming what is wrong, never a crash.
CREATE TABLE blobs AS SELECT blob FROM cs_models WHERE name = 'credit_risk' AND version = 1;
SELECT substr(blob, 1, 4) AS magic, get_byte(blob, 4) AS format_version FROM blobs;

-- truncated at every length up to 3000 bytes (the header, the schema and the
-- model), then at every 97th up to the whole blob minus one (the reference
-- sample, 500 rows x 13 features x 8 bytes: one SQL literal per length)
SELECT count(*) AS truncations,
       count(*) FILTER (WHERE sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)',
                                                   substr(b.blob, 1, n))) LIKE 'XX001:%') AS rejected
  FROM blobs b, generate_series(0, octet_length(b.blob) - 1) n
 WHERE n < 3000 OR n % 97 = 0 OR n = octet_length(b.blob) - 1;

-- one bit flipped, at every 7th byte up to 3000, then at every 211th
SELECT count(*) AS flips,
       count(*) FILTER (WHERE sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)',
                                set_bit(b.blob, n * 8 + n % 8, 1 - get_bit(b.blob, n * 8 + n % 8))))
                        LIKE 'XX001:%') AS rejected
  FROM blobs b, generate_series(0, octet_length(b.blob) - 1, 7) n
 WHERE n < 3000 OR n % 211 = 0;

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
