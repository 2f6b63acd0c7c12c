-- The catalog explains itself: every function, table, view and sequence of
-- the extension, and every column of its tables and views, has a comment
-- (what \df+ and \d+ show).  A new object without one fails here: add a
-- COMMENT ON in the version's update script.
\set SHOW_CONTEXT never
WITH members AS (
    SELECT d.classid, d.objid
      FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'sync')
       AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_namespace'::regclass)),
objects AS (
    SELECT pg_describe_object(m.classid, m.objid, 0) AS object,
           obj_description(m.objid, m.classid::regclass::name) AS comment
      FROM members m
    UNION ALL
    SELECT pg_describe_object(m.classid, m.objid, a.attnum),
           col_description(m.objid, a.attnum)
      FROM members m
      JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('r', 'v', 'm', 'p')
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
SELECT object AS "without a comment" FROM objects WHERE coalesce(btrim(comment), '') = '' ORDER BY 1;
-- what was checked, so that an extension with no objects cannot pass
SELECT count(*) FILTER (WHERE d.classid = 'pg_proc'::regclass) >= 40 AS functions,
       count(*) FILTER (WHERE c.relkind = 'r') >= 15 AS tables,
       count(*) FILTER (WHERE c.relkind = 'v') >= 6 AS views,
       (SELECT count(*) FROM pg_attribute a JOIN pg_depend e ON e.objid = a.attrelid
                        JOIN pg_class r ON r.oid = a.attrelid AND r.relkind IN ('r', 'v')
         WHERE e.classid = 'pg_class'::regclass AND e.deptype = 'e'
           AND e.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'sync')
           AND a.attnum > 0 AND NOT a.attisdropped) >= 200 AS columns
  FROM pg_depend d
  LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'sync');
-- the API functions say who may call them
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'sync\_%'
   AND obj_description(p.oid, 'pg_proc') !~ '(sync_reader|sync_admin)'
 ORDER BY 1;
-- internal functions say that they are, and who calls them
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'sync'::regnamespace AND p.proname LIKE '\_%'
   AND obj_description(p.oid, 'pg_proc') !~ '^internal.*(used by|called by|calls|the default of|statement trigger)'
 ORDER BY 1;
