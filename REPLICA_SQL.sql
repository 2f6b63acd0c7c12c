-- Read replicas by logical replication (issue 16; docs/replicas.md).
--
-- For the lead to paste into sql/sync--0.8.0--0.9.0.sql (a section of its
-- own, "Read replicas").  Written so that it also runs by hand as a
-- superuser in a database where sync 0.9.0 minus this section is installed
-- (test/tap/032_replica.pl does that while the functions are missing): only
-- schema-qualified names, no @extschema@.
--
-- A replica is a second cluster with the extension installed and no
-- sync_start(): its tables are fed by a subscription to a publication on
-- the ingesting server.  The publication lists the extension's tables but
-- sync.source_secrets (credentials never leave the server that uses them),
-- bars and trades through their partitioned roots.

-- sync.checked_gaps has no primary key, and the workers UPDATE and DELETE
-- its rows: once it is in a publication, each of those statements would
-- fail ("cannot update table ... because it does not have a replica
-- identity and publishes updates"), and with them the page the worker
-- stores.  The whole old row identifies it instead; the table stays small
-- (a quiet stretch extends its row rather than adding one).
ALTER TABLE sync.checked_gaps REPLICA IDENTITY FULL;

-- The tables a replica receives: every table of the extension but the
-- credentials, and no partition (a partition's rows travel as its
-- partitioned root's, so partitions made later need nothing).
CREATE FUNCTION sync.replica_tables() RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.oid::regclass
      FROM pg_depend d
      JOIN pg_class c ON c.oid = d.objid
     WHERE d.classid = 'pg_class'::regclass
       AND d.refclassid = 'pg_extension'::regclass
       AND d.refobjid = (SELECT e.oid FROM pg_extension e WHERE e.extname = 'sync')
       AND d.deptype = 'e'
       AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition
       AND c.oid <> 'sync.source_secrets'::regclass
     ORDER BY c.relname
$$;
COMMENT ON FUNCTION sync.replica_tables() IS
    'the tables a read replica receives: every table of sync but sync.source_secrets, partitioned tables by their root. See docs/replicas.md';

-- On the ingesting server: make the publication a replica subscribes to,
-- or bring an existing one's table list up to date (after an extension
-- update added tables; then ALTER SUBSCRIPTION ... REFRESH PUBLICATION on
-- the replica).  publish_via_partition_root: changes of every partition,
-- those made later included, are published as changes of sync.bars and
-- sync.trades, which is all the replica has to have.
CREATE FUNCTION sync.publish_for_replicas(publication name DEFAULT 'sync_replica')
RETURNS SETOF regclass
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tables text := (SELECT string_agg(t::text, ', ') FROM sync.replica_tables() t);
    p      pg_publication;
BEGIN
    IF publication IS NULL THEN
        RAISE EXCEPTION 'publication name must not be NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO p FROM pg_publication x WHERE x.pubname = publication;
    IF NOT FOUND THEN
        EXECUTE format('CREATE PUBLICATION %I FOR TABLE %s WITH (publish_via_partition_root = true)',
                       publication, tables);
    ELSE
        IF p.puballtables THEN
            RAISE EXCEPTION 'publication "%" is FOR ALL TABLES: it would publish sync.source_secrets', publication
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Drop it, or give sync.publish_for_replicas() another name.';
        END IF;
        -- SET TABLE replaces the list, and with it a FOR TABLES IN SCHEMA sync
        EXECUTE format('ALTER PUBLICATION %I SET TABLE %s', publication, tables);
        EXECUTE format('ALTER PUBLICATION %I SET (publish_via_partition_root = true)', publication);
    END IF;
    RETURN QUERY SELECT t FROM sync.replica_tables() t;
END
$$;
COMMENT ON FUNCTION sync.publish_for_replicas(name) IS
    'on the ingesting server: create the publication read replicas subscribe to (or set its tables): sync.replica_tables(), via the partitioned roots; returns its tables. Superuser. See docs/replicas.md';

-- On the replica, once, before CREATE SUBSCRIPTION: CREATE EXTENSION wrote
-- rows of its own (the rollup levels in sync.rollups, the XNYS and XNAS
-- sessions); the subscription's initial copy brings the ingesting server's
-- rows of the same keys and would stop on a duplicate key.  Refuses a
-- database that runs sync or holds data of its own: this is for a fresh
-- CREATE EXTENSION, never for the ingesting server.
--
-- Sequences are not replicated: the replica's stay where CREATE EXTENSION
-- left them, and a row written on the replica itself (sync.apply_retention()
-- run there logs one in sync.job_runs) would take an id the ingesting
-- server hands out too, and the subscription would stop on that duplicate
-- key when the server's row arrives.  So the replica's sequences count down
-- from -1: its own rows never take an id of the server's.
CREATE FUNCTION sync.prepare_replica() RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n   bigint;
    seq record;
BEGIN
    IF sync._supervisor_pid() IS NOT NULL THEN
        RAISE EXCEPTION 'sync is running in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A read replica runs no workers: its tables come from the ingesting server.',
                  HINT = 'Prepare a database where sync_start() was never called.';
    END IF;
    IF EXISTS (SELECT 1 FROM sync.sources) OR EXISTS (SELECT 1 FROM sync.bars)
       OR EXISTS (SELECT 1 FROM sync.trades) OR EXISTS (SELECT 1 FROM sync.rollup_5m) THEN
        RAISE EXCEPTION 'this database holds market data or sources'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'sync.prepare_replica() empties every table a replica receives.',
                  HINT = 'Run it right after CREATE EXTENSION sync, before CREATE SUBSCRIPTION.';
    END IF;
    FOR seq IN
        SELECT d.objid::regclass AS name
          FROM pg_depend d
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
           AND d.deptype = 'a' AND d.refobjid IN (SELECT t FROM sync.replica_tables() t)
           AND (SELECT c.relkind FROM pg_class c WHERE c.oid = d.objid) = 'S'
    LOOP
        EXECUTE format('ALTER SEQUENCE %s INCREMENT BY -1 NO MINVALUE MAXVALUE -1 START WITH -1 RESTART',
                       seq.name);
    END LOOP;
    SELECT count(*) INTO n FROM sync.replica_tables();
    -- sync.source_secrets too, empty as sync.sources is: its key refers to
    -- sync.sources, and TRUNCATE takes a referenced table only with it
    EXECUTE 'TRUNCATE sync.source_secrets, '
            || (SELECT string_agg(t::text, ', ') FROM sync.replica_tables() t);
    RETURN n;
END
$$;
COMMENT ON FUNCTION sync.prepare_replica() IS
    'on a read replica, after CREATE EXTENSION sync and before CREATE SUBSCRIPTION: empty the tables it receives (the rows CREATE EXTENSION wrote would collide with the initial copy) and make their sequences count down from -1 (rows written on the replica itself never take an id of the ingesting server''s); refuses a database that runs sync or holds data; returns how many tables. Superuser. See docs/replicas.md';

REVOKE ALL ON FUNCTION sync.publish_for_replicas(name), sync.prepare_replica() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION sync.replica_tables() TO sync_reader;
