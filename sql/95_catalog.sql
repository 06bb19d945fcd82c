-- The catalog markings that parallel query and Citus rely on: scoring by blob
-- is IMMUTABLE (a function pushed to a shard may not read the registry), every
-- aggregate has a flat (non-internal) state and a combine function, and every
-- function says what it is.
SELECT p.oid::regprocedure AS function, p.provolatile AS volatility, p.proparallel AS parallel
  FROM pg_proc p
 WHERE p.proname = 'cs_predict'
 ORDER BY p.oid::regprocedure::text;
SELECT a.aggfnoid::regprocedure AS aggregate, a.aggtranstype::regtype AS state,
       a.aggcombinefn <> 0 AS has_combine, p.proparallel AS parallel
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
  JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'credit_scoring'
 ORDER BY a.aggfnoid::regprocedure::text;
-- every function and aggregate of the extension has a comment
SELECT count(*) AS without_comment
  FROM pg_proc p
  JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'credit_scoring'
 WHERE obj_description(p.oid, 'pg_proc') IS NULL
   AND p.proname NOT LIKE '%\_trans' AND p.proname NOT LIKE '%\_combine'
   AND p.proname NOT LIKE '%\_final' AND p.proname NOT LIKE '%\_serial' AND p.proname NOT LIKE '%\_deserial';
SELECT p.oid::regprocedure AS missing_comment
  FROM pg_proc p
  JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'credit_scoring'
 WHERE obj_description(p.oid, 'pg_proc') IS NULL
   AND p.proname NOT LIKE '%\_trans' AND p.proname NOT LIKE '%\_combine'
   AND p.proname NOT LIKE '%\_final' AND p.proname NOT LIKE '%\_serial' AND p.proname NOT LIKE '%\_deserial'
 ORDER BY p.oid::regprocedure::text;
-- the registry tables are dumped with the database
SELECT c.relname, c.relkind FROM pg_extension e, unnest(e.extconfig) AS t(oid) JOIN pg_class c ON c.oid = t.oid
 WHERE e.extname = 'credit_scoring' ORDER BY 1;
