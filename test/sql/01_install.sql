-- The extension installs its schema, tables, roles and API.
\set SHOW_CONTEXT never
SELECT extname, extversion FROM pg_extension WHERE extname = 'sync';
SELECT c.relname, c.relkind
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'sync' AND c.relkind IN ('r', 'v', 'p')
 ORDER BY c.relname;
SELECT rolname FROM pg_roles WHERE rolname IN ('sync_admin', 'sync_reader') ORDER BY 1;
SELECT p.proname, pg_get_function_identity_arguments(p.oid) AS args
  FROM pg_proc p
 WHERE p.proname LIKE 'sync\_%' AND p.pronamespace = 'public'::regnamespace
 ORDER BY 1;
-- every SECURITY DEFINER function pins search_path
SELECT p.proname
  FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'sync'
 WHERE p.prosecdef AND NOT EXISTS (
       SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%');
