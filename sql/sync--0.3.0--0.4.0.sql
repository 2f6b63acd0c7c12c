-- sync 0.3.0 -> 0.4.0: streams.
--
-- Every realtime subscription of a source now shares the source's one
-- stream connection (the "sync streamer" worker; nothing to migrate: it
-- lives in shared memory).  What users see of it here: sync_status() gains
-- a last column, reconnects, the times a stream carrying the subscription
-- was lost or renewed since sync started.  The 14 columns before it are
-- unchanged, so queries that name them, or read them by position, go on
-- working.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.4.0'" to load this file. \quit

DROP FUNCTION @extschema@.sync_status();

CREATE FUNCTION @extschema@.sync_status()
RETURNS TABLE(source text, symbol text, dataset text, bar_interval interval,
              phase text, worker_pid integer, synced_through timestamptz,
              backfill_progress real, lag interval,
              rows_stored bigint, rows_rejected bigint,
              last_error text, last_error_at timestamptz, retry_at timestamptz,
              reconnects bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT src.name, s.symbol, s.dataset,
           CASE WHEN s.dataset = 'bars' THEN s.bar_interval END,
           CASE WHEN s.state = 'error' THEN 'error'
                WHEN w.phase IS NOT NULL THEN w.phase
                WHEN sync._supervisor_pid() IS NOT NULL THEN 'pending'
                ELSE 'stopped' END,
           w.worker_pid,
           s.synced_through,
           CASE WHEN s.history_from IS NULL THEN NULL
                WHEN s.synced_through IS NULL THEN 0::real
                ELSE least(1, greatest(0,
                       extract(epoch FROM s.synced_through - s.history_from)
                       / nullif(extract(epoch FROM now() - s.history_from), 0)))::real END,
           CASE WHEN w.phase = 'realtime' THEN now() - w.newest_event END,
           s.rows_stored, s.rows_rejected,
           coalesce(w.last_error, s.last_error),
           coalesce(w.last_error_at, s.last_error_at),
           w.retry_at,
           coalesce(m.reconnects, 0)
      FROM sync.subscriptions s
      JOIN sync.sources src ON src.id = s.source_id
      LEFT JOIN sync._worker_status() w ON w.subscription_id = s.id
      LEFT JOIN sync._worker_metrics() m ON m.job_id = s.id
     ORDER BY src.name, s.symbol, s.dataset, s.bar_interval
$$;
COMMENT ON FUNCTION @extschema@.sync_status() IS
    'one row per subscription: phase, progress, lag, rows, last error, next retry, stream reconnects';

REVOKE ALL ON FUNCTION @extschema@.sync_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_status() TO sync_reader;
